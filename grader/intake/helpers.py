"""Services that only serve the developer (pgAdmin, adminer, mailhog): the rubric's `helpers` are
neither started nor graded. A course's pgAdmin image may not be pullable on the grading machine,
and it is never the homework: it must not be the reason a run is incomplete."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from grader.intake.project import ComposeProject


def repository(image: str) -> str:
    """`dpage/pgadmin4` from `docker.io/dpage/pgadmin4:8@sha256:...`; `adminer` from `library/adminer`."""
    image = image.split("@", 1)[0].lower()
    slash = image.rfind("/")
    if ":" in image[slash + 1 :]:
        image = image[: image.rfind(":")]
    parts = image.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry host
    if parts[:1] == ["library"]:
        parts = parts[1:]
    return "/".join(parts)


def _matches(name: str, service: dict[str, Any], entries: Iterable[str]) -> bool:
    image = repository(str(service.get("image") or "")) if not service.get("build") else ""
    return any(entry == name or (image and repository(entry) == image) for entry in entries)


def named(services: dict[str, dict[str, Any]], entries: Iterable[str]) -> set[str]:
    """The services the rubric's `helpers` name (by name or image), as written: what
    `grader rubric check --against` leaves out, before any model is resolved."""
    entries = tuple(entries)
    return {n for n, s in services.items() if isinstance(s, dict) and _matches(n, s, entries)}


def _needs(service: dict[str, Any]) -> set[str]:
    """Services another one cannot run without (sharing their network, IPC, PID, UTS or cgroup
    namespace or their volumes, or a legacy link); `depends_on` is only an order, and the grader
    drops edges to a helper."""
    needed: set[str] = set()
    for key in ("network_mode", "ipc", "pid", "uts", "cgroup"):  # namespaces shared with another service
        mode = str(service.get(key) or "")
        if mode.startswith("service:"):
            needed.add(mode.split(":", 1)[1])
    for entry in service.get("volumes_from") or []:
        text = str(entry)
        if not text.startswith("container:"):
            needed.add(text.split(":", 1)[0])
    for link in service.get("links") or []:
        needed.add(str(link).split(":", 1)[0])
    return needed


def left_out(project: ComposeProject, entries: Iterable[str]) -> tuple[str, ...]:
    """The services of the rubric's `helpers` the run does not start: never the API or the
    database, never one a started service shares a network or volumes with."""
    entries = tuple(entries)
    if not entries:
        return ()
    services = project.services
    graded = {project.app_service(), project.db_service()} - {None}
    helpers = {n for n, s in services.items() if _matches(n, s, entries) and n not in graded}
    changed = True
    while changed:  # a kept helper keeps what it needs in turn
        started = set(services) - helpers
        needed = set().union(*(_needs(services[n]) for n in started)) if started else set()
        changed = bool(needed & helpers)
        helpers -= needed
    return tuple(sorted(helpers))


def without(config: dict[str, Any], services: Iterable[str]) -> dict[str, Any]:
    """The model with `services` removed, and the other services' `depends_on` on them."""
    gone = set(services)
    if not gone:
        return config
    kept = {}
    for name, service in (config.get("services") or {}).items():
        if name in gone:
            continue
        depends = service.get("depends_on")
        if isinstance(depends, dict) and gone & set(depends):
            service = {**service, "depends_on": {k: v for k, v in depends.items() if k not in gone}}
        kept[name] = service
    return {**config, "services": kept}
