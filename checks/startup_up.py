"""ACTIVIDAD 02: `docker compose up` brings every service up and they stay up."""

from __future__ import annotations

import subprocess
import time

from grader.context import Context
from grader.diagnose import network_failure
from grader.errors import CommandTimeout
from grader.model import Category, Check, Outcome
from grader.waiting import crash_report, settle

SHARED_WORKDIR_HELP = (
    "This submission bind-mounts folders of the repository, and the grader runs in a container whose "
    "working copy the engine cannot see. Run the grader's container with "
    "`-v /tmp/compose-grader:/tmp/compose-grader -e TMPDIR=/tmp/compose-grader`. This is not a problem with "
    "your work."
)


def _judge(ctx: Context) -> Outcome:
    stack = ctx.stack
    binds = [m for s in ctx.compose.services.values() for m in s.get("volumes") or [] if m.get("type") == "bind"]
    if binds and not stack.engine_sees(ctx.root):
        return Outcome.error(SHARED_WORKDIR_HELP)
    timeout = ctx.options.start_timeout
    deadline = time.monotonic() + timeout
    try:
        stack.up(timeout)
    except CommandTimeout:
        return Outcome.failed(f"`docker compose up` did not finish within {timeout:.0f} s.")
    except subprocess.CalledProcessError as exc:
        message = ctx.relative((exc.stderr or b"").decode(errors="replace").strip())
        if network_failure(message):
            return Outcome.error(
                "The stack could not start because the grading machine could not download an image (registry "
                "unreachable). This is not a problem with your work.",
                message,
            )
        current = settle(stack, time.monotonic())
        sentence, logs = crash_report(stack, [s for s in current if s.crashed])
        return Outcome.failed(
            "`docker compose up` could not start the stack" + (f": {sentence}" if logs else "."),
            f"{message}\n{logs}".strip(),
        )
    current = settle(stack, deadline)
    crashed = [s for s in current if s.crashed]
    if crashed:
        sentence, logs = crash_report(stack, crashed)
        return Outcome.failed(f"A service does not stay up: {sentence}", logs)
    waiting = [s for s in current if not s.settled]
    if waiting:
        sentence, logs = crash_report(stack, waiting)
        return Outcome.failed(f"Not every service was ready within {timeout:.0f} s: {sentence}", logs)
    running = ", ".join(f"`{s.service}`" for s in current if s.state == "running")
    return Outcome.passed(f"The stack started: {running} running.")


def run(ctx: Context) -> Outcome:
    return _judge(ctx).at(ctx.compose.location("services"))


CHECK = Check(
    id="startup.up",
    category=Category.STARTUP,
    title="Stack starts",
    max_points=10,
    run=run,
    requires=("dockerfile.build",),
)
