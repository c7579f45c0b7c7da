"""Gate: refuse a stack that could reach the grading machine, before anything of it runs.

Read from the resolved model (`docker compose config`), so interpolation, env files and merges
cannot hide a setting. A refused submission gets no container, network, volume or build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.context import Context
from grader.messages import msg
from grader.model import Category, Check, Outcome
from grader.stack import Limits
from grader.untrusted import inside

_NAMESPACES = ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")
_SOCKETS = ("docker.sock", "containerd.sock", "podman.sock")


def findings(config: dict[str, Any], root: Path, max_services: int = Limits.services) -> list[str]:
    """Every setting that would give a container power over the host, one line each."""
    found: list[str] = []
    count = len(config.get("services") or {})
    if count > max_services:
        found.append(msg("security.too_many_services", count=count, limit=max_services))
    for name, svc in (config.get("services") or {}).items():
        where = msg("security.service", name=name)
        build = svc.get("build") or {}
        if svc.get("privileged") or build.get("privileged"):
            found.append(msg("security.privileged", where=where))
        for key in _NAMESPACES:
            value = str(svc.get(key) or "")
            if value == "host" or value.startswith("container:"):
                found.append(msg("security.namespace", where=where, key=key, value=value))
        if build.get("network") == "host":
            found.append(msg("security.build_network", where=where))
        if build.get("context") and "://" not in str(build["context"]) and not inside(str(build["context"]), root):
            found.append(msg("security.build_context", where=where, context=build["context"]))
        if svc.get("cap_add"):
            found.append(msg("security.cap_add", where=where, caps=", ".join(map(str, svc["cap_add"]))))
        if svc.get("devices") or svc.get("device_cgroup_rules"):
            found.append(msg("security.devices", where=where))
        for opt in svc.get("security_opt") or []:
            text = str(opt).replace("=", ":")
            if "unconfined" in text or text in ("label:disable",):
                found.append(msg("security.unconfined", where=where, opt=opt))
        for mount in svc.get("volumes") or []:
            source = str(mount.get("source") or "")
            if mount.get("type") == "bind" and source and not inside(source, root):
                what = msg("security.socket") if source.endswith(_SOCKETS) else source
                found.append(msg("security.bind_outside", where=where, what=what))
            elif mount.get("type") not in ("bind", "volume", "tmpfs", None):
                found.append(msg("security.other_mount", where=where, kind=mount.get("type"), source=source))
    for name, vol in (config.get("volumes") or {}).items():
        opts = vol.get("driver_opts") or {}
        device = str(opts.get("device") or "")
        if device and not inside(device, root):
            found.append(msg("security.volume_device", name=name, device=device))
        if vol.get("external"):
            found.append(msg("security.external_volume", name=name))
    for name, net in (config.get("networks") or {}).items():
        if net.get("external") or net.get("driver") == "host":
            found.append(msg("security.external_network", name=name))
    for kind in ("secrets", "configs"):
        for name, item in (config.get(kind) or {}).items():
            file = str(item.get("file") or "")
            if file and not inside(file, root):
                found.append(msg("security.outside_file", kind=kind[:-1], name=name, file=file))
    return found


def _judge(ctx: Context) -> Outcome:
    project = ctx.compose
    found = findings(project.config, ctx.root, ctx.options.limits.services)
    if found:
        return Outcome.failed(msg("security.refused", findings="; ".join(ctx.relative(f) for f in found)))
    return Outcome.passed(msg("security.ok"))


def run(ctx: Context) -> Outcome:
    return _judge(ctx).at(ctx.compose.location("services"))


CHECK = Check(
    id="security.policy",
    category=Category.SECURITY,
    title="title.security.policy",
    max_points=0,
    run=run,
    requires=("compose.file",),
)
