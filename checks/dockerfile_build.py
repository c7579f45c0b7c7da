"""ACTIVIDAD 01: the images build. A failure shows the failing step and its output."""

from __future__ import annotations

import re

from grader.engine.diagnose import network_failure
from grader.errors import CommandTimeout
from grader.messages import msg
from grader.model import Category, Location, Outcome, Stage
from grader.run.context import StackCheck, StackContext
from grader.run.deadline import remaining

_STEP = re.compile(r"^(Step \d+/\d+ : .*|#\d+ \[.*\].*)$", re.MULTILINE)
# Compose's own progress and the classic-builder notice say nothing about the student's build.
_NOISE = re.compile(r"(level=warning msg=\"buildx|^\s*Image \S+ Build(ing|t)\s*$)")
_COLOURS = re.compile(r"\x1b\[[0-9;]*m")
# A step stopped by the limits every build step gets (grader.engine.stack.BuildLimiter): killed for
# memory, or out of processes.
_AT_LIMITS = re.compile(r"returned a non-zero code: 137|Cannot fork|fork: retry|Resource temporarily unavailable")
# What the engine says when its layer store changed under a build (another program removed a
# layer the build stood on): the engine's fault, gone on a second build. The output is the
# student's too (`RUN echo "unknown parent image ID"; exit 1`), so it is never taken at its
# word: it only earns one more build, and a failure that repeats is the build's own.
RETRY_MARGIN_S, MIN_RETRY_S = 30.0, 60.0
_ENGINE_FAULT = re.compile(
    r"unknown parent image ID|failed to set parent|failed to register layer|layer does not exist"
)


def failing_step(output: str) -> str:
    """From the last build step on: the step that failed and what it printed."""
    output = _COLOURS.sub("", output)
    steps = list(_STEP.finditer(output))
    tail = output[steps[-1].start() :] if steps else output
    return "\n".join(line for line in tail.splitlines() if not _NOISE.search(line))


def unreachable_registry(step: str, missing_bases: list[str]) -> bool:
    """The machine could not reach a registry: the failing step says so, before any step of the
    student's ran (`---> Running in`), and an image the build pulls is indeed not on the engine.
    What a RUN step prints is the student's, fake `Step 9/9 : FROM …` headers included: `RUN echo
    "dial tcp: lookup x: no such host"; exit 1` must not turn a failed build into the machine's
    fault (an `incomplete` run)."""
    return bool(missing_bases) and network_failure(step.split("---> Running in", 1)[0])


def _judge(ctx: StackContext) -> Outcome:
    project = ctx.project
    services = project.build_services()
    if not services:
        return Outcome.skipped(msg("build.nothing"))
    timeout = ctx.options.build_timeout
    try:
        with ctx.timings.phase("build"):
            result = ctx.stack.build(timeout)
    except CommandTimeout as exc:
        return Outcome.failed(msg("build.timeout", seconds=f"{timeout:.0f}"), failing_step(exc.output))
    output = (result.stdout + result.stderr).decode(errors="replace")
    retried = ""
    fault = _ENGINE_FAULT.search(failing_step(output)) if result.returncode != 0 else None
    # The second build gets what is left of the check's own time, less a margin for teardown's
    # sake: a step that sleeps and then prints the words must not turn the check into `error`.
    second = min(timeout, remaining() - RETRY_MARGIN_S)
    if fault is not None and second >= MIN_RETRY_S:
        try:
            with ctx.timings.phase("build"):
                again = ctx.stack.build(second)
        except CommandTimeout:
            again = None  # the first build's failure stands
        if again is not None:
            retried, result = fault.group(0), again
            output = (result.stdout + result.stderr).decode(errors="replace")
    if result.returncode == 0:
        text = msg("build.ok", services=", ".join(f"`{s}`" for s in services))
        return Outcome.passed(text + (" " + msg("build.engine_retried", fault=retried) if retried else ""))
    step = failing_step(output)
    if network_failure(step) and unreachable_registry(step, ctx.stack.missing_bases()):
        return Outcome.error(msg("build.network"), step)
    first = step.splitlines()[0].strip() if step else ""
    match = re.match(r"Step (\d+)/(\d+) : (.*)", first)
    what = (
        msg("build.step", instruction=match.group(3), step=match.group(1), steps=match.group(2))
        if match
        else f"`{first}`"
    )
    limits = ctx.options.limits
    hints = (
        (msg("build.limits", memory=limits.memory, pids=limits.pids, cpus=f"{limits.cpus:g}", disk=limits.disk),)
        if _AT_LIMITS.search(step)
        else ()
    )
    return Outcome.failed(msg("build.failed", what=what), step, hints=hints)


def run(ctx: StackContext) -> Outcome:
    return _judge(ctx).at(Location(ctx.relative(str(ctx.dockerfile.path))))


CHECK = StackCheck(
    id="dockerfile.build",
    category=Category.DOCKERFILE,
    title="title.dockerfile.build",
    max_points=13,
    run=run,
    # compose.file: a model compose could only read without its env files is never run
    requires=("dockerfile.present", "compose.file", "security.policy"),
    stage=Stage.BUILD,
)
