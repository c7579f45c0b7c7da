"""`grader report REPORT.json`: other formats from a saved JSON report, without grading again; and
the writing of every format a command asks for (`finish`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from grader.commands.exits import EXIT_BELOW, EXIT_INFRA, EXIT_OK
from grader.errors import BadInput
from grader.reports.document import schema
from grader.reports.outputs import Targets, emit


def load_report(path: Path) -> dict[str, Any]:
    import jsonschema  # here, not at the top: only this command needs it, and `grader lint` starts fast

    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(doc, schema())
    except (OSError, ValueError, jsonschema.ValidationError) as exc:
        message = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
        raise BadInput(f"{path}: not a compose-grader report ({message})") from exc
    return doc


def finish(doc: dict[str, Any], args: argparse.Namespace, json_path: Path | None) -> int:
    targets = Targets(json_path, args.junit, args.markdown, args.gradescope, args.classroom)
    try:
        emit(doc, targets, os.environ, sys.stdout)
    except OSError as exc:
        raise BadInput(f"cannot write a report: {exc}") from exc
    written = {"JSON": json_path, "JUnit": args.junit, "Markdown": args.markdown, "Gradescope": args.gradescope}
    for label, path in written.items():
        if path:
            sys.stdout.write(f"{label} report: {path}\n")
    if doc["status"] == "error":
        return EXIT_INFRA  # the caller's exception handling decides the real exit code
    if doc["status"] == "incomplete":
        sys.stderr.write(f"grader: incomplete: {doc['ungraded']['points']:g} points could not be graded\n")
        return EXIT_INFRA  # a counted check ended in `error`: the score is not a grade
    if args.fail_under is not None and doc["score"] < args.fail_under:
        return EXIT_BELOW
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    return finish(load_report(args.report), args, None)
