"""`grader grade PATH` and `grader lint PATH`: one submission, and every report asked for."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any

from grader.commands.exits import EXIT_CRASH
from grader.commands.report import finish
from grader.errors import BadInput, GraderError, Terminated
from grader.intake.rubric import Rubric
from grader.intake.rubric import load as load_rubric
from grader.reports.document import to_dict, to_table
from grader.reports.redaction import inert
from grader.run.context import Options
from grader.run.events import JsonLines, RunFinished
from grader.run.progress import Fanout, Progress, for_stream
from grader.run.runner import grade, not_graded


@contextlib.contextmanager
def _events(target: str | None) -> Iterator[JsonLines | None]:
    """`--events`: the JSON lines' stream. With `-` they own standard output, and what the
    command prints besides (the table, where reports were written) goes to standard error."""
    if target is None:
        yield None
    elif target == "-":
        stdout = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            yield JsonLines(stdout)
    else:
        try:
            stream = open(target, "w", encoding="utf-8")  # noqa: SIM115 (closed below, after the run)
        except OSError as exc:
            raise BadInput(f"--events {target}: {exc}") from exc
        with stream:
            yield JsonLines(stream)


def run(args: argparse.Namespace) -> int:
    """Grade (or lint) and write every report asked for (`--events`: and the run's events as they
    happen). A run that cannot grade (bad input, no engine, a signal, a crash of the grader
    itself) still writes them, with status `error`, so a CI job or a batch script always finds a
    report; then the exit code says what happened."""
    with contextlib.ExitStack() as open_until_the_end:
        return _run(args, open_until_the_end)


def _report(doc: dict[str, Any], args: argparse.Namespace, events: JsonLines | None) -> int:
    """Every report asked for, then `run.finished`: a reader of the events finds them written."""
    try:
        return finish(doc, args, args.json)
    finally:  # once, on every path: a report that could not be written is an error the exit code says
        if events is not None:
            events.emit(RunFinished(doc["status"], doc["score"], doc["max_score"], doc["duration_s"]))


def _run(args: argparse.Namespace, open_until_the_end: contextlib.ExitStack) -> int:
    lang = args.lang or "en"
    kind = "lint" if args.command == "lint" else "grade"
    events: JsonLines | None = None
    try:
        # Inside the try: an events file that cannot be opened is bad input, with its error report.
        events = open_until_the_end.enter_context(_events(args.events))
        rubric = load_rubric(args.rubric) if args.rubric else Rubric()
        lint = args.command == "lint"
        options = Options.of(
            rubric, None if lint else args.build_timeout, None if lint else args.start_timeout, args.lang
        )
        lang = options.lang
        progress: Progress = for_stream(sys.stderr)  # live on a terminal, plain lines in a CI log
        if events is not None:
            progress = Fanout(progress, events)
        try:
            # Images are removed after the report (grader.engine.reaper) unless GRADER_REAP=now asks to wait,
            # or the grader is a container's PID 1 (a reaper would end with it).
            background = os.environ.get("GRADER_REAP", "background") != "now" and os.getpid() != 1
            report = grade(
                args.path,
                options,
                rubric=rubric,
                progress=progress,
                lint=lint,
                project=args.project,
                reap_in_background=background,
            )
        finally:
            progress.close()
    except GraderError as exc:
        _report(to_dict(not_graded(args.path, str(exc), lang, kind=kind)), args, events)
        raise
    except KeyboardInterrupt:
        _report(to_dict(not_graded(args.path, "interrupted (Ctrl-C)", lang, kind=kind)), args, events)
        raise
    except Terminated:
        _report(to_dict(not_graded(args.path, "terminated (SIGTERM)", lang, kind=kind)), args, events)
        raise
    except Exception as exc:
        error = (
            f"the grader crashed ({type(exc).__name__}: {exc}); this is a bug in the grader, not the student's fault"
        )
        _report(to_dict(not_graded(args.path, error, lang, traceback.format_exc(), kind)), args, events)
        sys.stderr.write(inert(traceback.format_exc()))
        sys.stderr.write(inert(f"grader: {error}\n"))
        return EXIT_CRASH
    sys.stdout.write(to_table(report))
    return _report(to_dict(report), args, events)
