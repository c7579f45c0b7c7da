"""The persistence cycle both persistence checks share (the database marker and the rubric's
API scenario): write, `docker compose down` (containers removed, volumes kept), `up` again without
rebuilding, read back. Not stop/start and not `up --force-recreate`: those keep the containers'
anonymous volumes and would pass a submission that loses its data."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grader.engine import probe, sqlclient
from grader.engine.override import db_port
from grader.engine.scenarios import Run, StepFailed, run_steps
from grader.engine.waiting import backoff, crash_report, states
from grader.intake.project import postgres_layout
from grader.messages import msg
from grader.model import CycleResult, Outcome
from grader.run.context import StackContext
from grader.run.stash import StashKey
from grader.run.verdicts import because_of_legacy_mount, crashed_at_startup, lost_for_the_volume

if TYPE_CHECKING:
    from grader.engine.stack import Stack

TABLE = "compose_grader_marker"
# The one down/up cycle, made by whichever persistence check runs first (grader.run.stash).
CYCLE: StashKey[CycleResult] = StashKey("persistence.cycle")


def _credentials(stack: Stack, db: str, env: dict[str, str]) -> tuple[str, str, str] | None:
    """(user, password, database) as the official image reads them: each given directly or, as
    its documentation offers for secrets, in a file named by `<NAME>_FILE`, read inside the
    database's container. None while a file cannot be read yet."""
    values: dict[str, str] = {}
    for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        values[name] = env.get(name, "")
        if not values[name] and env.get(f"{name}_FILE"):
            out, code = stack.exec(db, ["cat", env[f"{name}_FILE"]])
            if code != 0 or "\x00" in out:
                return None  # unreadable (yet): the connection keeps failing until the deadline
            values[name] = out.rstrip("\r\n")
    user = values["POSTGRES_USER"] or "postgres"
    return user, values["POSTGRES_PASSWORD"], values["POSTGRES_DB"] or user


class DatabaseFailed(Exception):
    """The student's database answered, but not as PostgreSQL does: the check fails naming it."""


def _sql(
    stack: Stack, db: str, env: dict[str, str], deadline: float, statements: Sequence[tuple[str, tuple[object, ...]]]
) -> tuple[tuple[object, ...] | None, ...]:
    """The statements' first rows, once the database accepts connections (waited for until the
    deadline: TimeoutError). Run by grader.engine.sqlclient in a child process with a memory cap: a
    hostile "database" cannot take the grader's memory, and anything it makes the client raise
    is DatabaseFailed (a failed check), never a crash of the grader."""
    last = ""
    credentials = None
    delays = backoff()
    while time.monotonic() < deadline:
        if stack.state(db) in ("", "exited", "dead", "restarting"):
            break  # gone or crashed: waiting longer cannot help
        endpoint = stack.endpoint(db, db_port(env))
        credentials = credentials or _credentials(stack, db, env)
        if endpoint is not None and credentials is not None:
            user, password, dbname = credentials
            connection = {
                "host": endpoint.host,
                "port": endpoint.port,
                "user": user,
                "password": password,
                "dbname": dbname,
                "connect_timeout": 3,
                "options": "-c statement_timeout=15000",  # a wedged server cannot hang the grader
            }
            answer = sqlclient.run(connection, statements, timeout=max(5.0, min(30.0, deadline - time.monotonic())))
            if not answer.problem:
                return answer.rows
            if answer.problem != "connect":
                raise DatabaseFailed(msg(f"persistence.sql_{answer.problem}", db=db, error=answer.error[:300]))
            last = answer.error
        time.sleep(next(delays))
    raise TimeoutError(f"PostgreSQL did not accept connections ({last})")


def _db_down(ctx: StackContext, db: str, when: str) -> Outcome:
    known = because_of_legacy_mount(ctx.project, db, msg("persistence.what")) or crashed_at_startup(
        ctx, db, msg("persistence.what")
    )
    if known is not None:
        return known
    stack = ctx.stack
    crashed = [s for s in states(stack) if s.service == db]
    sentence, logs = (
        crash_report(stack, crashed, memory=ctx.options.limits.memory)
        if crashed
        else (msg("persistence.not_running"), "")
    )
    return Outcome.failed(msg("persistence.db_down", when=when, reason=sentence), logs)


def cycle(ctx: StackContext) -> CycleResult:
    """One `down` + `up` for everything that must survive it; shared by this check and the
    rubric's persistence scenario (whichever runs first triggers it)."""
    if CYCLE not in ctx.stash:
        with ctx.timings.phase("persistence"):
            ctx.stash[CYCLE] = _cycle(ctx)
    return ctx.stash[CYCLE]


