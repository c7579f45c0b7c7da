"""The security gate: what a submission's compose model may ask of the grading machine.

Decided on compose's own model (`docker compose config`), so YAML tags, interpolation, `extends`
and `include` cannot hide a setting. Every key that names a host path, a host resource, a
container or object outside the run, or an engine-wide name is either

- refused (`findings`): the run builds and starts nothing, and the student reads why; or
- rewritten by the grader's override (`rewrites`): kept harmless, and the student is told.

`Stack.prepare` calls `findings` itself: whatever the check order, nothing of a refused
submission is built or started.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from grader.engine.connect import GRADER_VARIABLES
from grader.intake.dockerfile import MAX_DOCKERFILE_BYTES, parse
from grader.intake.untrusted import inside, is_remote
from grader.messages import msg

MAX_SERVICES = 10  # the homework has 2-3; more than this is refused
_NAMESPACES = ("pid", "ipc", "uts", "userns_mode", "cgroup")
_SOCKETS = ("docker.sock", "containerd.sock", "podman.sock")
# Service keys that reach the machine itself, refused whatever their value.
_HOST_KEYS = {
    "cgroup_parent": "security.cgroup_parent",
    "runtime": "security.runtime",
    "gpus": "security.gpus",
    "sysctls": "security.sysctls",
    "external_links": "security.external_links",
    "credential_spec": "security.credential_spec",
    "provider": "security.provider",
    "models": "security.models",
    "use_api_socket": "security.api_socket",
    "annotations": "security.annotations",
}
_BUILD_KEYS = {"ssh": "security.build_ssh", "entitlements": "security.build_entitlements"}
_NETWORK_MODES = ("none",)  # and `service:<name>`; host, bridge and container: leave the run
_BUILD_NETWORKS = ("default", "none", "bridge")
TMPFS_BUDGET = 256 << 20  # named tmpfs volumes of a run together: RAM outside the services' limits
TMPFS_INODES = 65_536  # files a tmpfs volume may hold (nr_inodes=): empty files take RAM too
_SAFE_SECURITY_OPTS = ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true")

# Rewritten by the grader's override: the service keys reset to compose's defaults (resource
# knobs that fight the grader's limits, or make the kernel spare a container: oom_score_adj
# -1000), and the build keys that write or read engine-wide names.
RESET_SERVICE_KEYS = (
    "pull_policy",
    "oom_score_adj",
    "cpu_shares",
    "cpu_quota",
    "cpu_period",
    "cpu_rt_runtime",
    "cpu_rt_period",
    "cpuset",
    "cpu_count",
    "cpu_percent",
    "blkio_config",
    "mem_reservation",
    "platform",  # a pull of another platform's variant replaces the engine's local tag
)
RESET_BUILD_KEYS = ("tags", "cache_from", "cache_to", "pull", "platforms")


def _truthy(value: Any) -> bool:
    return value not in (None, False, "", [], {}, "false")


def _where(name: str) -> str:
    return msg("security.service", name=name)


def _service_findings(name: str, svc: Mapping[str, Any], root: Path) -> Iterator[str]:
    where = _where(name)
    build = svc.get("build") or {}
    if svc.get("privileged") or build.get("privileged"):
        yield msg("security.privileged", where=where)
    for key in _NAMESPACES:
        value = str(svc.get(key) or "")
        if value == "host" or value.startswith("container:"):
            yield msg("security.namespace", where=where, key=key, value=value)
    mode = str(svc.get("network_mode") or "")
    if mode and mode not in _NETWORK_MODES and not mode.startswith("service:"):
        yield msg("security.network_mode", where=where, value=mode)
    for key, message in _HOST_KEYS.items():
        if _truthy(svc.get(key)):
            yield msg(message, where=where)
    if svc.get("cap_add"):
        yield msg("security.cap_add", where=where, caps=", ".join(map(str, svc["cap_add"])))
    if svc.get("devices") or svc.get("device_cgroup_rules"):
        yield msg("security.devices", where=where)
    if str(svc.get("volume_driver") or "local") != "local":
        yield msg("security.volume_driver", where=where, driver=svc["volume_driver"])
    for opt in svc.get("security_opt") or []:
        if str(opt).strip() not in _SAFE_SECURITY_OPTS:
            yield msg("security.security_opt", where=where, opt=opt)
    for host in [*(svc.get("extra_hosts") or []), *(build.get("extra_hosts") or [])]:
        if "host-gateway" in str(host):
            yield msg("security.host_gateway", where=where, entry=host)
    networks = svc.get("networks") or {}
    for net, attachment in networks.items() if isinstance(networks, dict) else []:
        if (attachment or {}).get("driver_opts"):
            yield msg("security.endpoint_opts", where=where, network=net)
        if (attachment or {}).get("link_local_ips"):
            yield msg("security.fixed_address", where=where, network=net)
    for source in svc.get("volumes_from") or []:
        if str(source).startswith("container:"):
            yield msg("security.volumes_from", where=where, source=source)
    if svc.get("pre_start"):
        yield f"{where}: " + msg("security.container_specs", key="pre_start")
    for hook in [*(svc.get("post_start") or []), *(svc.get("pre_stop") or [])]:
        if isinstance(hook, dict) and hook.get("privileged"):
            yield msg("security.privileged_hook", where=where)
    for mount in svc.get("volumes") or []:
        source = str(mount.get("source") or "")
        if mount.get("type") == "bind" and source and not inside(source, root):
            what = msg("security.socket") if source.endswith(_SOCKETS) else source
            yield msg("security.bind_outside", where=where, what=what)
        elif mount.get("type") not in ("bind", "volume", "tmpfs", None):
            yield msg("security.other_mount", where=where, kind=mount.get("type"), source=source)
        if (mount.get("volume") or {}).get("subpath"):
            yield msg("security.subpath", where=where, target=mount.get("target"))
    for kind in ("env_file", "label_file"):
        for entry in svc.get(kind) or []:
            path = str(entry.get("path") if isinstance(entry, dict) else entry)
            if not inside(root / path, root):
                yield msg("security.outside_service_file", where=where, key=kind, file=path)
    yield from _build_findings(where, build, root)


def _build_findings(where: str, build: Mapping[str, Any], root: Path) -> Iterator[str]:
    if not build:
        return
    network = str(build.get("network") or "default")
    if network not in _BUILD_NETWORKS:
        yield msg("security.build_network", where=where, network=network)
    context = str(build.get("context") or root)
    if is_remote(context):
        # compose or the engine fetches it from the grading machine, where its loopback answers
        yield msg("security.remote_context", where=where, context=context)
    else:
        if not inside(root / context, root):
            yield msg("security.build_context", where=where, context=context)
        dockerfile = build.get("dockerfile")
        if dockerfile and not build.get("dockerfile_inline") and not inside(root / context / str(dockerfile), root):
            yield msg("security.build_dockerfile", where=where, dockerfile=dockerfile)
        else:
            yield from _dockerfile_findings(where, build, root / context / str(dockerfile or "Dockerfile"), root)
    contexts = build.get("additional_contexts") or {}
    for key, value in contexts.items() if isinstance(contexts, dict) else []:
        text = str(value)
        if text.startswith(("docker-image://", "service:")):
            continue  # an image, like a FROM; another service's build
        if is_remote(text):  # URLs, git, oci-layout:// (a folder of the machine)
            yield msg("security.remote_context", where=where, context=f"{key}={text}")
        elif not inside(root / text, root):
            yield msg("security.build_context", where=where, context=f"{key}={text}")
    for key, message in _BUILD_KEYS.items():
        if _truthy(build.get(key)):
            yield msg(message, where=where)


# What a Dockerfile's instructions make the builder fetch or choose on the grading machine.
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
_OWN_PLATFORMS = {"$BUILDPLATFORM", "${BUILDPLATFORM}", "$TARGETPLATFORM", "${TARGETPLATFORM}"}


def _dockerfile_findings(where: str, build: Mapping[str, Any], path: Path, root: Path) -> Iterator[str]:
    """`ADD <url>` (also a git URL, also under ONBUILD) is fetched by the engine on the grading
    machine, where `http://127.0.0.1:…` reaches the machine's own services; `FROM --platform=`
    another platform pulls that variant under the same tag as the machine's own image."""
    text = build.get("dockerfile_inline")
    try:
        if text is None:
            # The builder follows a link (`Dockerfile -> build/real.Dockerfile`): so does the gate.
            # The copy keeps only links inside the repository; one that leaves it reads nothing.
            real = path.resolve()
            if not inside(real, root) or not real.is_file():
                return
            if real.stat().st_size > MAX_DOCKERFILE_BYTES:
                return  # the build check says what is wrong with it
            text = real.read_text(encoding="utf-8", errors="replace")
        instructions = parse(str(text)).instructions
    except (OSError, ValueError):
        return
    for instruction in instructions:
        name, value = instruction.name, instruction.value
        if name == "ONBUILD" and value.split(maxsplit=1)[0].upper() == "ADD":
            name, value = "ADD", value.split(maxsplit=1)[1] if " " in value else ""
        words = value.split()
        if name == "ADD":
            sources = [w for w in words if not w.startswith("--")][:-1]
            for source in (w.strip('[",]') for w in sources):
                # `ADD $U` with `ARG U=http://…`: the builder expands it, the gate cannot see it
                if _URL.match(source) or "$" in source:
                    yield msg("security.add_url", where=where, line=instruction.line, source=source)
        if name == "FROM":
            for word in words:
                if word.lower().startswith("--platform=") and word.split("=", 1)[1] not in _OWN_PLATFORMS:
                    yield msg("security.platform", where=where, line=instruction.line, platform=word.split("=", 1)[1])


