"""ACTIVIDAD 01: the Dockerfile practices the class teaches, 2 points each; other advice is free."""

from __future__ import annotations

from grader.intake.dockerfile import hadolint_hints, npm_as_pid1, parse, practices, start_command
from grader.messages import msg
from grader.model import Category, Location, Outcome
from grader.run.context import Check, Context


def run(ctx: Context) -> Outcome:
    dockerfile = ctx.dockerfile.path
    text = ctx.dockerfile.text or ""  # requires dockerfile.present: read and parsed
    app, project = ctx.app_service(), ctx.analysis
    targets = project.published_targets(app) if app and project else []
    ignore_file = ctx.dockerfile.context / ".dockerignore"
    ignore_text = ignore_file.read_text(errors="replace") if ignore_file.is_file() else None
    parsed = parse(text)
    start = start_command(ctx.dockerfile.context)  # tips name this app's entry point, not index.js
    found = practices(parsed, targets, ignore_text, start, ctx.rubric.images)

    hints = [h for h in [npm_as_pid1(parsed, start)] if h] + hadolint_hints(text)
    lines = [
        f"{msg('practices.ok') if p.ok else msg('practices.fix')} {p.label}"
        + (msg("practices.line", line=p.line) if p.line and not p.ok else "")
        for p in found
    ]
    missing = [p for p in found if not p.ok]
    if not missing:
        return Outcome.passed(msg("practices.all_ok"), "\n".join(lines), tuple(hints))
    advice = " ".join(f"({n}) {p.advice}" for n, p in enumerate(missing, 1))
    return Outcome.failed(
        msg("practices.to_fix", missing=len(missing), total=len(found), advice=advice),
        "\n".join(lines),
        fraction=(len(found) - len(missing)) / len(found),
        hints=tuple(hints),
        location=Location(ctx.relative(str(dockerfile)), next((p.line for p in missing if p.line), None)),
    )


CHECK = Check(
    id="dockerfile.practices",
    category=Category.DOCKERFILE,
    title="title.dockerfile.practices",
    max_points=12,
    run=run,
    requires=("dockerfile.present",),
)
