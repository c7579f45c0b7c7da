"""Gate: refuse a stack that could reach the grading machine, before anything of it runs.

Read from the resolved model (`docker compose config`), so interpolation, env files and merges
cannot hide a setting. A refused submission gets no container, network, volume or build.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from grader.context import Context
from grader.model import Category, Check, Outcome

_NAMESPACES = ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")
_SOCKETS = ("docker.sock", "containerd.sock", "podman.sock")


def _inside(path: str, root: Path) -> bool:
    real = Path(os.path.realpath(path))
    top = Path(os.path.realpath(root))
    return real == top or top in real.parents


def findings(config: dict[str, Any], root: Path) -> list[str]:
    """Every setting that would give a container power over the host, one line each."""
    found: list[str] = []
    for name, svc in (config.get("services") or {}).items():
        where = f"service `{name}`"
        build = svc.get("build") or {}
        if svc.get("privileged") or build.get("privileged"):
            found.append(f"{where}: `privileged: true` gives the container full control of the machine")
        for key in _NAMESPACES:
            value = str(svc.get(key) or "")
            if value == "host" or value.startswith("container:"):
                found.append(f"{where}: `{key}: {value}` shares the machine's (or another container's) namespace")
        if build.get("network") == "host":
            found.append(f"{where}: `build.network: host` runs the build on the machine's network")
        if build.get("context") and "://" not in str(build["context"]) and not _inside(str(build["context"]), root):
            found.append(f"{where}: the build context {build['context']} is outside the repository")
        if svc.get("cap_add"):
            found.append(f"{where}: `cap_add: {', '.join(map(str, svc['cap_add']))}` adds kernel capabilities")
        if svc.get("devices") or svc.get("device_cgroup_rules"):
            found.append(f"{where}: `devices` gives access to the machine's devices")
        for opt in svc.get("security_opt") or []:
            text = str(opt).replace("=", ":")
            if "unconfined" in text or text in ("label:disable",):
                found.append(f"{where}: `security_opt: {opt}` turns off the container's confinement")
        for mount in svc.get("volumes") or []:
            source = str(mount.get("source") or "")
            if mount.get("type") == "bind" and source and not _inside(source, root):
                what = "the Docker socket (full control of the engine)" if source.endswith(_SOCKETS) else source
                found.append(f"{where}: bind mount of {what}: only folders inside the repository may be mounted")
            elif mount.get("type") not in ("bind", "volume", "tmpfs", None):
                found.append(f"{where}: a `{mount.get('type')}` mount of {source}")
    for name, vol in (config.get("volumes") or {}).items():
        opts = vol.get("driver_opts") or {}
        device = str(opts.get("device") or "")
        if device and not _inside(device, root):
            found.append(f"volume `{name}`: driver_opts device {device} is a folder of the machine")
        if vol.get("external"):
            found.append(f"volume `{name}`: `external: true` would use a volume that is not part of the submission")
    for name, net in (config.get("networks") or {}).items():
        if net.get("external") or net.get("driver") == "host":
            found.append(f"network `{name}` is not part of the submission (external or host)")
    for kind in ("secrets", "configs"):
        for name, item in (config.get(kind) or {}).items():
            file = str(item.get("file") or "")
            if file and not _inside(file, root):
                found.append(f"{kind[:-1]} `{name}`: file {file} is outside the repository")
    return found


def _judge(ctx: Context) -> Outcome:
    project = ctx.compose
    found = findings(project.config, ctx.root)
    if found:
        return Outcome.failed(
            "The grader refuses to run this compose file: it asks for access to the grading machine, which the "
            "homework never needs. Remove these settings: " + "; ".join(ctx.relative(f) for f in found) + ".",
        )
    return Outcome.passed("Nothing in the compose file reaches outside its containers.")


def run(ctx: Context) -> Outcome:
    return _judge(ctx).at(ctx.compose.location("services"))


CHECK = Check(
    id="security.policy",
    category=Category.SECURITY,
    title="Safe to run",
    max_points=0,
    run=run,
    requires=("compose.file",),
)
