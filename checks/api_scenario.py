"""Rubric: an instructor's HTTP scenario against the running API (one check per scenario)."""

from __future__ import annotations

import time

from grader.engine.scenarios import Run, StepFailed, run_steps
from grader.intake.rubric import Scenario
from grader.messages import msg
from grader.model import Category, Outcome, Stage
from grader.run.context import StackCheck, StackContext


def make(scenario: Scenario) -> StackCheck:
    def run(ctx: StackContext) -> Outcome:
        app, port = ctx.app_service(), ctx.app_port()
        endpoint = ctx.stack.endpoint(app, port) if app and port else None
        if endpoint is None:
            return Outcome.skipped(msg("scenario.no_port"))
        progress = Run()
        started = time.monotonic()
        try:
            # all steps within the start timeout: the START phase's deadline is the grader's, not theirs
            deadline = started + ctx.options.start_timeout
            run_steps(f"http://{endpoint.url_host}:{endpoint.port}", scenario.steps, progress, deadline=deadline)
        except StepFailed as exc:
            return Outcome.failed(msg("scenario.failed", name=scenario.name, reason=exc), "\n".join(progress.log))
        seconds = time.monotonic() - started
        text = msg("scenario.ok", name=scenario.name, count=len(scenario.steps), seconds=f"{seconds:.1f}")
        return Outcome.passed(text, "\n".join(progress.log))

    return StackCheck(
        id=scenario.id,
        category=Category.API,
        title=scenario.name,
        max_points=scenario.points,
        run=run,
        requires=("api.reachable",),
        hidden=scenario.hidden,
        stage=Stage.START,
    )