def _volume_findings(name: str, vol: Mapping[str, Any], root: Path) -> Iterator[str]:
    if vol.get("external"):
        yield msg("security.external_volume", name=name)
    driver = str(vol.get("driver") or "local")
    if driver != "local":
        yield msg("security.volume_plugin", name=name, driver=driver)
    opts = vol.get("driver_opts") or {}
    if opts and not (_bind_volume(opts, root) or _tmpfs_volume(opts)):
        yield msg("security.volume_opts", name=name, opts=", ".join(f"{k}={v}" for k, v in opts.items()))
    elif opts and _tmpfs_volume(opts) and _tmpfs_size(opts) is None:
        yield msg("security.tmpfs_size", name=name, mb=TMPFS_BUDGET >> 20, inodes=TMPFS_INODES)


def _tmpfs_size(opts: Mapping[str, Any]) -> int | None:
    """A tmpfs volume's `size=` in bytes; None without one (half the machine's memory), as a
    percentage (of the machine's memory too), as 0 (no limit at all, for tmpfs), given twice
    (the kernel takes the last: `size=1m,size=64g`), or without a bounded `nr_inodes` (empty
    files cost kernel memory no container is charged for): its bytes then count the inodes too."""
    options = [o.strip().partition("=") for o in str(opts.get("o") or "").split(",") if o.strip()]
    keys = [key for key, _, _ in options]
    if len(keys) != len(set(keys)):
        return None
    values = {key: value.strip().lower() for key, _, value in options}
    size = re.fullmatch(r"(\d+)([kmg]?)", values.get("size", ""))
    inodes = re.fullmatch(r"\d+", values.get("nr_inodes", ""))
    if not size or int(size.group(1)) == 0 or not inodes or not 0 < int(inodes.group()) <= TMPFS_INODES:
        return None
    # an inode and its directory entry cost about 1 KiB of kernel memory, charged to nobody
    return (int(size.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[size.group(2)]) + int(inodes.group()) * 1024


def _tmpfs_findings(config: Mapping[str, Any]) -> Iterator[str]:
    """Named tmpfs volumes all together within TMPFS_BUDGET. Their pages live outside every
    container's memory limit: the engine mounts the volume, a `restart: always` service refills it
    and each restart gets a fresh memory cgroup, so nothing stops it filling the machine's RAM."""
    sizes = {
        name: _tmpfs_size(opts)
        for name, vol in (config.get("volumes") or {}).items()
        if _tmpfs_volume(opts := (vol or {}).get("driver_opts") or {})
    }
    total = sum(size or 0 for size in sizes.values())
    if total > TMPFS_BUDGET:
        names = ", ".join(f"`{n}`" for n in sizes)
        yield msg("security.tmpfs_budget", names=names, mb=total >> 20, budget=TMPFS_BUDGET >> 20)


def _mount_options(opts: Mapping[str, Any]) -> set[str]:
    return {o.strip().split("=", 1)[0] for o in str(opts.get("o") or "").split(",") if o.strip()}


def _bind_volume(opts: Mapping[str, Any], root: Path) -> bool:
    """The local driver's bind of a folder of the repository: `type: none`, `o: bind`, an
    absolute `device` inside the copy. The kernel ignores the type of a bind (`type: tmpfs,
    o: bind, device: /` mounts the machine's root), and the daemon resolves a relative device
    from its own folder, so nothing else with `bind` passes."""
    device = str(opts.get("device") or "")
    return (
        set(opts) <= {"type", "o", "device"}
        and str(opts.get("type") or "") == "none"
        and _mount_options(opts) <= {"bind", "rbind", "ro", "rw"}
        and bool(_mount_options(opts) & {"bind", "rbind"})
        and device.startswith("/")
        and inside(device, root)
    )


def _tmpfs_volume(opts: Mapping[str, Any]) -> bool:
    """A tmpfs volume with size and mode options only."""
    return (
        set(opts) <= {"type", "o", "device"}
        and str(opts.get("type") or "") == "tmpfs"
        and str(opts.get("device") or "tmpfs") == "tmpfs"
        and _mount_options(opts) <= {"size", "mode", "uid", "gid", "nr_inodes"}
    )


def _network_findings(name: str, net: Mapping[str, Any]) -> Iterator[str]:
    driver = str(net.get("driver") or "bridge")
    if net.get("external") or driver == "host":
        yield msg("security.external_network", name=name)
    elif driver != "bridge":
        yield msg("security.network_driver", name=name, driver=driver)
    if net.get("driver_opts"):
        yield msg("security.network_opts", name=name)
    ipam = net.get("ipam") or {}
    if str(ipam.get("driver") or "default") != "default" or ipam.get("options"):
        yield msg("security.network_ipam", name=name)
    for entry in ipam.get("config") or []:
        yield from _subnet_findings(name, str((entry or {}).get("subnet") or ""))


def _subnet_findings(name: str, subnet: str) -> Iterator[str]:
    """A subnet of the student's choice (tutorials fix one) must be private and must not cover a
    network the machine routes itself (its LAN, a cloud VPC and its DNS resolver): the machine's
    traffic there would go into the student's bridge. Docker checks overlaps with its own networks."""
    if not subnet:
        return
    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return  # compose or the engine says what is wrong with it
    if not network.is_private or network.is_loopback or network.is_link_local:
        yield msg("security.subnet_public", name=name, subnet=subnet)
        return
    for route in machine_networks():
        if network.version == route.version and network.overlaps(route):
            yield msg("security.subnet_overlap", name=name, subnet=subnet, route=route)
            return
    for address in machine_next_hops():
        if address.version == network.version and address in network:
            yield msg("security.subnet_overlap", name=name, subnet=subnet, route=address)
            return


_ROUTES: list[str] = []  # the engine's machine's route table, when the grader runs in a container


def use_routes(table: str) -> None:
    """Judge subnets against this route table (/proc/net/route's text) instead of this process's:
    in the grader's image, the container's routes are not the machine's (grader.engine.networks.
    host_routes asks the engine for them). Once per process: a process grades one submission."""
    _ROUTES[:] = [table]


def _route_table() -> str:
    """/proc/net/route's text: the machine's, as use_routes() gave it, or this process's."""
    return _ROUTES[0] if _ROUTES else Path("/proc/net/route").read_text()


def machine_next_hops() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Addresses the machine reaches through its default route but depends on: its DNS resolvers
    (/etc/resolv.conf, and systemd-resolved's upstream ones) and its gateways. A student's bridge
    over one of them takes the machine's own traffic there (a resolver at 10.255.255.53 answered by
    the student's container)."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    # systemd-resolved: /etc/resolv.conf names 127.0.0.53, the upstream servers are in the other file
    for resolv in (Path("/etc/resolv.conf"), Path("/run/systemd/resolve/resolv.conf")):
        lines: list[str] = []
        with suppress(OSError):
            lines = resolv.read_text().splitlines()
        for line in lines:
            words = line.split()
            if len(words) >= 2 and words[0] == "nameserver":
                with suppress(ValueError):
                    address = ipaddress.ip_address(words[1].split("%")[0])
                    if not address.is_loopback:
                        found.append(address)
    with suppress(OSError):
        table = _route_table()
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 8 and fields[1] == "00000000" and int(fields[2], 16):
                found.append(ipaddress.IPv4Address(int(fields[2], 16).to_bytes(4, "little")))
    return found


def machine_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks this machine routes to directly or through a gateway, without the default
    route and Docker's own bridges (/proc/net/route: little-endian hex)."""
    found = []
    with suppress(OSError):
        table = _route_table()
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 8 or fields[0].startswith(("docker", "br-")):
                continue
            destination = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            if int(mask):
                found.append(ipaddress.IPv4Network(f"{destination}/{mask}", strict=False))
    return found


def _host_sources(config: Mapping[str, Any], root: Path) -> Iterator[tuple[str, str, bool]]:
    """(what, real path, writable) for every folder or file of the copy the engine mounts into a
    container: bind mounts, local volumes with `o: bind`, secret and config files."""
    for name, svc in (config.get("services") or {}).items():
        for mount in svc.get("volumes") or []:
            if mount.get("type") == "bind" and mount.get("source"):
                writable = not mount.get("read_only")
                what = msg("security.bind_source", source=mount["source"], where=_where(name))
                yield what, os.path.realpath(mount["source"]), writable
    for name, vol in (config.get("volumes") or {}).items():
        opts = (vol or {}).get("driver_opts") or {}
        if _bind_volume(opts, root):
            yield f"volume `{name}`", os.path.realpath(str(opts["device"])), "ro" not in _mount_options(opts)
    for kind in ("secrets", "configs"):
        for name, item in (config.get(kind) or {}).items():
            if (item or {}).get("file"):
                yield f"{kind[:-1]} `{name}`", os.path.realpath(root / str(item["file"])), False


def _swappable_sources(config: Mapping[str, Any], root: Path) -> list[str]:
    """A source inside a folder that a container mounts writable: that container can replace it
    with a link to `/` before the engine mounts it (the engine follows links when it starts a
    container, on every restart and on the second `up`), and the other container gets the
    machine's root. Checked on real paths, so links inside the copy cannot hide the nesting."""
    sources = list(_host_sources(config, root))
    found = []
    for what, path, _ in sources:
        for outer, folder, writable in sources:
            if writable and path != folder and path.startswith(folder.rstrip("/") + "/"):
                found.append(msg("security.swappable", what=what, outer=outer))
                break
    return found


def findings(
    config: Mapping[str, Any], root: Path, max_services: int = MAX_SERVICES, variables: Iterable[str] | None = None
) -> list[str]:
    """Every setting of the model that reaches outside the run, one sentence each. `variables`
    are the names of the grader's own environment: a secret or config read from one of them is
    refused."""
    grader_env = set(variables if variables is not None else GRADER_VARIABLES)
    found: list[str] = []
    services: Mapping[str, Any] = config.get("services") or {}
    if len(services) > max_services:
        found.append(msg("security.too_many_services", count=len(services), limit=max_services))
    for name, svc in services.items():
        found += _service_findings(name, svc, root)
    for name, vol in (config.get("volumes") or {}).items():
        found += _volume_findings(name, vol or {}, root)
    found += _tmpfs_findings(config)
    for name, net in (config.get("networks") or {}).items():
        found += _network_findings(name, net or {})
    for kind in ("secrets", "configs"):
        for name, item in (config.get(kind) or {}).items():
            file = str(item.get("file") or "")
            if file and not inside(root / file, root):
                found.append(msg("security.outside_file", kind=kind[:-1], name=name, file=file))
            if item.get("external"):
                found.append(msg("security.external_item", kind=kind[:-1], name=name))
            if item.get("environment") in grader_env:
                found.append(msg("security.grader_variable_item", kind=kind[:-1], name=name, var=item["environment"]))
    found += _swappable_sources(config, root)
    if config.get("jobs"):
        found.append(msg("security.container_specs", key="jobs"))
    if config.get("models"):
        found.append(msg("security.models", where=msg("security.top_level")))
    return found


def rewrites(config: Mapping[str, Any], project: str) -> list[str]:
    """What the grader's override changes that the student wrote, one sentence each (the
    limits, ports and container names it always sets are in docs/security.md, not repeated here)."""
    notes: list[str] = []
    for name, svc in (config.get("services") or {}).items():
        build = svc.get("build") or {}
        if build and svc.get("image") and svc["image"] != f"{project}-{name}":
            notes.append(msg("rewrite.image", service=name, image=svc["image"]))
        keys = [k for k in RESET_SERVICE_KEYS if k in svc] + [f"build.{k}" for k in RESET_BUILD_KEYS if k in build]
        if keys:
            notes.append(msg("rewrite.keys", service=name, keys=", ".join(f"`{k}`" for k in keys)))
    for kind in ("volumes", "networks"):
        for key, item in (config.get(kind) or {}).items():
            given = str((item or {}).get("name") or "")
            if given and given != f"{project}_{key}":
                notes.append(msg(f"rewrite.{kind}", key=key, name=given, scoped=scoped_name(project, key)))
    return notes


def scoped_name(project: str, key: str) -> str:
    """The name a volume or network of the run gets on the engine, whatever the file asks."""
    return f"{project}_{key}"
