"""ACTIVIDAD 03: the database's data directory lives on a named volume."""

from __future__ import annotations

import dataclasses
from typing import Any

from grader.intake.project import (
    LEGACY_PGDATA,
    V18_VOLUME,
    ComposeProject,
    data_mount,
    legacy_mount,
    postgres_layout,
    split_image,
)
from grader.messages import msg
from grader.model import Category, Outcome
from grader.run.context import Check, Context
from grader.run.verdicts import analysed_without, without_model

CHECK_ID = "compose.volume"


def _judge(ctx: Context, project: ComposeProject) -> Outcome:
    db = project.db_service()
    if db is None:
        return Outcome.failed(msg("volume.no_db"))
    service = project.services[db]
    image = str(service.get("image"))
    layout = postgres_layout(image, project.environment(db))
    mounts: list[dict[str, Any]] = list(service.get("volumes") or [])
    where = project.where("services", db, "volumes") if mounts else project.where("services", db)
    anonymous = msg("volume.anonymous")
    lines = "\n".join(f"{m.get('type')}: {m.get('source') or anonymous} -> {m.get('target')}" for m in mounts)
    evidence = (
        msg("volume.evidence", db=db, image=image, pgdata=layout.pgdata) + "\n" + (lines or msg("volume.no_volumes"))
    )
    example = msg("volume.example", mount=layout.expected_mount, db=db)

    if legacy_mount(project):  # the same rule startup and persistence skip by (grader.run.verdicts)
        version = (
            msg("volume.pg_version", image=image, major=layout.major)
            if split_image(image)[1][:1].isdigit()
            else msg("volume.pg_newest", image=image)
        )
        text = msg(
            "volume.pg18_legacy_mount",
            where=where,
            version=version,
            pgdata=layout.pgdata,
            legacy=LEGACY_PGDATA,
            volume=V18_VOLUME,
        )
        return Outcome.failed(text, evidence)
    holder = data_mount(layout, mounts)
    if holder and holder.get("type") == "volume" and holder.get("source"):
        return Outcome.passed(msg("volume.ok", db=db, pgdata=layout.pgdata, volume=holder["source"]), evidence)
    if holder and holder.get("type") == "bind":
        return Outcome.failed(msg("volume.bind", where=where, example=example), evidence)
    if mounts:
        targets = ", ".join(str(m.get("target")) for m in mounts)
        text = msg(
            "volume.elsewhere", where=where, db=db, targets=targets, image=image, pgdata=layout.pgdata, example=example
        )
        return Outcome.failed(text, evidence)
    return Outcome.failed(msg("volume.none", where=where, db=db, example=example), evidence)


def run(ctx: Context) -> Outcome:
    project = ctx.analysis
    if project is None:
        return without_model()
    outcome = _judge(ctx, project)
    outcome = dataclasses.replace(outcome, feedback=outcome.feedback + analysed_without(ctx))
    db = project.db_service()
    if db is None:
        return outcome.at(project.location("services"))
    keys = ("services", db, "volumes") if project.services[db].get("volumes") else ("services", db)
    return outcome.at(project.location(*keys))


CHECK = Check(
    id=CHECK_ID,
    category=Category.COMPOSE,
    title="title.compose.volume",
    max_points=10,
    run=run,
    after=("compose.file",),  # like compose.services
)
