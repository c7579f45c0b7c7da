"""The checks of a run, in registry order: why one cannot run yet (`requires`/`after`, the root
cause of a skip), one deadline each, a crash that check's `error`, and the context its kind reads
(a static Check the Context, a StackCheck the StackContext)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, NamedTuple

from grader.intake import locate
from grader.messages import msg, named, title
from grader.model import CheckResult, Location, Outcome, Status, bound
from grader.reports.redaction import inert, redact
from grader.run.context import AnyCheck, Context, Prepared, StackCheck, StackContext
from grader.run.deadline import DeadlineExceeded, deadline
from grader.run.events import CheckFinished, CheckStarted
from grader.run.progress import Progress, Silent

if TYPE_CHECKING:  # the engine's libraries load only for a run that uses the engine
    pass


class Blocker(NamedTuple):
    why: str  # for the student
    cause: str  # the check whose verdict is the root cause


def _blocker(
    check: AnyCheck,
    done: Mapping[str, CheckResult],
    present: set[str],
    blocked: Set[str] = frozenset(),
    readable: Set[str] = frozenset(),
) -> Blocker | None:
    """Why `check` cannot run yet; a prerequisite the rubric disabled does not block. The cause is
    followed to its root: startup skipped because the build was skipped because `compose.file`
    failed names `compose.file`, the one thing to fix. `blocked` are the checks the runner skipped
    (they never ran); a check that ran and skipped itself because of a root cause (the stack was
    started) does not block checks that only need it to have run. `readable`: checks whose
    `error` leaves something to read (compose.file without the instructor's grading values: the
    model resolved without env files), which does not block those that only read it."""
    for needed in (n for n in check.requires if n in present):
        result = done.get(needed)
        if result is None or result.status is not Status.PASSED:
            return _explain("runner.needs_pass", needed, done)
    for needed in (n for n in check.after if n in present):
        result = done.get(needed)
        if (
            result is None
            or (result.status is Status.ERROR and needed not in readable)
            or (result.status is Status.SKIPPED and (needed in blocked or result.cause is None))
        ):
            return _explain("runner.needs_run", needed, done)
    return None


def _explain(key: str, needed: str, done: Mapping[str, CheckResult]) -> Blocker:
    result = done.get(needed)
    state = msg(f"state.{result.status.value}") if result else msg("state.not_run")
    why = msg(key, needed=named(needed), state=state)
    cause = result.cause if result is not None and result.cause else needed
    root = done.get(cause)
    if root is not None and root.status is Status.ERROR:  # nothing the student can fix
        why += " " + msg("runner.root_error", cause=named(cause))
    elif cause != needed:
        why += " " + msg("runner.root_cause", cause=named(cause))
    return Blocker(why, cause)


def run_check(
    check: AnyCheck,
    prepared: Prepared,
    done: Mapping[str, CheckResult],
    present: set[str] | None = None,
    blocked: Set[str] = frozenset(),
    on_stack: StackContext | None = None,
) -> CheckResult:
    """Run one check; a crash becomes an `error` result for this check only. A static check gets
    the run's Context, a StackCheck the StackContext (`on_stack`, built once per run)."""
    ctx = prepared.context
    started = time.monotonic()
    present = present if present is not None else set(check.requires + check.after)
    blocker = _blocker(check, done, present, blocked, _readable(ctx))
    if blocker is not None:
        outcome = Outcome.skipped(blocker.why, blocker.cause)
    else:
        seconds = ctx.options.deadline(check.stage)
        try:
            with deadline(seconds):
                outcome = _call(check, prepared, on_stack)
        except DeadlineExceeded:
            outcome = Outcome.error(msg("runner.deadline", seconds=f"{seconds:.0f}"))
        except Exception as exc:
            outcome = Outcome.error(
                msg("runner.crash", error=f"{type(exc).__name__}: {exc}"),
                bound(traceback.format_exc(), 2000),
            )
    if outcome.status is Status.PASSED:
        share = 1.0 if outcome.fraction is None else outcome.fraction
    elif outcome.status is Status.FAILED:
        share = outcome.fraction or 0.0
    else:
        share = 0.0
    points = check.max_points * max(0.0, min(share, 1.0))
    hidden = ctx.secrets  # grading values no report may show
    return CheckResult(
        id=check.id,
        category=check.category,
        title=title(check.title),
        status=outcome.status,
        points=round(points, 2),
        max_points=check.max_points,
        # inert: a submission's words (its logs, compose's messages about its files) end up in CI logs
        feedback=inert(redact(outcome.feedback, hidden)),
        evidence=inert(bound(redact(ctx.relative(outcome.evidence), hidden))),
        hints=tuple(inert(redact(h, hidden)) for h in outcome.hints),
        duration_s=round(time.monotonic() - started, 2),
        location=_in_repository(outcome.location, ctx.project_dir),
        hidden=check.hidden,
        cause=outcome.cause if outcome.status is Status.SKIPPED else None,
    )


def _call(check: AnyCheck, prepared: Prepared, on_stack: StackContext | None) -> Outcome:
    """The check's function with the context its kind reads."""
    if not isinstance(check, StackCheck):
        return check.run(prepared.context)
    if on_stack is None:
        # Only when preparing the stack failed (`unprepared`): the registry refuses a StackCheck
        # that does not wait for the gate, whose passing means a stack was prepared.
        return Outcome.error(prepared.unprepared or msg("runner.no_stack"))
    return check.run(on_stack)


def _in_repository(location: Location | None, project_dir: str) -> Location | None:
    """A finding's file from the repository's root: what a student opens, what GitHub annotates."""
    if location is None or project_dir == locate.ROOT:
        return location
    return location._replace(file=f"{project_dir}/{location.file}")


def _readable(ctx: Context) -> frozenset[str]:
    """compose.file when compose lacked only an env file: its model without them is still read."""
    resolution = ctx.resolution
    return frozenset({"compose.file"}) if resolution.project is None and resolution.analysis else frozenset()


def run_checks(
    prepared: Prepared, registry: Mapping[str, AnyCheck], progress: Progress | None = None
) -> tuple[CheckResult, ...]:
    progress = progress or Silent()
    done: dict[str, CheckResult] = {}
    present = set(registry)
    blocked: set[str] = set()
    ctx = prepared.context
    on_stack = StackContext.of(ctx, prepared.stack)  # the same stash, timings and values as ctx
    for check in registry.values():
        if _blocker(check, done, present, blocked, _readable(ctx)) is not None:
            blocked.add(check.id)
        else:
            progress.emit(CheckStarted(check.id, title(check.title), check.stage))
        done[check.id] = run_check(check, prepared, done, present, blocked, on_stack)
        progress.emit(CheckFinished(done[check.id]))
    return tuple(done.values())
