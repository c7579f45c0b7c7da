"""ACTIVIDAD 01: a Dockerfile the builder can read, where compose builds the app from."""

from __future__ import annotations

import dataclasses

from grader.intake.dockerfile import MAX_DOCKERFILE_BYTES, parse
from grader.messages import msg
from grader.model import Category, Location, Outcome
from grader.run.context import Check, Context


def _judge(ctx: Context) -> Outcome:
    found = ctx.dockerfile
    shown = ctx.relative(str(found.path))
    if not found.exists:
        context = found.context
        listing = ", ".join(sorted(p.name for p in context.iterdir())[:30]) if context.is_dir() else ""
        return Outcome.failed(
            msg("dockerfile.missing", path=shown, where=found.where),
            msg("dockerfile.files_in", folder=ctx.relative(str(context)) or ".", listing=listing),
        )
    if found.unreadable:
        return Outcome.failed(msg("file.unreadable", path=shown, error=found.unreadable))
    if found.text is None:
        return Outcome.failed(msg("dockerfile.too_large", path=shown, kb=MAX_DOCKERFILE_BYTES // 1024))
    try:
        parse(found.text)
    except ValueError as exc:
        return Outcome.failed(
            msg("dockerfile.invalid", path=shown, error=exc),
        )
    return Outcome.passed(msg("dockerfile.found", path=shown, where=found.where))


def run(ctx: Context) -> Outcome:
    outcome = _judge(ctx).at(Location(ctx.relative(str(ctx.dockerfile.path))))
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
