"""ACTIVIDAD 03: data written to PostgreSQL survives removing the containers.

Write a random marker, `down` (containers removed, volumes kept), `up` again without
rebuilding, read the marker back. Not stop/start and not `up --force-recreate`: those keep the
containers' anonymous volumes and would pass a submission that loses its data."""

from __future__ import annotations

import secrets
import time

import psycopg

from grader.context import Context
from grader.model import Category, Check, Outcome
from grader.project import postgres_layout
from grader.stack import POSTGRES_PORT, Stack
from grader.waiting import crash_report, states

TABLE = "compose_grader_marker"


def _connect(stack: Stack, db: str, env: dict[str, str], deadline: float) -> psycopg.Connection[tuple[object, ...]]:
    user = env.get("POSTGRES_USER") or "postgres"
    last: Exception | None = None
    while time.monotonic() < deadline:
        if stack.state(db) in ("", "exited", "dead", "restarting"):
            break  # gone or crashed: waiting longer cannot help
        endpoint = stack.endpoint(db, int(env.get("PGPORT") or POSTGRES_PORT))
        if endpoint is not None:
            try:
                return psycopg.connect(
                    host=endpoint.host,
                    port=endpoint.port,
                    user=user,
                    password=env.get("POSTGRES_PASSWORD", ""),
                    dbname=env.get("POSTGRES_DB") or user,
                    connect_timeout=3,
                    autocommit=True,
                    options="-c statement_timeout=15000",  # a wedged server cannot hang the grader
                )
            except psycopg.OperationalError as exc:
                last = exc
                if "password authentication failed" in str(exc):
                    raise
        time.sleep(1)
    raise TimeoutError(f"PostgreSQL did not accept connections ({last})")


def _db_down(stack: Stack, db: str, when: str) -> Outcome:
    crashed = [s for s in states(stack) if s.service == db]
    sentence, logs = crash_report(stack, crashed) if crashed else ("it is not running.", "")
    return Outcome.failed(f"The database did not accept connections {when}: {sentence}", logs)


def _judge(ctx: Context) -> Outcome:
    project, stack = ctx.compose, ctx.stack
    db = project.db_service()
    if db is None:
        return Outcome.skipped("Not graded: there is no PostgreSQL service.")
    env = project.environment(db)
    timeout = ctx.options.start_timeout
    marker = secrets.token_hex(16)
    try:
        with _connect(stack, db, env, time.monotonic() + timeout) as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (token text PRIMARY KEY)")
            conn.execute(f"INSERT INTO {TABLE} (token) VALUES (%s)", (marker,))
    except TimeoutError:
        return _db_down(stack, db, "after the stack started")

    stack.down([db], remove_volumes=False)
    left = stack.containers()
    if left:
        return Outcome.error(f"`docker compose down` left {len(left)} containers; could not test persistence.")
    stack.up(timeout)
    try:
        with _connect(stack, db, env, time.monotonic() + timeout) as conn:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)).fetchone()
            found = (
                exists is not None
                and bool(exists[0])
                and conn.execute(f"SELECT 1 FROM {TABLE} WHERE token = %s", (marker,)).fetchone() is not None
            )
    except TimeoutError:
        return _db_down(stack, db, "after the containers were recreated")
    evidence = f"wrote marker {marker[:8]}... to {TABLE}; `docker compose down` (volumes kept); `up`; marker "
    if found:
        return Outcome.passed(
            "The data survived removing the containers: the row written before `docker compose down` was "
            "there after `up`.",
            evidence + "found",
        )
    layout = postgres_layout(str(project.services[db].get("image")), env)
    return Outcome.failed(
        "The data was lost when the containers were removed: a row written before `docker compose down` was "
        f"gone after `up`. Keep PostgreSQL's data on a named volume: mount one at {layout.expected_mount} in "
        f"service `{db}` and declare it under the top-level `volumes:`.",
        evidence + "missing",
    )


def run(ctx: Context) -> Outcome:
    db = ctx.compose.db_service()
    keys = ("services", db, "volumes") if db and ctx.compose.services[db].get("volumes") else ("services", db or "")
    return _judge(ctx).at(ctx.compose.location(*keys))


CHECK = Check(
    id="persistence.data",
    category=Category.PERSISTENCE,
    title="Data survives `down` and `up`",
    max_points=20,
    run=run,
    after=("startup.up",),
)
