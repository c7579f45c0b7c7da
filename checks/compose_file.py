"""ACTIVIDAD 02: a compose file, found and resolved by compose itself (`docker compose config`)."""

from __future__ import annotations

import difflib
import re

from grader.context import ComposeInvalid, Context
from grader.model import Category, Check, Location, Outcome
from grader.project import COMPOSE_FILES, find_override_file, yaml_line

# Keys of a compose service (Compose Specification), to suggest the one a typo meant.
SERVICE_KEYS = (
    "build",
    "command",
    "container_name",
    "depends_on",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "healthcheck",
    "image",
    "init",
    "labels",
    "networks",
    "ports",
    "restart",
    "volumes",
    "working_dir",
    "profiles",
    "stop_grace_period",
    "user",
    "extra_hosts",
    "logging",
    "deploy",
    "secrets",
    "configs",
)
# The wordings compose versions use for an unknown key of a service.
_UNKNOWN = (
    re.compile(r"services\.(?P<service>[\w.-]+?)\.(?P<key>[\w-]+) (?:false schema|additional propert)"),
    re.compile(r"services\.(?P<service>[\w.-]+) additional properties? '(?P<key>[\w-]+)'", re.IGNORECASE),
    re.compile(r"services\.(?P<service>[\w.-]+) additional property (?P<key>[\w-]+) is not allowed", re.IGNORECASE),
)


def unknown_key(message: str) -> tuple[str, str] | None:
    """(service, key) when compose rejects an unknown key of a service."""
    match = next(filter(None, (pattern.search(message) for pattern in _UNKNOWN)), None)
    return (match.group("service"), match.group("key")) if match else None


def unknown_key_advice(message: str) -> str | None:
    """compose says `services.api.enviroment false schema`; a beginner needs `did you mean ...`."""
    found = unknown_key(message)
    if found is None:
        return None
    service, key = found
    close = difflib.get_close_matches(key, SERVICE_KEYS, n=1)
    guess = f" Did you mean `{close[0]}`?" if close else ""
    return f"`{key}` (in service `{service}`) is not a compose key.{guess}"


def _judge(ctx: Context) -> Outcome:
    if not ctx.compose_files:
        names = ", ".join(f"`{n}`" for n in COMPOSE_FILES)
        listing = ", ".join(sorted(p.name for p in ctx.root.iterdir())[:30])
        return Outcome.failed(
            f"No compose file at the root of the repository. Create `compose.yaml` (compose looks for {names}) "
            "describing the API and the database.",
            f"Files at the root: {listing}",
        )
    try:
        project = ctx.compose
    except ComposeInvalid as exc:
        name = ctx.compose_files[0].name
        if exc.missing_env_file:
            missing = ctx.relative(exc.missing_env_file)
            return Outcome.failed(
                f"{name} loads `env_file: {missing}`, but `{missing}` is not in the repository, so compose cannot "
                f"start anything. Commit `{missing}` with the values the app needs (for the homework: the "
                "database settings), or put them under `environment:` in the compose file.",
                exc.message,
            )
        return Outcome.failed(
            f"`docker compose config` rejects {name}. {unknown_key_advice(exc.message) or 'Fix the error it reports:'}",
            exc.message,
        )
    hints: list[str] = list(ctx.env_notes)
    if len(ctx.compose_files) > 1:
        others = ", ".join(f.name for f in ctx.compose_files[1:])
        hints.append(f"Compose uses {project.file.name}; {others} is ignored. Keep a single compose file.")
    override = find_override_file(ctx.root)
    if override:
        hints.append(f"Compose also merges {override.name} on top of {project.file.name}; the grader does too.")
    if "version" in project.raw():
        hints.append(
            f"{project.where('version')}: the `version:` key is obsolete in Compose v2 and ignored; you can delete it."
        )
    return Outcome.passed(f"{project.file.name} is valid for `docker compose config`.", hints=tuple(hints))


def run(ctx: Context) -> Outcome:
    if not ctx.compose_files:
        return _judge(ctx)
    outcome = _judge(ctx)
    file = ctx.compose_files[0]
    mentioned = re.search(r"\bline (\d+)", outcome.evidence)
    key = unknown_key(outcome.evidence)
    if mentioned:
        line: int | None = int(mentioned.group(1))
    elif key:
        line = yaml_line(file.read_text(errors="replace"), "services", *key)
    else:
        line = None
    return outcome.at(Location(file.name, line))


CHECK = Check(
    id="compose.file",
    category=Category.COMPOSE,
    title="Compose file valid",
    max_points=5,
    run=run,
)
