"""What a submission's compose file says: services, the app, the database, its data directory.

The resolved model always comes from `docker compose config --format json` (compose's own parser:
interpolation, env_file, merge, normalised long syntax); the raw YAML is read only for hints
and line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from grader.messages import msg
from grader.model import Location

# Compose's own precedence when no -f is given, and the override file it merges on top.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
)
POSTGRES_IMAGES = frozenset({"postgres", "postgis", "postgresql"})
LEGACY_PGDATA = "/var/lib/postgresql/data"
V18_VOLUME = "/var/lib/postgresql"
LATEST_POSTGRES_MAJOR = 18
_HOST_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # words of a value: hosts, users, ports
_URL_HOST = re.compile(r"://(?:[^@/\s]*@)?([A-Za-z0-9][A-Za-z0-9_.-]*)")  # `postgres://u:p@db:5432/x` -> db


def find_compose_files(root: Path) -> list[Path]:
    return [root / name for name in COMPOSE_FILES if (root / name).is_file()]


def find_override_file(root: Path) -> Path | None:
    """The override `docker compose up` merges by itself when no -f is given; since the grader
    names its files with -f, it must add this one explicitly to grade what the student runs."""
    return next((root / name for name in OVERRIDE_FILES if (root / name).is_file()), None)


def split_image(image: str) -> tuple[str, str]:
    """("postgres", "15-alpine") from "docker.io/library/postgres:15-alpine@sha256:..."."""
    image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    return name.lower(), tag


def is_postgres_image(image: str) -> bool:
    return split_image(image)[0] in POSTGRES_IMAGES


def postgres_major(image: str) -> int:
    """Major version an official postgres tag stands for; untagged/latest/alpine mean the newest."""
    _, tag = split_image(image)
    match = re.match(r"(\d+)", tag)
    return int(match.group(1)) if match else LATEST_POSTGRES_MAJOR


@dataclass(frozen=True)
class PgLayout:
    major: int
    pgdata: str  # where the server keeps its files
    expected_mount: str  # where the homework's named volume should be mounted
    image_volume: str  # the image's VOLUME: an anonymous volume lands there unless something is mounted

    @property
    def is_18_layout(self) -> bool:
        return self.major >= 18


def postgres_layout(image: str, environment: dict[str, Any]) -> PgLayout:
    """The official image's layout: <=17 keeps data in /var/lib/postgresql/data; 18+ (and untagged)
    in /var/lib/postgresql/<major>/docker with the volume at /var/lib/postgresql."""
    major = postgres_major(image)
    custom = str(environment.get("PGDATA") or "")
    if major >= 18:
        pgdata = custom or f"/var/lib/postgresql/{major}/docker"
        return PgLayout(major, pgdata, V18_VOLUME if covers(V18_VOLUME, pgdata) else pgdata, V18_VOLUME)
    pgdata = custom or LEGACY_PGDATA
    return PgLayout(major, pgdata, LEGACY_PGDATA if covers(LEGACY_PGDATA, pgdata) else pgdata, LEGACY_PGDATA)


def data_mount(layout: PgLayout, mounts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The mount that really holds PGDATA: the deepest one covering it. The image's own VOLUME
    counts as an anonymous mount unless something is mounted exactly there, so a named volume
    on a parent folder (e.g. /var/lib/postgresql for postgres:15) is shadowed and holds nothing."""
    candidates = [m for m in mounts if m.get("target")]
    if not any(m["target"] == layout.image_volume for m in candidates):
        candidates.append({"type": "volume", "source": "", "target": layout.image_volume, "implicit": True})
    holding = [m for m in candidates if covers(str(m["target"]), layout.pgdata)]
    return max(holding, key=lambda m: len(str(m["target"])), default=None)


def legacy_mount(project: ComposeProject) -> bool:
    """The database is PostgreSQL 18+ with a mount at the pre-18 data directory, which the
    official image refuses to start with (compose.volume deducts it; grader.run.verdicts skips what
    fails because of it)."""
    db = project.db_service()
    if db is None:
        return False
    service = project.services[db]
    layout = postgres_layout(str(service.get("image")), project.environment(db))
    mounts = service.get("volumes") or []
    return layout.is_18_layout and any(
        m.get("target") == LEGACY_PGDATA and not covers(LEGACY_PGDATA, layout.pgdata) for m in mounts
    )


def data_not_kept(project: ComposeProject) -> bool:
    """What compose.volume deducts for a database whose data cannot survive `down` + `up`: PGDATA
    on no mount, on an anonymous volume (the image's own VOLUME included: a named volume one level
    above it is shadowed) or on a tmpfs. A bind mount keeps it (compose.volume deducts it for
    other reasons), and so does a named volume."""
    db = project.db_service()
    if db is None or legacy_mount(project):
        return False
    service = project.services[db]
    layout = postgres_layout(str(service.get("image")), project.environment(db))
    holder = data_mount(layout, list(service.get("volumes") or []))
    if holder is None:
        return True
    return holder.get("type") == "tmpfs" or (holder.get("type") == "volume" and not holder.get("source"))


