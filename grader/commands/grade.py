"""`grader grade PATH` and `grader lint PATH`: one submission, and every report asked for."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from grader.commands.exits import EXIT_CRASH
from grader.commands.report import finish
from grader.context import Options
from grader.errors import GraderError, Terminated
from grader.progress import for_stream
from grader.redaction import inert
from grader.report import to_dict, to_table
from grader.rubric import Rubric
from grader.rubric import load as load_rubric
from grader.runner import grade, not_graded


def run(args: argparse.Namespace) -> int:
    """Grade (or lint) and write every report asked for. A run that cannot grade (bad input, no engine, a
    signal, a crash of the grader itself) still writes them, with status `error`, so a CI job or a
    batch script always finds a report; then the exit code says what happened."""
    lang = args.lang or "en"
    kind = "lint" if args.command == "lint" else "grade"
    try:
        rubric = load_rubric(args.rubric) if args.rubric else Rubric()
        lint = args.command == "lint"
        options = Options.of(
            rubric, None if lint else args.build_timeout, None if lint else args.start_timeout, args.lang
        )
        lang = options.lang
        progress = for_stream(sys.stderr)  # live on a terminal, plain lines in a CI log
        try:
            # Images are removed after the report (grader.reaper) unless GRADER_REAP=now asks to wait,
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
        finish(to_dict(not_graded(args.path, str(exc), lang, kind=kind)), args, args.json)
        raise
    except KeyboardInterrupt:
        finish(to_dict(not_graded(args.path, "interrupted (Ctrl-C)", lang, kind=kind)), args, args.json)
        raise
    except Terminated:
        finish(to_dict(not_graded(args.path, "terminated (SIGTERM)", lang, kind=kind)), args, args.json)
        raise
    except Exception as exc:
        error = (
            f"the grader crashed ({type(exc).__name__}: {exc}); this is a bug in the grader, not the student's fault"
        )
        finish(to_dict(not_graded(args.path, error, lang, traceback.format_exc(), kind)), args, args.json)
        sys.stderr.write(inert(traceback.format_exc()))
        sys.stderr.write(inert(f"grader: {error}\n"))
        return EXIT_CRASH
    sys.stdout.write(to_table(report))
    return finish(to_dict(report), args, args.json)
