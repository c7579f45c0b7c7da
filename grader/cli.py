"""Command line: `grader grade PATH`, `grader schema`. Thin: argparse, library calls, and the one
place that maps exceptions to exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from grader import NAME, __version__
from grader.context import Options
from grader.errors import GraderError
from grader.report import schema, to_table, write_json
from grader.runner import grade

EXIT_OK, EXIT_BELOW, EXIT_BAD_INPUT, EXIT_INFRA, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Grade Docker homework submissions.")
    parser.add_argument("--version", action="version", version=f"{NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade one submission folder")
    g.add_argument("path", type=Path, help="the student's repository (a folder)")
    g.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    g.add_argument("--fail-under", type=float, metavar="N", help="exit 1 when the score is below N")
    g.add_argument("--build-timeout", type=_positive, default=Options.build_timeout, metavar="S")
    g.add_argument("--start-timeout", type=_positive, default=Options.start_timeout, metavar="S")
    sub.add_parser("schema", help="print the JSON Schema of the report")
    return parser


def _grade(args: argparse.Namespace) -> int:
    report = grade(args.path, Options(build_timeout=args.build_timeout, start_timeout=args.start_timeout))
    sys.stdout.write(to_table(report))
    if args.json:
        write_json(report, args.json)
        sys.stdout.write(f"JSON report: {args.json}\n")
    if args.fail_under is not None and report.score < args.fail_under:
        return EXIT_BELOW
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "schema":
            sys.stdout.write(json.dumps(schema(), indent=2) + "\n")
            return EXIT_OK
        return _grade(args)
    except GraderError as exc:
        sys.stderr.write(f"grader: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("grader: interrupted; the stack was removed\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
