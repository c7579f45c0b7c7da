"""The grader's override file: what it rewrites in a stranger's stack so it runs safely beside
others (ports, names, limits, images), and the model compose runs again, frozen after the gate."""

from __future__ import annotations

import json
import re
from typing import Any

from grader.engine.firewall import BRIDGE_OPTION, bridge_name
from grader.engine.limits import Limits
from grader.intake.policy import RESET_BUILD_KEYS, RESET_SERVICE_KEYS, scoped_name

POSTGRES_PORT = 5432
RUN_LABEL = "compose-grader.run"  # on every image a run builds: `grader cleanup` finds them by it


def _scalar(value: Any) -> str:
    return json.dumps(value)  # JSON scalars and flow collections are valid YAML


def render_override(
    config: dict[str, Any],
    project: str,
    db_service: str | None,
    limits: Limits | None = None,
    db_port: int = POSTGRES_PORT,
    isolated: bool = False,
    build_network: str | None = None,
) -> str:
    """An override file that makes a stranger's stack safe to run next to others (what it rewrites
    is listed by grader.intake.policy.rewrites for the student):
    every published port becomes an ephemeral port on 127.0.0.1 (never a public interface, never a
    collision); the database is published the same way so the grader can reach it; fixed
    container names are dropped (kept as network aliases, so other services still reach them by
    that name); built images get a run-specific name so nothing local is
    overwritten and teardown knows what to delete. Every service gets the grader's limits (memory
    without extra swap, CPUs, processes, bounded logs, a short stop grace); the student's own
    limits, replicas and OOM-killer settings are replaced, so a service runs once, inside them.
    `isolated`: every network is `internal` on a bridge named for the run (grader.engine.firewall), and
    nothing is published: the grader reaches the containers at their addresses. `build_network`:
    the network every build step runs on (the grader's, guarded; `network: none` stays none)."""
    limits = limits or Limits()
    lines = ["services:"]
    for name, service in (config.get("services") or {}).items():
        grace = limits.stop_grace_db if name == db_service else limits.stop_grace_app
        log = {"driver": "json-file", "options": {"max-size": limits.log_size, "max-file": "2"}}
        lines += [
            f"  {_scalar(name)}:",
            f"    mem_limit: {_scalar(limits.memory)}",
            f"    memswap_limit: {_scalar(limits.memory)}",
            f"    cpus: {limits.cpus:g}",
            f"    pids_limit: {limits.pids}",
            "    oom_kill_disable: false",
            "    deploy: !reset null",
            "    scale: !reset null",
            f"    logging: !override {_scalar(log)}",
            f"    stop_grace_period: {grace}s",
            # No core dumps: with a piped core_pattern (systemd-coredump, apport) the machine writes
            # and compresses them outside every limit. Merged: the student's other ulimits stay.
            "    ulimits: {core: 0}",
        ]
        lines += [f"    {key}: !reset null" for key in RESET_SERVICE_KEYS if key in service]
        if service.get("build"):
            lines.append(f"    image: {_scalar(built_image_name(project, name))}")
            lines += [
                "    build:",
                *(f"      {key}: !reset null" for key in RESET_BUILD_KEYS if key in service["build"]),
                f"      labels: {{{_scalar(RUN_LABEL)}: {_scalar(project)}}}",  # `grader cleanup` finds it by this
                "      ulimits: {core: 0}",  # build steps too: the daemon's own limit is often infinity
            ]
            if build_network and str(service["build"].get("network") or "default") != "none":
                lines.append(
                    f"      network: {_scalar(build_network)}"
                )  # guarded like the run's (grader.engine.firewall)
        if service.get("container_name"):
            lines.append("    container_name: !reset null")
            # Other containers may reach it by that name (`DB_HOST=products_db`): kept as an alias on
            # each of its networks, which are the run's own.
            if not service.get("network_mode"):
                alias = str(service["container_name"])
                networks = {
                    net: {**(settings or {}), "aliases": [*((settings or {}).get("aliases") or []), alias]}
                    for net, settings in (service.get("networks") or {"default": None}).items()
                }
                lines.append(f"    networks: !override {_scalar(networks)}")
        targets = [(int(p["target"]), p.get("protocol") or "tcp") for p in service.get("ports") or []]
        if name == db_service and (db_port, "tcp") not in targets:
            targets.append((db_port, "tcp"))
        if isolated and service.get("ports"):
            lines.append("    ports: !reset []")  # an internal network publishes nothing
        elif (targets or service.get("ports")) and not isolated:
            ports = [{"target": t, "host_ip": "127.0.0.1", "protocol": proto} for t, proto in dict.fromkeys(targets)]
            lines.append(f"    ports: !override {_scalar(ports)}")
    # Every volume and network gets the run's own name: a `name:` of an object that exists on the
    # engine would otherwise be mounted (and `down --volumes` deletes volumes by name).
    for kind in ("volumes", "networks"):
        keys = list(config.get(kind) or {})
        if keys:
            lines.append(f"{kind}:")
        for key in keys:
            settings: dict[str, Any] = {"name": scoped_name(project, key)}
            if kind == "networks" and isolated:
                settings |= {"internal": True, "driver_opts": {BRIDGE_OPTION: bridge_name(project, key)}}
            lines.append(f"  {_scalar(key)}: {_scalar(settings)}")
    return "\n".join(lines) + "\n"


def db_port(environment: dict[str, str]) -> int:
    """Where PostgreSQL listens inside its container: 5432, or the image's PGPORT."""
    value = environment.get("PGPORT", "").strip()
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses
    return int(value) if re.fullmatch(r"[0-9]{1,5}", value) and 0 < int(value) < 65536 else POSTGRES_PORT


def frozen_model(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved model as compose runs it again: `config --format json` already wrote every
    path absolute, every env file and label file into `environment` and `labels`, and every `$`
    as `$$`; the file references are dropped so nothing is read from the copy a second time."""
    services = {
        name: {k: v for k, v in svc.items() if k not in ("env_file", "label_file")}
        for name, svc in (config.get("services") or {}).items()
    }
    return {**config, "services": services}


def built_image_name(project: str, service: str) -> str:
    return f"{project}-{service}:graded".lower()


def build_network_name(project: str) -> str:
    """The network the run's build steps use: the grader creates it, labelled with the project."""
    return f"{project}_grader-build"
