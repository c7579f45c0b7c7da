"""Immutable values shared by checks, the runner and the report writers."""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from typing import NamedTuple

EVIDENCE_LIMIT = 4000  # characters of evidence kept per check; the tail is what explains a failure


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"  # the student's submission does not do what the homework asks
    ERROR = "error"  # the grader or the machine failed; never counted against the student
    SKIPPED = "skipped"  # a prerequisite did not pass, so the check could not be judged


class Stage(str, enum.Enum):
    """Which of the run's timeouts bounds a check (grader.run.context.Options.deadline)."""

    STATIC = "static"  # reads files, runs `compose config` or hadolint
    BUILD = "build"  # `compose build`
    START = "start"  # `up`, waiting for services, HTTP requests
    CYCLE = "cycle"  # `down` and `up` again, then the database and the API once more


class Category(str, enum.Enum):
    DOCKERFILE = "dockerfile"
    COMPOSE = "compose"
    SECURITY = "security"
    STARTUP = "startup"
    API = "api"
    PERSISTENCE = "persistence"


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def bound(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    """Plain text (no terminal colours or control characters), at most `limit` characters,
    preferring the end (where errors are)."""
    text = _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n"))).strip("\n")
    if len(text) <= limit:
        return text
    return "[...]\n" + text[-(limit - 6) :]


class Location(NamedTuple):
    """Where a finding is, relative to the submission's root: for annotations and feedback."""

    file: str
    line: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the runner adds identity, points and timing."""

    status: Status
    feedback: str
    evidence: str = ""
    # Share of the check's points earned, 0..1; None: all when passed, none otherwise. A share,
    # not points, so an instructor's rubric can reweight a check without changing it.
    fraction: float | None = None
    hints: tuple[str, ...] = ()
    location: Location | None = None
    # Skipped because of another check's verdict: the id of that check (the root cause), so a
    # fault costs one deduction and the feedback names the one thing to fix.
    cause: str | None = None

    @classmethod
    def passed(cls, feedback: str, evidence: str = "", hints: tuple[str, ...] = ()) -> Outcome:
        return cls(Status.PASSED, feedback, evidence, None, hints)

    @classmethod
    def failed(
        cls,
        feedback: str,
        evidence: str = "",
        fraction: float | None = None,
        hints: tuple[str, ...] = (),
        location: Location | None = None,
    ) -> Outcome:
        return cls(Status.FAILED, feedback, evidence, fraction, hints, location)

    def at(self, location: Location | None) -> Outcome:
        """The same outcome pointing at a file/line, when it is a failure without one yet."""
        if self.status is not Status.FAILED or self.location is not None or location is None:
            return self
        return dataclasses.replace(self, location=location)

    @classmethod
    def error(cls, feedback: str, evidence: str = "") -> Outcome:
        return cls(Status.ERROR, feedback, evidence)

    @classmethod
    def skipped(cls, feedback: str, cause: str | None = None) -> Outcome:
        return cls(Status.SKIPPED, feedback, cause=cause)


class Answer(NamedTuple):
    """The API's first answer over HTTP (any status), seen while startup.up watched the stack."""

    url: str
    status: int
    body: str  # its first characters, for the evidence
    at: float  # time.monotonic() when it came


class CycleResult(NamedTuple):
    """The persistence cycle's verdicts (grader.engine.persistence): both persistence checks read the one
    `down` + `up` whichever of them runs first."""

    marker: Outcome  # the database marker (persistence.data)
    scenario: Outcome | None  # the rubric's API-level scenario, run in the same cycle


@dataclass(frozen=True)
class CheckResult:
    id: str
    category: Category
    title: str
    status: Status
    points: float
    max_points: float
    feedback: str
    evidence: str
    hints: tuple[str, ...]
    duration_s: float
    location: Location | None = None
    hidden: bool = False  # counts, but student formats withhold its feedback (rubric)
    cause: str | None = None  # skipped: the check whose verdict is the root cause


class Substitution(NamedTuple):
    """An image reference the rubric pinned in the grader's working copy."""

    where: str  # `docker-compose.yml services.db.image`, `Dockerfile line 1`
    written: str  # what the student wrote: `postgres`, `node:latest`
    used: str  # what the grader used: `postgres:16`


@dataclass(frozen=True)
class Report:
    schema_version: str
    grader_name: str
    grader_version: str
    submission_path: str
    submission_name: str
    started_at: str
    duration_s: float
    status: str  # "graded" | "incomplete" (a counted check ended in `error`) | "error"
    lang: str = "en"  # the language of every student-facing string in the report
    checks: tuple[CheckResult, ...] = field(default=())
    warnings: tuple[str, ...] = ()  # for the instructor: e.g. leftovers teardown could not remove
    error: str | None = None  # why the run could not grade; shown to students
    traceback: str | None = None  # the grader's crash, for the instructor; never in student formats
    images: tuple[Substitution, ...] = ()  # the rubric's image pins applied in the working copy
    kind: str = "grade"  # "grade" | "lint" (the static checks only: nothing built or started)
    timings: tuple[tuple[str, float], ...] = ()  # (phase, seconds) in run order (grader.run.timing)
    project_dir: str = "."  # the folder graded, relative to the repository (grader.intake.locate)
    project_found: str = "root"  # root | found | chosen
    left_out: tuple[str, ...] = ()  # services not started: the rubric's helpers
    env_used: tuple[str, ...] = ()  # env files grading values or a committed example filled in

    @property
    def score(self) -> float:
        return round(sum(c.points for c in self.checks), 2)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_points for c in self.checks), 2)

    @property
    def ungraded(self) -> tuple[CheckResult, ...]:
        """Counted checks the run could not judge: those that ended in `error` (the grader's or
        the machine's fault) and those skipped because of one. Their points are no verdict."""
        errored = {c.id for c in self.checks if c.status is Status.ERROR}
        return tuple(
            c
            for c in self.checks
            if c.max_points > 0 and (c.status is Status.ERROR or (c.status is Status.SKIPPED and c.cause in errored))
        )
