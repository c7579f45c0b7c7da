"""What a check gets: everything a run prepared before the first check, complete when built.

`grader.run.prepare.prepare` builds it step by step (screen, grading values, compose, the Dockerfile,
the stack behind the gate); nothing here runs a command or writes a file when a check reads it.

Two kinds of check, two contexts, and the types say which reads what (mypy checks it):
- a `Check` (static) gets a `Context`: the files as written, the model as compose resolved it
  (`resolution`, `analysis`: either may be missing), the rubric, the Dockerfile. No stack.
- a `StackCheck` gets a `StackContext`, the same plus `project` (the resolved compose model) and `stack`
  (the run's live stack), neither ever None: the runner builds it only once the security gate
  passed and a stack was prepared, and a stack check's declaration must wait for that gate
  (checked when the registry is built, `checks.ordered`).
What one check leaves for a later one goes in the run's `stash`, under a typed key declared
beside the value's producer (pytest's `Stash`), so this module does not change per check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from grader.engine.limits import Limits
from grader.intake.dockerfile import DockerfileSource
from grader.intake.project import ComposeProject
from grader.intake.resolve import Resolution
from grader.intake.rubric import Rubric
from grader.intake.untrusted import relative
from grader.intake.values import Gap
from grader.model import Category, Outcome, Stage, Substitution
from grader.run.stash import Stash
from grader.run.timing import Timings

if TYPE_CHECKING:  # the engine's libraries load only for a run that uses the engine
    from grader.engine.stack import Stack


@dataclass(frozen=True)
class Options:
    build_timeout: float = 600.0  # `compose build`, all services
    start_timeout: float = 120.0  # `up`, the services settling, the API answering, the DB answering
    lang: str = "en"  # language of the feedback
    limits: Limits = field(default_factory=Limits)  # what each service may use
    # Past its own timeouts (each step inside a check has one), how long a check may still run
    # before the grader stops it and reports `error`: room for logs and diagnosis.
    grace: float = 60.0

    def deadline(self, stage: Stage) -> float:
        """The longest a check of `stage` may take. Its steps' own timeouts end a slow
        submission first, as `failed` with the reason; this catches what they cannot (an engine
        that stops answering), so the run always ends."""
        static = 60.0  # `compose config` and hadolint have 60 s timeouts
        return (
            self.grace
            + {
                Stage.STATIC: static,
                Stage.BUILD: self.build_timeout,
                Stage.START: 2 * self.start_timeout,  # up + settle share one timeout; then the API's
                Stage.CYCLE: 3 * self.start_timeout + 90,  # down (90), up, the database, the API
            }[stage]
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


@dataclass(frozen=True)
class Context:
    root: Path  # the copy the grader works on; the submission itself is never touched
    options: Options
    project_name: str
    rubric: Rubric
    resolution: Resolution  # the compose model, or why there is none
    dockerfile: DockerfileSource  # the Dockerfile graded, as the student wrote it
    secrets: tuple[str, ...] = ()  # grading values no report may show (grader.reports.redaction)
    substitutions: tuple[Substitution, ...] = ()  # the rubric's image pins, as applied
    dropped_links: tuple[str, ...] = ()  # `link -> target` left out of the copy: they leave the repo
    stash: Stash = field(default_factory=Stash)  # what a check leaves for later ones (StashKey)
    timings: Timings = field(default_factory=Timings)  # seconds per phase, for the report
    project_dir: str = "."  # the folder of the repository graded (grader.intake.locate); `root` is its copy
    left_out: tuple[str, ...] = ()  # services not started: the rubric's helpers (grader.intake.helpers)
    examples: tuple[str, ...] = ()  # env files a committed example stood in for (grader.intake.environment)
    gaps: tuple[Gap, ...] = ()  # grading values the run lacks, the instructor's to give (grader.intake.values)
    absent: frozenset[str] = frozenset()  # env files the repository does not commit (grader.intake.values.absent)

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


@dataclass(frozen=True, kw_only=True)
class StackContext(Context):
    """What a check that needs the running stack reads: everything a static check does, plus the
    model compose resolved with everything and the stack the security gate let through."""

    project: ComposeProject  # the resolved model (resolution.project), never None here
    stack: Stack  # the run's stack, prepared behind the gate

    @classmethod
    def of(cls, ctx: Context, stack: Stack | None) -> StackContext | None:
        """`ctx` with its model and `stack`; None when either is missing (no model to run, the
        gate refused it, or preparing the stack failed)."""
        model = ctx.resolution.project
        if model is None or stack is None:
            return None
        shared = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(Context)}  # the same stash
        return cls(**shared, project=model, stack=stack)


class Prepared(NamedTuple):
    """What `grader.run.prepare.prepare` hands the run: the context every check reads, and the stack
    (None: no model to run, the security gate refused it, or `unprepared`)."""

    context: Context
    stack: Stack | None = None
    unprepared: str = ""  # the grader's fault that left no stack, if that is why there is none


@dataclass(frozen=True, kw_only=True)
class _Declared:
    """What every check declares besides its function: see `Check` and `StackCheck`."""

    id: str
    category: Category
    title: str
    max_points: float
    # Checks that must have *passed* first; otherwise this one is skipped.
    requires: tuple[str, ...] = ()
    # Checks that must have *run* (passed or failed) first; otherwise this one is skipped.
    after: tuple[str, ...] = ()
    hidden: bool = False


@dataclass(frozen=True, kw_only=True)
class Check(_Declared):
    """A static check: it reads the files and the model, never the engine. Every module in
    `checks/` exposes a `Check` or a `StackCheck` as CHECK."""

    run: Callable[[Context], Outcome]
    stage: Stage = Stage.STATIC

    def __post_init__(self) -> None:
        if self.stage is not Stage.STATIC:
            raise ValueError(f"{self.id}: a Check is static; one of stage {self.stage.value} is a StackCheck")


@dataclass(frozen=True, kw_only=True)
class StackCheck(_Declared):
    """A check of the running stack: it builds, starts or watches it. It gets a StackContext, and
    must wait for the gate (`requires` security.policy and compose.file, or waits on another
    StackCheck): checked when the registry is built."""

    run: Callable[[StackContext], Outcome]
    stage: Stage  # which timeouts bound it; past them the check ends as `error`

    def __post_init__(self) -> None:
        if self.stage is Stage.STATIC:
            raise ValueError(f"{self.id}: a StackCheck runs in the build, start or cycle stage, not the static one")


AnyCheck = Check | StackCheck
