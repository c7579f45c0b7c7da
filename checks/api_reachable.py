"""ACTIVIDAD 02: the API answers HTTP on the port compose publishes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from grader.engine.diagnose import (
    Listener,
    db_localhost_line,
    explain_unreachable,
    failed_connection_line,
    fixed_ip_hint,
    fixed_ip_settings,
    listeners,
)
from grader.engine.waiting import ANSWER, WATCH_S, ask, backoff, explain_logs
from grader.messages import msg
from grader.model import Answer, Category, Outcome, Stage
from grader.run.context import StackCheck, StackContext
from grader.run.verdicts import crashed_at_startup

if TYPE_CHECKING:  # the engine's libraries load only for a run that uses the engine
    from grader.engine.stack import Stack

REACHABLE_BUT_NO_DB = 1 / 3  # 5 of the default 15: it answers, but cannot do its job
# Once the app has opened sockets but not a reachable one, this long is enough to be sure.
WRONG_LISTENER_GRACE_S = 8.0


def _listeners_text(stack: Stack, service: str) -> str | None:
    out, code = stack.exec(service, ["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    return out if code == 0 or "local_address" in out else None


def _judge(ctx: StackContext) -> Outcome:
    stack = ctx.stack
    app, target = ctx.app_service(), ctx.app_port()
    if app is None:
        return Outcome.skipped(msg("api.no_app"))
    if target is None:
        return Outcome.failed(msg("api.no_port", app=app))
    deadline = time.monotonic() + ctx.options.start_timeout
    answer = ctx.stash.get(ANSWER, None)
    delays = backoff()
    wrong_since: float | None = None
    last_error = ""
    # After an answer, the loop goes on until the app has stayed up WATCH_S since it (an answer
    # startup.up saw already has): an app slower to start than startup's watch is watched too.
    while time.monotonic() < deadline or answer is not None:
        if stack.state(app) != "running":
            known = crashed_at_startup(ctx, app, msg("api.what"))
            if known is not None:  # startup deducted this crash; the API could not be judged
                return known
            logs = stack.logs(app, 40)
            oom = [msg("hint.oom", service=app, memory=ctx.options.limits.memory)] if stack.oom_killed(app) else []
            # stopped by the grader's disk watch after startup (a slow writer): said as startup says it
            app_id = stack.container(app)
            disk = (
                [f"{msg('state.disk_full', service=app)}; {msg('hint.disk', disk=ctx.options.limits.disk)}."]
                if app_id is not None and stack.disk_full(str(app_id.ID or ""))
                else []
            )
            tips = "".join(f" {tip}" for tip in [*disk, *oom, *explain_logs(logs)])
            return Outcome.failed(msg("api.stopped", app=app) + tips, logs)
        if stack.memory_full(app, ctx.options.limits.memory_bytes):
            known = crashed_at_startup(ctx, app, msg("api.what"))
            if known is not None:
                return known
            memory = ctx.options.limits.memory
            return Outcome.failed(
                msg("api.memory_full", app=app) + " " + msg("hint.oom", service=app, memory=memory),
                stack.logs(app, 20),
            )
        if answer is not None:
            if time.monotonic() - answer.at >= WATCH_S:
                return _answered(stack, app, target, answer, ctx.project.environment(app))
        else:
            endpoint = stack.endpoint(app, target)
            if endpoint is not None:
                try:
                    answer = ask(f"http://{endpoint.url_host}:{endpoint.port}/", timeout=5)
                except OSError as exc:  # grader.engine.probe.NoAnswer
                    last_error = f"{type(exc).__name__}"
            if answer is None:
                text = _listeners_text(stack, app)
                found = listeners(text) if text else []
                if found and not any(s.port == target and not s.loopback_only for s in found):
                    wrong_since = wrong_since or time.monotonic()
                    if time.monotonic() - wrong_since >= WRONG_LISTENER_GRACE_S:
                        return _unreachable(stack, app, target, found)
                else:
                    wrong_since = None
        time.sleep(next(delays))
    text = _listeners_text(stack, app)
    return _unreachable(stack, app, target, listeners(text) if text else [], last_error)


def _answered(stack: Stack, app: str, target: int, answer: Answer, environment: dict[str, str]) -> Outcome:
    evidence = msg("api.evidence", url=answer.url, port=target, status=answer.status) + "\n" + answer.body
    # Seconds after the answer (WATCH_S): a failed DB query on that request has reached the log.
    logs = stack.logs(app, 80)
    problems = [(msg("hint.db_localhost"), db_localhost_line(logs))] + [
        (fixed_ip_hint(key, address), failed_connection_line(logs, address))
        for key, address in fixed_ip_settings(environment)
    ]
    for hint, line in problems:
        if line:
            return Outcome.failed(
                msg("api.no_db", hint=hint),
                f"{evidence}\n{msg('api.from_log', service=app)}\n{line}",
                fraction=REACHABLE_BUT_NO_DB,
            )
    return Outcome.passed(msg("api.ok", status=answer.status), evidence)


def _unreachable(stack: Stack, app: str, target: int, found: list[Listener], last_error: str = "") -> Outcome:
    reason = explain_unreachable(found, target)
    shown = ", ".join(f"{s.address}:{s.port}" for s in found) or msg("api.none")
    logs = stack.logs(app, 30)
    error = msg("api.last_error", error=last_error) if last_error else ""
    return Outcome.failed(
        msg("api.unreachable", port=target, reason=reason),
        f"{msg('api.listening', app=app, sockets=shown)}{error}\n{msg('logs.last_lines', service=app)}\n{logs.strip()}",
    )


def run(ctx: StackContext) -> Outcome:
    app = ctx.app_service()
    keys = ("services", app, "ports") if app else ("services",)
    with ctx.timings.phase("api"):
        outcome = _judge(ctx)
    return outcome.at(ctx.project.location(*keys))


CHECK = StackCheck(
    id="api.reachable",
    category=Category.API,
    title="title.api.reachable",
    max_points=15,
    run=run,
    after=("startup.up",),
    stage=Stage.START,
)
