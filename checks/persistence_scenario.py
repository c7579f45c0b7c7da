"""Rubric: an API-level persistence scenario. Its `before` requests run before `docker compose
down`, its `after` requests once the stack is back, in the same cycle as the database marker."""

from __future__ import annotations

from grader.engine.persistence import cycle
from grader.intake.rubric import Scenario
from grader.messages import msg
from grader.model import Category, Outcome, Stage
from grader.run.context import StackCheck, StackContext


def make(scenario: Scenario) -> StackCheck:
    def run(ctx: StackContext) -> Outcome:
        outcome = cycle(ctx).scenario
        return outcome if outcome is not None else Outcome.error(msg("scenario.not_run"))

    return StackCheck(
        id=scenario.id,
        category=Category.PERSISTENCE,
        title=scenario.name,
        max_points=scenario.points,
        run=run,
        requires=("api.reachable",),
        hidden=scenario.hidden,
        stage=Stage.CYCLE,
    )
