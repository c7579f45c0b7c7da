"""ACTIVIDAD 02: the API built from the repo, beside a dockerised PostgreSQL, reachable on a port."""

from __future__ import annotations

from grader.context import Context
from grader.diagnose import fixed_ip_hint, fixed_ip_settings
from grader.model import Category, Check, Outcome


def _judge(ctx: Context) -> Outcome:
    project = ctx.compose
    app, db = ctx.app_service(), project.db_service()
    services = ", ".join(project.services) or "none"
    problems: list[str] = []
    earned = 0.0  # of 10: app built from the repo 4, PostgreSQL 4, published port 2
    if app:
        earned += 4
    else:
        problems.append(
            "No service is built from your repository: give the API service `build: .` so compose builds it "
            "with your Dockerfile."
        )
    if db:
        earned += 4
    else:
        problems.append("No PostgreSQL service: add one with `image: postgres:15` (any pinned version).")
    if app and project.published_targets(app):
        earned += 2
    elif app:
        problems.append(
            f'Service `{app}` publishes no port, so nobody can call the API: add `ports: ["3000:3000"]` '
            "(host:container, container = the port the app listens on)."
        )
    hints: list[str] = []
    if db and not project.services[db].get("healthcheck"):
        hints.append(
            f"Service `{db}` has no healthcheck, so `depends_on` only waits for the container to start, not for "
            "PostgreSQL to accept connections. Add a healthcheck with `pg_isready` and "
            "`depends_on: {db: {condition: service_healthy}}`."
        )
    if app:
        hints += [fixed_ip_hint(key, address) for key, address in fixed_ip_settings(project.environment(app))]
    evidence = f"services: {services}; app: {app or '-'}; database: {db or '-'}"
    if problems:
        return Outcome.failed(" ".join(problems), evidence, fraction=earned / 10, hints=tuple(hints))
    return Outcome.passed(
        f"API service `{app}` is built from the repo; database service `{db}` runs PostgreSQL.", evidence, tuple(hints)
    )


def run(ctx: Context) -> Outcome:
    return _judge(ctx).at(ctx.compose.location("services"))


CHECK = Check(
    id="compose.services",
    category=Category.COMPOSE,
    title="API and PostgreSQL services",
    max_points=10,
    run=run,
    requires=("compose.file",),
)