def covers(mount_target: str, path: str) -> bool:
    target, inner = PurePosixPath(mount_target), PurePosixPath(path)
    return inner == target or target in inner.parents


def yaml_line(text: str, *keys: str | int) -> int | None:
    """1-based line of a key path like ("services", "db", "volumes") in a YAML text (an int is a
    list index); the deepest key found when the path stops early; None when the text is not YAML."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in keys:
        if isinstance(key, int):
            if not isinstance(node, yaml.SequenceNode) or key >= len(node.value):
                return line
            node = node.value[key]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            return line
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                line, node = k.start_mark.line + 1, v
                break
        else:
            return line
    return line


@dataclass(frozen=True)
class ComposeProject:
    file: Path
    root: Path
    config: dict[str, Any]  # resolved by `docker compose config --format json`
    text: str  # the file as the student wrote it
    warnings: str = ""  # what compose printed on stderr while resolving
    chosen_app: str | None = None  # the rubric's `app.service`, when the model has that service

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        services = self.config.get("services") or {}
        return dict(services)

    def published_targets(self, service: str) -> list[int]:
        return [int(p["target"]) for p in self.services[service].get("ports") or [] if "target" in p]

    def build_services(self) -> list[str]:
        return [name for name, svc in self.services.items() if svc.get("build")]

    def postgres_services(self) -> list[str]:
        return [
            name
            for name, svc in self.services.items()
            if is_postgres_image(str(svc.get("image") or "")) and not svc.get("build")
        ]

    def connects_to(self, service: str, target: str) -> int:
        """How plainly `service` uses `target`: 3 when its environment gives it as a host
        (`DB_HOST=db`, `postgres://u:p@db:5432/x`), 2 when a value only mentions the name (a user
        may be called `postgres` too), 1 when it only depends on it, else 0."""
        names = {target, *(str(self.services[target].get(k) or "") for k in ("hostname", "container_name"))} - {""}
        env = self.environment(service)
        hosts = {v.strip() for k, v in env.items() if "HOST" in k.upper()}
        hosts |= {h for v in env.values() for h in _URL_HOST.findall(v)}
        if names & hosts:
            return 3
        if any(names & set(_HOST_TOKEN.findall(v)) for v in env.values()):
            return 2
        return 1 if target in (self.services[service].get("depends_on") or {}) else 0

    def app_service(self) -> str | None:
        """The API: a service built from the repo; among several (an API and a `migrate` one-shot
        built from the same Dockerfile), the one that publishes a port, then the one that connects
        to the database; compose's order only breaks ties."""
        if self.chosen_app in self.services:
            return self.chosen_app
        candidates = self.build_services()
        databases = self.postgres_services()

        def rank(name: str) -> tuple[bool, int]:
            return bool(self.published_targets(name)), max((self.connects_to(name, d) for d in databases), default=0)

        return max(candidates, key=rank, default=None)

    def db_service(self) -> str | None:
        """The PostgreSQL service the API uses: with several (a second database, a test one), the
        one the API's settings name, then the one it depends on; compose's order breaks ties."""
        databases = self.postgres_services()
        app = self.app_service()
        if len(databases) <= 1 or app is None:
            return databases[0] if databases else None
        return max(databases, key=lambda d: self.connects_to(app, d))

    def environment(self, service: str) -> dict[str, str]:
        env = self.services[service].get("environment") or {}
        return {str(k): "" if v is None else str(v) for k, v in env.items()}

    def build_paths(self, service: str) -> tuple[Path, Path]:
        """(context dir, Dockerfile path) of a build service, as compose resolved them."""
        build = self.services[service]["build"]
        context = Path(build.get("context") or self.root)
        dockerfile = Path(build.get("dockerfile") or "Dockerfile")
        return context, dockerfile if dockerfile.is_absolute() else context / dockerfile

    def raw(self) -> dict[str, Any]:
        try:
            data = yaml.safe_load(self.text)
        except yaml.YAMLError:
            return {}
        return data if isinstance(data, dict) else {}

    def line_of(self, *keys: str) -> int | None:
        return yaml_line(self.text, *keys)

    def location(self, *keys: str) -> Location:
        return Location(self.file.name, self.line_of(*keys))

    def where(self, *keys: str) -> str:
        """`compose.yaml line 12` (or just the file name) for feedback."""
        line = self.line_of(*keys)
        return msg("where.line", file=self.file.name, line=line) if line else self.file.name
