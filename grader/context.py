"""What a check gets: everything a run prepared before the first check, complete when built.

`grader.runner.prepare` builds it step by step (screen, grading values, compose, the Dockerfile,
the stack behind the gate); nothing here runs a command or writes a file when a check reads it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from grader.dockerfile import DockerfileSource
from grader.errors import GateClosed
from grader.limits import Limits
from grader.model import Answer, Category, CycleResult, Outcome, Phase, Substitution
from grader.project import ComposeProject
from grader.resolve import Resolution
from grader.rubric import Rubric
from grader.timing import Timings
from grader.untrusted import relative
from grader.values import Gap

if TYPE_CHECKING:  # the engine's libraries load only for a run that uses the engine
    from grader.stack import Stack


@dataclass(frozen=True)
class Options:
    build_timeout: float = 600.0  # `compose build`, all services
    start_timeout: float = 120.0  # `up`, the services settling, the API answering, the DB answering
    lang: str = "en"  # language of the feedback
    limits: Limits = field(default_factory=Limits)  # what each service may use
    # Past its own timeouts (each step inside a check has one), how long a check may still run
    # before the grader stops it and reports `error`: room for logs and diagnosis.
    grace: float = 60.0

    def deadline(self, phase: Phase) -> float:
        """The longest a check of `phase` may take. Its steps' own timeouts end a slow
        submission first, as `failed` with the reason; this catches what they cannot (an engine
        that stops answering), so the run always ends."""
        static = 60.0  # `compose config` and hadolint have 60 s timeouts
        return (
            self.grace
            + {
                Phase.STATIC: static,
                Phase.BUILD: self.build_timeout,
                Phase.START: 2 * self.start_timeout,  # up + settle share one timeout; then the API's
                Phase.CYCLE: 3 * self.start_timeout + 90,  # down (90), up, the database, the API
            }[phase]
        )

    @classmethod
    def of(
        cls, rubric: Rubric, build: float | None = None, start: float | None = None, lang: str | None = None
    ) -> Options:
        """Command-line values win over the rubric's, which win over the defaults."""
        return cls(
            build_timeout=build or rubric.build_timeout or cls.build_timeout,
            start_timeout=start or rubric.start_timeout or cls.start_timeout,
            lang=lang or rubric.lang or cls.lang,
            limits=dataclasses.replace(Limits(), **rubric.limits),
        )


class NoModel(RuntimeError):
    """A check read the compose model of a run that has none: it must require `compose.file`."""


@dataclass
class Shared:
    """What one check leaves for later ones, one typed slot each, written by the check named."""

    startup_crashed: frozenset[str] = frozenset()  # startup.up: the services it saw crash (deducted once)
    startup_failing: frozenset[str] = frozenset()  # startup.up: crashed or never ready (grader.values)
    persistence: CycleResult | None = None  # the first persistence check: the one down/up cycle
    answer: Answer | None = None  # startup.up: the API's first answer while it watched the stack


@dataclass(frozen=True)
class Context:
    root: Path  # the copy the grader works on; the submission itself is never touched
    options: Options
    project_name: str
    rubric: Rubric
    resolution: Resolution  # the compose model, or why there is none
    dockerfile: DockerfileSource  # the Dockerfile graded, as the student wrote it
    prepared: Stack | None = None  # None: no model to run, the security gate refused it, or `unprepared`
    unprepared: str = ""  # the grader's fault that left no stack, if that is why there is none
    secrets: tuple[str, ...] = ()  # grading values no report may show (grader.redaction)
    substitutions: tuple[Substitution, ...] = ()  # the rubric's image pins, as applied
    dropped_links: tuple[str, ...] = ()  # `link -> target` left out of the copy: they leave the repo
    shared: Shared = field(default_factory=Shared)
    timings: Timings = field(default_factory=Timings)  # seconds per phase, for the report
    project_dir: str = "."  # the folder of the repository graded (grader.locate); `root` is its copy
    left_out: tuple[str, ...] = ()  # services not started: the rubric's helpers (grader.helpers)
    examples: tuple[str, ...] = ()  # env files a committed example stood in for (grader.environment)
    gaps: tuple[Gap, ...] = ()  # grading values the run lacks, the instructor's to give (grader.values)
    absent: frozenset[str] = frozenset()  # env files the repository does not commit (grader.values.absent)

    @property
    def compose(self) -> ComposeProject:
        """The resolved model; only for checks that require `compose.file` to pass."""
        if self.resolution.project is None:
            raise NoModel("no resolved compose model: this check must require compose.file")
        return self.resolution.project

    @property
    def stack(self) -> Stack:
        """The stack behind the gate; only for checks that require `security.policy` to pass."""
        if self.prepared is None:
            raise GateClosed(self.unprepared or "no stack passed the security gate: nothing may build or start")
        return self.prepared

    @property
    def analysis(self) -> ComposeProject | None:
        return self.resolution.analysis

    def app_service(self) -> str | None:
        """The API service: the rubric's choice when it names one, else the compose file's."""
        project = self.analysis
        return project.app_service() if project is not None else None

    def app_port(self) -> int | None:
        """The API's container port: the rubric's, else the first one the service publishes."""
        app = self.app_service()
        if self.rubric.app_port:
            return self.rubric.app_port
        project = self.analysis
        targets = project.published_targets(app) if app and project else []
        return targets[0] if targets else None

    def relative(self, text: str) -> str:
        """Compose and docker print absolute paths of the copy; show them as the student's paths."""
        return relative(self.root, text)


class Check(NamedTuple):
    """One gradable item. Every module in `checks/` exposes one of these as CHECK."""

    id: str
    category: Category
    title: str
    max_points: float
    run: Callable[[Context], Outcome]
    # Checks that must have *passed* first; otherwise this one is skipped.
    requires: tuple[str, ...] = ()
    # Checks that must have *run* (passed or failed) first; otherwise this one is skipped.
    after: tuple[str, ...] = ()
    hidden: bool = False
    phase: Phase = Phase.STATIC  # which timeouts bound it; past them the check ends as `error`
