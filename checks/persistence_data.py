"""ACTIVIDAD 03: data written to PostgreSQL survives removing the containers (the cycle itself,
shared with the rubric's persistence scenario, is grader.engine.persistence)."""

from __future__ import annotations

from grader.engine.persistence import cycle
from grader.model import Category, Outcome, Stage
from grader.run.context import StackCheck, StackContext


def _judge(ctx: StackContext) -> Outcome:
    return cycle(ctx).marker


def run(ctx: StackContext) -> Outcome:
    db = ctx.project.db_service()
    keys = ("services", db, "volumes") if db and ctx.project.services[db].get("volumes") else ("services", db or "")
    return _judge(ctx).at(ctx.project.location(*keys))


CHECK = StackCheck(
    id="persistence.data",
    category=Category.PERSISTENCE,
    title="title.persistence.data",
    max_points=20,
    run=run,
    after=("startup.up",),
    stage=Stage.CYCLE,
)
