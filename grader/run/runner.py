"""One grading run, top to bottom (`grade`): copy the submission, screen its compose files, fill
the instructor's grading values in, resolve the model with compose, read the Dockerfile, prepare
the stack behind the security gate, run every registered check in order, always tear down."""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from checks import registry as build_registry
from grader import NAME, __version__
from grader.engine.connect import compose_command, docker_client
from grader.intake import jail, locate
from grader.intake.rubric import Rubric
from grader.intake.submission import copy_submission, project_name, validate_submission
from grader.messages import language
from grader.model import Report, Stage, bound
from grader.reports import redaction
from grader.reports.redaction import inert, redact
from grader.run.context import AnyCheck, Options
from grader.run.deadline import DeadlineExceeded, deadline
from grader.run.events import PhaseEnded, PhaseStarted
from grader.run.execute import run_checks
from grader.run.prepare import prepare
from grader.run.progress import Progress, Silent
from grader.run.timing import Timings

if TYPE_CHECKING:  # the engine's libraries load only for a run that uses the engine
    from grader.engine.stack import Stack

# 1.1: `location` of a finding; 1.2: `hidden` checks; 1.3: `lang`; 1.4: `traceback`;
# 1.5: status `incomplete` with `ungraded`, a check's `cause`, `images` (the rubric's pins);
# 1.6: `kind` (grade or lint), `timings` (seconds per phase); 1.7: `submission.project_dir` and
# `project_found` (grader.intake.locate), `setup` (services left out, env files filled in)
SCHEMA_VERSION = "1.7"
TEARDOWN_S = 240.0  # removals by label (containers at once, then networks and volumes), images, layers


def _where_in_repository(where: str, project_dir: str) -> str:
    """`Dockerfile line 1` from the repository's root: `ecommerce-ana/Dockerfile line 1`."""
    return where if project_dir == locate.ROOT else f"{project_dir}/{where}"


def teardown(stack: Stack | None, seconds: float = TEARDOWN_S, background: bool = False) -> list[str]:
    """Remove everything the run started; what could not be removed, for the report. With
    `background`, images are removed after the report (grader.engine.reaper)."""
    if stack is None:
        return []
    try:
        with deadline(seconds):
            return stack.teardown(background)
    except DeadlineExceeded:
        return [f"teardown did not finish within {seconds:.0f} s; `grader cleanup` removes what is left"]


def _unconfined() -> tuple[str, ...]:
    """What the report says when this machine could not confine the run as grader.intake.jail does."""
    why = jail.available()
    return () if why is None else (f"compose config ran without its jail ({why}); merges of several anchors refused",)


def not_graded(path: Path, error: str, lang: str = "en", trace: str | None = None, kind: str = "grade") -> Report:
    """The report of a run that could not grade: bad input, no engine, a signal, a grader crash."""
    return Report(
        schema_version=SCHEMA_VERSION,
        grader_name=NAME,
        grader_version=__version__,
        submission_path=str(path.absolute()),
        submission_name=path.absolute().name,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        duration_s=0.0,
        status="error",
        lang=lang,
        error=inert(bound(error, 2000)),
        traceback=inert(bound(trace, 20_000)) if trace else None,
        kind=kind,
    )


def grade(
    path: Path,
    options: Options | None = None,
    registry: Mapping[str, AnyCheck] | None = None,
    rubric: Rubric | None = None,
    progress: Progress | None = None,
    lint: bool = False,
    project: str | None = None,
    reap_in_background: bool = False,
) -> Report:
    """Grade one submission folder. Raises BadInput / InfrastructureError before anything runs.
    With `lint`, the static checks only: no engine is asked for, nothing is built or started.
    `project`: the folder of the repository to grade (`--project`, a roster's `path`); without it,
    grader.intake.locate finds it (the root, or the one project folder below it). `reap_in_background`:
    the images the run built or pulled are removed by grader.engine.reaper after the report (the CLI's
    default), except after a signal or a crash, when the process removes them before it ends."""
    rubric = rubric or Rubric()
    checks = registry if registry is not None else build_registry(rubric)
    if lint:
        checks = {k: c for k, c in checks.items() if c.stage is Stage.STATIC}
    submission = validate_submission(path)
    located = locate.given(submission, project) if project else locate.locate(submission, rubric.project)
    source = submission / located.path if located.below else submission
    client = None if lint else docker_client()
    compose_command()  # fail early, with install instructions, when compose is missing
    started_at = datetime.now(timezone.utc)
    t0 = time.monotonic()
    watched = progress or Silent()  # the human progress, --events, or nothing
    timings = Timings(
        lambda name, seconds: watched.emit(PhaseStarted(name) if seconds is None else PhaseEnded(name, seconds))
    )
    # A container can leave root-owned files in the copy (a bind mount of `.`): a grader that is
    # not root cannot delete them, and that must not cost the report.
    with tempfile.TemporaryDirectory(prefix="grader-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp) / "submission"
        with timings.phase("copy"):
            dropped = copy_submission(source, root)
        hidden = redaction.secrets(rubric.secret_items(), redaction.submission_assignments(submission))
        options = options or Options.of(rubric)
        with language(options.lang):
            with timings.phase("config"):
                name = project_name(submission)
                prepared = prepare(root, options, client, name, rubric, hidden, dropped, timings, located.path)
            try:
                results = run_checks(prepared, checks, watched)
            finally:
                with timings.phase("teardown") if prepared.stack else nullcontext():
                    ended_normally = sys.exc_info()[0] is None
                    problems = teardown(prepared.stack, background=reap_in_background and ended_normally)
    ctx = prepared.context
    report = Report(
        schema_version=SCHEMA_VERSION,
        grader_name=NAME,
        grader_version=__version__,
        submission_path=str(submission),
        submission_name=submission.name,
        started_at=started_at.isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - t0, 2),
        status="graded",
        lang=ctx.options.lang,
        checks=results,
        # what compose resolved may carry a variable's value: redacted like all feedback
        images=tuple(
            s._replace(written=inert(redact(s.written, ctx.secrets)), where=_where_in_repository(s.where, located.path))
            for s in ctx.substitutions
            if not any(s.where.endswith(f" services.{helper}.image") for helper in ctx.left_out)  # never run
        ),
        warnings=tuple(inert(f"not copied (link outside the submission): {d}") for d in dropped)
        + tuple(f"cleanup: {p}" for p in problems)
        + _unconfined()
        + tuple(prepared.stack.notes if prepared.stack else ()),
        kind="lint" if lint else "grade",
        timings=timings.spent(),
        project_dir=located.path,
        project_found=located.how,
        left_out=tuple(ctx.left_out),
        env_used=tuple(inert(redact(n, ctx.secrets)) for n in ctx.resolution.env_notes),
    )
    # Points the run could not judge are not a grade: a gradebook must not record this score.
    return dataclasses.replace(report, status="incomplete") if report.ungraded else report
