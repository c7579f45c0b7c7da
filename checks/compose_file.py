"""ACTIVIDAD 02: a compose file, found and resolved by compose itself (`docker compose config`)."""

from __future__ import annotations

import difflib
import re
from pathlib import PurePosixPath

from grader.intake.project import COMPOSE_FILES, find_override_file, yaml_line
from grader.intake.rubric import CheckSetting
from grader.intake.values import kept_out_of_git, listed
from grader.messages import msg
from grader.model import Category, Location, Outcome
from grader.run.context import Check, Context

CHECK_ID = "compose.file"
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


_EXAMPLES = (".env.example", ".env.sample", ".env.template", "env.example", ".env.dist")


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
    guess = msg("compose.did_you_mean", guess=close[0]) if close else ""
    return msg("compose.unknown_key", key=key, service=service) + guess


def _judge(ctx: Context) -> Outcome:
    resolution = ctx.resolution
    if not resolution.files:
        names = ", ".join(f"`{n}`" for n in COMPOSE_FILES)
        listing = ", ".join(sorted(p.name for p in ctx.root.iterdir())[:30])
        return Outcome.failed(
            msg("compose.none", names=names),
            msg("compose.files_at_root", listing=listing),
        )
    rejected = resolution.rejection
    if rejected is not None:
        name = resolution.files[0].name
        if rejected.crashed:
            return Outcome.error(rejected.message)
        if rejected.refused:
            return Outcome.failed(rejected.message)
        missing_file = PurePosixPath(ctx.relative(rejected.missing_env_file or "")).as_posix()
        if resolution.missing_env_file and missing_file in ctx.absent and kept_out_of_git(ctx.root, missing_file):
            # The repository keeps its env file out of git, as it should, and the file is all compose
            # lacks (the model resolves without it: `analysis`): the values are the instructor's.
            return Outcome.error(msg("values.missing_file", file=name, missing=missing_file), rejected.message)
        named_gaps = [g for g in ctx.gaps if re.search(rf"\b{g.variable}\b", rejected.message)]
        if named_gaps:  # compose refused a value interpolated from the `.env` git does not hold
            return Outcome.error(msg("values.missing", gaps=listed(named_gaps)), rejected.message)
        if rejected.missing_env_file:
            missing = ctx.relative(rejected.missing_env_file)
            example = next((n for n in _EXAMPLES if (ctx.root / n).is_file()), None)
            text = msg("compose.missing_env_file", file=name, missing=missing)
            if example:
                text += " " + msg("compose.env_example_unread", example=example, missing=missing)
            return Outcome.failed(text, rejected.message)
        return Outcome.failed(
            msg(
                "compose.rejected",
                file=name,
                advice=unknown_key_advice(rejected.message) or msg("compose.fix_reported"),
            ),
            rejected.message,
        )
    project = resolution.project
    assert project is not None  # a Resolution holds a model or a Rejection
    hints: list[str] = list(resolution.env_notes)
    if len(resolution.files) > 1:
        others = ", ".join(f.name for f in resolution.files[1:])
        hints.append(msg("compose.several", file=project.file.name, others=others))
    override = find_override_file(ctx.root)
    if override:
        hints.append(msg("compose.override_merged", override=override.name, file=project.file.name))
    if "version" in project.raw():
        hints.append(msg("compose.version_obsolete", where=project.where("version")))
    text = msg("compose.valid", file=project.file.name)
    if ctx.project_dir != ".":
        text += " " + msg("compose.found_below", folder=ctx.project_dir)
    deduct = ctx.rubric.env_example_deduct
    if ctx.examples and deduct > 0:  # the rubric charges an env file the repository does not hold
        points = (ctx.rubric.checks.get(CHECK_ID) or CheckSetting()).points
        total = CHECK.max_points if points is None else points
        share = max(0.0, 1 - deduct / total) if total else 0.0
        advice = tuple(msg("env.example_deducted", file=n) for n in ctx.examples)
        files = ", ".join(f"`{n}`" for n in ctx.examples)
        text += " " + msg("compose.example_charged", files=files, points=f"{min(deduct, total):g}")
        return Outcome.failed(text, fraction=share, hints=(*hints, *advice))
    return Outcome.passed(text, hints=tuple(hints))


def run(ctx: Context) -> Outcome:
    if not ctx.resolution.files:
        return _judge(ctx)
    outcome = _judge(ctx)
    file = ctx.resolution.files[0]
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
    id=CHECK_ID,
    category=Category.COMPOSE,
    title="title.compose.file",
    max_points=5,
    run=run,
)
