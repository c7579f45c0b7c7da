"""Gate: refuse a stack that could reach the grading machine, before anything of it runs.

The rules live in `grader.policy`, read from compose's resolved model; `Stack.prepare` applies
them again, so nothing is built or started for a refused submission whatever the check order.
A rubric cannot disable this check (`grader rubric check` says why).
"""

from __future__ import annotations

from grader.context import Context
from grader.messages import msg
from grader.model import Category, Check, Outcome
from grader.policy import findings, rewrites


def _judge(ctx: Context) -> Outcome:
    project = ctx.compose
    found = findings(project.config, ctx.root, ctx.options.limits.services)
    if found:
        return Outcome.failed(msg("security.refused", findings="; ".join(ctx.relative(f) for f in found)))
    notes = rewrites(project.config, ctx.project_name)
    hints = (msg("security.rewritten", notes="; ".join(notes)),) if notes else ()
    return Outcome.passed(msg("security.ok"), hints=hints)


def run(ctx: Context) -> Outcome:
    return _judge(ctx).at(ctx.compose.location("services"))


CHECK = Check(
    id="security.policy",
    category=Category.SECURITY,
    title="title.security.policy",
    max_points=0,
    run=run,
    requires=("compose.file",),
)