def _api_url(ctx: StackContext, deadline: float) -> str | None:
    """The API's base URL once it answers HTTP (any status), or None at the deadline."""
    app, port = ctx.app_service(), ctx.app_port()
    delays = backoff()
    while app and port and time.monotonic() < deadline:
        endpoint = ctx.stack.endpoint(app, port)
        if endpoint is not None:
            url = f"http://{endpoint.url_host}:{endpoint.port}"
            try:
                probe.request("GET", url + "/", seconds=5, limit=0)  # the body is never read
                return url
            except probe.NoAnswer:
                pass
        time.sleep(next(delays))
    return None


def _cycle(ctx: StackContext) -> CycleResult:
    project, stack = ctx.project, ctx.stack
    db, scenario = project.db_service(), ctx.rubric.persistence
    timeout = ctx.options.start_timeout
    env = project.environment(db) if db else {}
    marker = secrets.token_hex(16)
    # One budget before `down` (the marker, the API, the scenario's steps) and one after `up`, so
    # the cycle ends within the CYCLE phase's deadline (3 x start timeout + 90 s): a slow but
    # working stack is a failed check, never the grader's timeout.
    before = time.monotonic() + timeout

    marker_outcome: Outcome | None = None
    if db is None:
        marker_outcome = Outcome.skipped(msg("persistence.no_db"))
    else:
        write = [
            (f"CREATE TABLE IF NOT EXISTS {TABLE} (token text PRIMARY KEY)", ()),
            (f"INSERT INTO {TABLE} (token) VALUES (%s)", (marker,)),
        ]
        try:
            _sql(stack, db, env, before, write)
        except TimeoutError:
            marker_outcome = _db_down(ctx, db, msg("persistence.when_started"))
        except DatabaseFailed as exc:
            marker_outcome = Outcome.failed(str(exc))

    run = Run()
    scenario_outcome: Outcome | None = None
    if scenario is not None:
        url = _api_url(ctx, before)
        if url is None:
            scenario_outcome = Outcome.failed(msg("scenario.no_api"))
        else:
            try:
                run_steps(url, scenario.steps, run, deadline=before)
            except StepFailed as exc:
                scenario_outcome = Outcome.failed(msg("scenario.before", reason=exc), "\n".join(run.log))
    if marker_outcome is not None and (scenario is None or scenario_outcome is not None):
        return CycleResult(marker_outcome, scenario_outcome)  # nothing was written: no cycle to run

    stack.down([db] if db else [], remove_volumes=False)
    left = stack.containers()
    if left:
        message = msg("persistence.left", count=len(left))
        return CycleResult(marker_outcome or Outcome.error(message), scenario_outcome or Outcome.error(message))
    stack.up(timeout)
    deadline = time.monotonic() + timeout
    if marker_outcome is None and db is not None:
        marker_outcome = _read_marker(ctx, db, env, marker, deadline)
    if scenario is not None and scenario_outcome is None:
        url = _api_url(ctx, deadline)
        if url is None:
            scenario_outcome = Outcome.failed(msg("scenario.no_api_after"))
        else:
            try:
                run_steps(url, scenario.after_steps, run, first_number=len(scenario.steps) + 1, deadline=deadline)
                scenario_outcome = Outcome.passed(msg("scenario.kept"), "\n".join(run.log))
            except StepFailed as exc:
                log = "\n".join(run.log)
                scenario_outcome = lost_for_the_volume(project, msg("scenario.what"), log) or Outcome.failed(
                    msg("scenario.lost", reason=exc), log
                )
    assert marker_outcome is not None
    return CycleResult(marker_outcome, scenario_outcome)


def _read_marker(ctx: StackContext, db: str, env: dict[str, str], marker: str, deadline: float) -> Outcome:
    project, stack = ctx.project, ctx.stack
    read = [
        ("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)),  # a guard: the next runs only if it is true
        (f"SELECT 1 FROM {TABLE} WHERE token = %s", (marker,)),
    ]
    try:
        rows = _sql(stack, db, env, deadline, read)
    except TimeoutError:
        return _db_down(ctx, db, msg("persistence.when_recreated"))
    except DatabaseFailed as exc:
        return Outcome.failed(str(exc))
    found = len(rows) == 2 and rows[1] is not None
    result = msg("persistence.found") if found else msg("persistence.missing")
    evidence = msg("persistence.evidence", marker=marker[:8], table=TABLE, result=result)
    if found:
        return Outcome.passed(msg("persistence.ok"), evidence)
    known = lost_for_the_volume(project, msg("persistence.what"), evidence)
    if known is not None:  # one cause, one deduction: compose.volume already names the mount
        return known
    layout = postgres_layout(str(project.services[db].get("image")), env)
    return Outcome.failed(msg("persistence.lost", mount=layout.expected_mount, db=db), evidence)
