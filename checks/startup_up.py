"""ACTIVIDAD 02: `docker compose up` brings every service up and they stay up."""

from __future__ import annotations

import dataclasses
import subprocess
import time

from grader.engine.diagnose import network_failure
from grader.engine.override import db_port
from grader.engine.waiting import ANSWER, ServiceState, crash_report, http_answers, postgres_answers, settle
from grader.errors import CommandTimeout
from grader.messages import msg
from grader.model import Category, Outcome, Stage
from grader.run.context import StackCheck, StackContext
from grader.run.verdicts import STARTUP_CRASHED, STARTUP_FAILING, because_of_legacy_mount, charged_to_values

CHECK_ID = "startup.up"


def _known_cause(ctx: StackContext, crashed: list[str]) -> Outcome | None:
    """Skipped, naming the static check that already deducted the reason, when the database alone
    failed for it (one root cause, one deduction); None when anything else failed too."""
    if len(crashed) != 1:
        return None
    return because_of_legacy_mount(ctx.project, crashed[0], msg("startup.what"))


def _judge(ctx: StackContext) -> Outcome:
    stack = ctx.stack
    binds = [m for s in ctx.project.services.values() for m in s.get("volumes") or [] if m.get("type") == "bind"]
    if binds and not stack.engine_sees(ctx.root):
        return Outcome.error(msg("startup.shared_workdir"))
    timeout = ctx.options.start_timeout
    deadline = time.monotonic() + timeout
    try:
        with ctx.timings.phase("up"):
            stack.up(timeout)
    except CommandTimeout:
        return Outcome.failed(msg("startup.up_timeout", seconds=f"{timeout:.0f}"))
    except subprocess.CalledProcessError as exc:
        message = ctx.relative((exc.stderr or b"").decode(errors="replace").strip())
        if network_failure(message):
            return Outcome.error(msg("startup.network"), message)
        stack.sample_memory_now(ctx.options.limits.memory_bytes)  # one look: a hog must show in it
        current = settle(stack, time.monotonic(), memory_limit=ctx.options.limits.memory_bytes).states
        crashed = [s for s in current if s.crashed]
        _leave(ctx, crashed, current)
        sentence, logs = crash_report(stack, crashed, memory=ctx.options.limits.memory)
        known = _known_cause(ctx, [s.service for s in crashed])
        if known is not None:
            return dataclasses.replace(known, evidence=f"{message}\n{logs}".strip())
        text = msg("startup.up_failed_because", reason=sentence) if logs else msg("startup.up_failed")
        return Outcome.failed(text, f"{message}\n{logs}".strip())
    db, app, port = ctx.project.db_service(), ctx.app_service(), ctx.app_port()
    ready = postgres_answers(stack, db, db_port(ctx.project.environment(db))) if db else None
    answered = http_answers(stack, app, port) if app and port else None
    memory = ctx.options.limits.memory_bytes
    with ctx.timings.phase("settle"):
        watched = settle(stack, deadline, memory_limit=memory, db_ready=ready, answered=answered)
    ctx.stash[ANSWER] = watched.answer  # api.reachable judges this answer, if the API is still up
    current = watched.states
    crashed = [s for s in current if s.crashed]
    _leave(ctx, crashed, current)
    if crashed:
        sentence, logs = crash_report(stack, crashed, memory=ctx.options.limits.memory)
        known = _known_cause(ctx, [s.service for s in crashed])
        if known is not None:
            return dataclasses.replace(known, evidence=logs)
        return Outcome.failed(msg("startup.crashed", reason=sentence), logs)
    waiting = [s for s in current if not s.settled]
    if waiting:
        sentence, logs = crash_report(stack, waiting, memory=ctx.options.limits.memory)
        return Outcome.failed(msg("startup.not_ready", seconds=f"{timeout:.0f}", reason=sentence), logs)
    running = ", ".join(f"`{s.service}`" for s in current if s.state == "running")
    text = msg("startup.ok", running=running)
    finished = [s.service for s in current if s.state == "exited"]  # settled: exit 0
    if finished:  # a one-shot (`migrate`): say it ran, so nobody wonders why it is not running
        text += " " + msg("startup.one_shot", services=", ".join(f"`{s}`" for s in finished))
    if ctx.left_out:  # the rubric's helpers: not started, so nobody wonders where pgAdmin is
        text += " " + msg("startup.left_out", services=", ".join(f"`{s}`" for s in ctx.left_out))
    return Outcome.passed(text)


def _leave(ctx: StackContext, crashed: list[ServiceState], current: list[ServiceState]) -> None:
    """For the checks after this one: what crashed (deducted here once) and what failed."""
    ctx.stash[STARTUP_CRASHED] = frozenset(s.service for s in crashed)
    ctx.stash[STARTUP_FAILING] = ctx.stash[STARTUP_CRASHED] | {s.service for s in current if not s.settled}


def run(ctx: StackContext) -> Outcome:
    # A stack that fails while the rubric lacks a value the repository keeps out of git: the
    # instructor's to give (grader.intake.values), not the student's deduction.
    return charged_to_values(ctx, _judge(ctx)).at(ctx.project.location("services"))


CHECK = StackCheck(
    id=CHECK_ID,
    category=Category.STARTUP,
    title="title.startup.up",
    max_points=10,
    run=run,
    requires=("dockerfile.build",),
    stage=Stage.START,
)
