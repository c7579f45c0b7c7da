"""Gate: refuse a stack that could reach the grading machine, before anything of it runs.

The rules live in `grader.intake.policy`, read from compose's resolved model; `Stack.prepare` applies
them again, so nothing is built or started for a refused submission whatever the check order.
A rubric cannot disable this check (`grader rubric check` says why).
"""

from __future__ import annotations

from grader.intake.policy import findings, rewrites
from grader.intake.project import ComposeProject
from grader.messages import msg
from grader.model import Category, Outcome
from grader.run.context import Check, Context
from grader.run.verdicts import analysed_without, without_model


def _judge(ctx: Context, project: ComposeProject) -> Outcome:
    found = findings(project.config, ctx.root, ctx.options.limits.services)
    if found:
        return Outcome.failed(msg("security.refused", findings="; ".join(ctx.relative(f) for f in found)))
    notes = rewrites(project.config, ctx.project_name)
    hints = (msg("security.rewritten", notes="; ".join(notes)),) if notes else ()
    return Outcome.passed(msg("security.ok") + analysed_without(ctx), hints=hints)


def run(ctx: Context) -> Outcome:
    project = ctx.analysis
    if project is None:
        return without_model()
    return _judge(ctx, project).at(project.location("services"))


CHECK = Check(
    id="security.policy",
    category=Category.SECURITY,
    title="title.security.policy",
    max_points=0,
    run=run,
    # Judged on what compose can read even when an env file is missing (nothing runs then:
    # dockerfile.build also needs compose.file to pass).
    after=("compose.file",),
)
