"""ACTIVIDAD 02: the API built from the repo, beside a dockerised PostgreSQL, reachable on a port."""

from __future__ import annotations

from grader.engine.diagnose import fixed_ip_hint, fixed_ip_settings
from grader.intake.project import ComposeProject
from grader.messages import msg
from grader.model import Category, Outcome
from grader.run.context import Check, Context
from grader.run.verdicts import analysed_without, without_model


def _judge(ctx: Context, project: ComposeProject) -> Outcome:
    app, db = ctx.app_service(), project.db_service()
    services = ", ".join(project.services) or msg("api.none")
    problems: list[str] = []
    earned = 0.0  # of 10: app built from the repo 4, PostgreSQL 4, published port 2
    if app:
        earned += 4
    else:
        problems.append(msg("services.no_app"))
    if db:
        earned += 4
    else:
        problems.append(msg("services.no_db"))
    if app and project.published_targets(app):
        earned += 2
    elif app:
        problems.append(msg("services.no_port", app=app))
    hints: list[str] = []
    if db and not project.services[db].get("healthcheck"):
        hints.append(msg("services.no_healthcheck", db=db))
    if app:
        hints += [fixed_ip_hint(key, address) for key, address in fixed_ip_settings(project.environment(app))]
    evidence = msg("services.evidence", services=services, app=app or "-", db=db or "-")
    note = analysed_without(ctx)
    if problems:
        return Outcome.failed(" ".join(problems) + note, evidence, fraction=earned / 10, hints=tuple(hints))
    return Outcome.passed(msg("services.ok", app=app, db=db) + note, evidence, tuple(hints))


def run(ctx: Context) -> Outcome:
    project = ctx.analysis
    if project is None:
        return without_model()
    return _judge(ctx, project).at(project.location("services"))


CHECK = Check(
    id="compose.services",
    category=Category.COMPOSE,
    title="title.compose.services",
    max_points=10,
    run=run,
    # Graded from what compose can read even when the file cannot start (a missing env file).
    after=("compose.file",),
)
