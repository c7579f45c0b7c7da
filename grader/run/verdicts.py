"""Verdicts several checks give for the same reason: one root cause, one deduction. The check
that finds a fault deducts it; what it keeps from being judged is skipped with `cause` naming
that check (README: "One root cause, one deduction"). Check ids are named, not imported: checks
import grader services, never each other."""

from __future__ import annotations

import dataclasses

from grader.intake.project import ComposeProject, data_not_kept, legacy_mount
from grader.intake.values import listed
from grader.messages import msg, named
from grader.model import Outcome, Status
from grader.run.context import Context, StackContext
from grader.run.stash import StashKey

COMPOSE_FILE, COMPOSE_VOLUME, STARTUP = "compose.file", "compose.volume", "startup.up"
# What startup.up leaves for the checks after it (grader.run.stash): the services it saw crash
# (deducted once, there), and those that crashed or never got ready (charged_to_values).
STARTUP_CRASHED: StashKey[frozenset[str]] = StashKey("startup.crashed")
STARTUP_FAILING: StashKey[frozenset[str]] = StashKey("startup.failing")


def without_model() -> Outcome:
    """For the checks that read the compose model when there is none to read."""
    return Outcome.skipped(
        msg("runner.needs_pass", needed=named(COMPOSE_FILE), state=msg("state.failed"))
        + " "
        + msg("compose.unreadable_model"),
        cause=COMPOSE_FILE,
    )


def analysed_without(ctx: Context) -> str:
    """The note of a verdict read from the model without its missing env files, or ""."""
    missing = ctx.resolution.missing_env_file
    return " " + msg("compose.graded_without_env", missing=ctx.relative(missing)) if missing else ""


def because_of_legacy_mount(project: ComposeProject, service: str, what: str) -> Outcome | None:
    """`what` (startup, the data check) skipped, naming compose.volume, when `service` is the
    database that refused to start for the reason compose.volume deducts; None otherwise."""
    if service != project.db_service() or not legacy_mount(project):
        return None
    return Outcome.skipped(
        msg("volume.root_cause", db=service, what=what, check=named(COMPOSE_VOLUME)), cause=COMPOSE_VOLUME
    )


def crashed_at_startup(ctx: StackContext, service: str, what: str) -> Outcome | None:
    """`what` (the API check, the data check) skipped, naming startup.up, when `service` is one
    startup already saw crash; None otherwise."""
    if service not in ctx.stash.get(STARTUP_CRASHED, frozenset()):
        return None
    return Outcome.skipped(msg("startup.root_cause", service=service, what=what, check=named(STARTUP)), cause=STARTUP)


def lost_for_the_volume(project: ComposeProject, what: str, evidence: str = "") -> Outcome | None:
    """`what` (the data check, the persistence scenario), which saw the data lost, skipped naming
    compose.volume when that check already deducts the mount that loses it; None otherwise. Only
    after the cycle: data a stack kept after all passes, whatever the static reading said."""
    if not data_not_kept(project):
        return None
    skipped = Outcome.skipped(
        msg("volume.lost_root_cause", what=what, check=named(COMPOSE_VOLUME)), cause=COMPOSE_VOLUME
    )
    return dataclasses.replace(skipped, evidence=evidence)


def charged_to_values(ctx: StackContext, outcome: Outcome) -> Outcome:
    """startup.up failed while grading values are missing (grader.intake.values): the instructor's to
    fix, so an `error` naming the variables and the rubric key, never the student's deduction.
    Only when every service that crashed or never got ready lacks a value itself or waits on one
    that does: a database that crashed for its volume is the student's, whatever the API lacks.
    Once the stack is up, what fails later is the student's (`rubric check --against` tells the
    instructor beforehand what a class needs)."""
    failing = ctx.stash.get(STARTUP_FAILING, frozenset())
    if outcome.status is not Status.FAILED or not ctx.gaps or not failing:
        return outcome
    lacking = {g.service for g in ctx.gaps} & failing
    if not lacking or not all(s in lacking or _waits_on(ctx, s, lacking) for s in failing):
        return outcome
    evidence = f"{outcome.feedback}\n{outcome.evidence}".strip()
    return Outcome.error(msg("values.missing", gaps=listed(g for g in ctx.gaps if g.service in lacking)), evidence)


def _waits_on(ctx: StackContext, service: str, others: set[str]) -> bool:
    """Whether `service` depends, directly or through others, on one of `others`."""
    services = ctx.project.services
    seen, queue = set(), [service]
    while queue:
        current = queue.pop()
        for needed in (services.get(current) or {}).get("depends_on") or {}:
            if needed in others:
                return True
            if needed not in seen:
                seen.add(needed)
                queue.append(needed)
    return False
