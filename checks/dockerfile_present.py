"""ACTIVIDAD 01: a Dockerfile the builder can read, where compose builds the app from."""

from __future__ import annotations

import dataclasses

from grader.context import Context
from grader.dockerfile import parse
from grader.messages import msg
from grader.model import Category, Check, Location, Outcome

MAX_DOCKERFILE_BYTES = 256 * 1024  # real Dockerfiles are a few KB; the checks read it whole


def _judge(ctx: Context) -> Outcome:
    context, dockerfile, where = ctx.dockerfile_location()
    shown = ctx.relative(str(dockerfile))
    if not dockerfile.is_file():
        listing = ", ".join(sorted(p.name for p in context.iterdir())[:30]) if context.is_dir() else ""
        return Outcome.failed(
            msg("dockerfile.missing", path=shown, where=where),
            msg("dockerfile.files_in", folder=ctx.relative(str(context)) or ".", listing=listing),
        )
    if dockerfile.stat().st_size > MAX_DOCKERFILE_BYTES:
        return Outcome.failed(msg("dockerfile.too_large", path=shown, kb=MAX_DOCKERFILE_BYTES // 1024))
    try:
        parse(dockerfile.read_text(errors="replace"))
    except ValueError as exc:
        return Outcome.failed(
            msg("dockerfile.invalid", path=shown, error=exc),
        )
    return Outcome.passed(msg("dockerfile.found", path=shown, where=where))


def run(ctx: Context) -> Outcome:
    _, dockerfile, _ = ctx.dockerfile_location()
    outcome = _judge(ctx).at(Location(ctx.relative(str(dockerfile))))
    if ctx.dropped_links:  # the first check: where a student learns why COPY cannot find them
        links = ", ".join(f"`{link}`" for link in ctx.dropped_links[:10])
        outcome = dataclasses.replace(outcome, hints=(*outcome.hints, msg("copy.links_outside", links=links)))
    return outcome


CHECK = Check(
    id="dockerfile.present",
    category=Category.DOCKERFILE,
    title="title.dockerfile.present",
    max_points=5,
    run=run,
)
