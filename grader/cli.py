"""Command line: `grader grade PATH`, `grader lint PATH`, `grader batch SOURCE...`, `grader report
FILE.json`, `grader schema`, ... Thin: argparse and dispatch. What each command does is in
grader.commands.<command>; grader.commands.exits maps exceptions to exit codes."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType

from grader import NAME, __version__
from grader.classroom.roster import parse_shard
from grader.commands import batch, cleanup, grade, merge, migrate, report, rubric, schema, service
from grader.commands.exits import handled
from grader.errors import BadInput, Terminated
from grader.messages import LANGUAGES
from grader.run.context import Options

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "grade": grade.run,
    "lint": grade.run,
    "batch": batch.run,
    "merge": merge.run,
    "cleanup": cleanup.run,
    "rubric": rubric.run,
    "report": report.run,
    "schema": schema.run,
    "migrate": migrate.run,
    "serve": service.serve,
    "worker": service.worker,
    "enqueue": service.enqueue,
}


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _add_formats(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit", type=Path, metavar="FILE", help="JUnit XML: a testsuite per category")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="a summary a student can act on")
    parser.add_argument("--gradescope", type=Path, metavar="FILE", help="Gradescope's results.json")
    parser.add_argument(
        "--classroom", action="store_true", help="GitHub Classroom runner result in the step output `result`"
    )
    parser.add_argument("--fail-under", type=float, metavar="N", help="exit 1 when the score is below N")


def _add_events(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events",
        metavar="FILE|-",
        help="write the run's events as JSON lines (checks started and judged, phases, the end) to FILE, "
        "or to standard output with `-` (everything else printed then goes to standard error)",
    )


def _add_project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        metavar="FOLDER",
        help="the project's folder inside the repository (default: the root, or the one folder below it "
        "with a compose file and a Dockerfile)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Grade Docker homework submissions.")
    parser.add_argument("--version", action="version", version=f"{NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade one submission folder")
    g.add_argument("path", type=Path, help="the student's repository (a folder)")
    g.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    _add_formats(g)
    _add_project(g)
    _add_events(g)
    g.add_argument("--rubric", type=Path, metavar="FILE", help="the instructor's rubric (grader.yml)")
    g.add_argument("--lang", choices=LANGUAGES, help="language of the feedback (default: the rubric's, else en)")
    g.add_argument("--build-timeout", type=_positive, metavar="S", help=f"default {Options.build_timeout:g}")
    g.add_argument("--start-timeout", type=_positive, metavar="S", help=f"default {Options.start_timeout:g}")
    lint = sub.add_parser(
        "lint", help="the static checks only (Dockerfile, compose file, security): no engine, no build, no container"
    )
    lint.add_argument("path", type=Path, help="the student's repository (a folder)")
    lint.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    _add_formats(lint)
    _add_project(lint)
    _add_events(lint)
    lint.add_argument("--rubric", type=Path, metavar="FILE", help="the instructor's rubric (grader.yml)")
    lint.add_argument("--lang", choices=LANGUAGES, help="language of the feedback (default: the rubric's, else en)")
    r = sub.add_parser("report", help="write other formats from a saved JSON report, without grading again")
    r.add_argument("report", type=Path, help="a JSON report written by `grader grade --json`")
    _add_formats(r)
    sub.add_parser("schema", help="print the JSON Schema of the report")
    mig = sub.add_parser("migrate", help="the grading service: bring its gradebook's schema to the newest revision")
    mig.add_argument("--database", metavar="URL", help="postgresql://... (default: $GRADER_DATABASE_URL)")
    service.add_parsers(sub)
    clean = sub.add_parser(
        "cleanup", help="remove what crashed or killed runs left on the engine (containers, networks, volumes, images)"
    )
    clean.add_argument("--dry-run", action="store_true", help="list the leftovers, remove nothing")
    clean.add_argument(
        "--all",
        action="store_true",
        help="also remove runs that are still grading or have no record on this machine (another user's, "
        "on a shared engine): with --project, only those",
    )
    clean.add_argument(
        "--project", action="append", default=[], metavar="NAME", help="only this project (grader-...); repeatable"
    )
    b = sub.add_parser("batch", help="grade a class: folders, a roster of repositories, archives; a gradebook")
    b.add_argument(
        "sources",
        type=Path,
        nargs="+",
        metavar="SOURCE",
        help="a folder of submissions (subfolders, archives), a roster CSV (student,repo[,ref][,path] or GitHub "
        "Classroom's export), or .zip/.tar.gz archives",
    )
    b.add_argument("--out", type=Path, required=True, metavar="DIR", help="reports: DIR/<student>/, DIR/gradebook.*")
    b.add_argument("--jobs", type=int, metavar="N", help="runs at once (default: from the cores and the memory)")
    b.add_argument("--rubric", type=Path, metavar="FILE", help="the instructor's rubric (grader.yml)")
    b.add_argument("--lang", choices=LANGUAGES, help="language of the feedback (default: the rubric's, else en)")
    b.add_argument(
        "--deadline",
        type=_deadline,
        metavar="ISO-8601",
        help="grade each repository's last commit at or before it (2026-12-01T23:59:00-03:00; no zone: this machine's)",
    )
    b.add_argument("--resume", action="store_true", help="keep reports of unchanged work; retry incomplete runs")
    b.add_argument("--only", nargs="+", default=[], metavar="NAME", help="(re)grade only these students")
    b.add_argument("--shard", type=_shard, metavar="I/N", help="grade the I-th of N parts of the class (CI matrix)")
    b.add_argument("--junit", action="store_true", help="also DIR/<student>/junit.xml")
    b.add_argument("--gradescope", action="store_true", help="also DIR/<student>/results.json")
    m = sub.add_parser("merge", help="merge batch outputs (shards) into one, with its gradebook")
    m.add_argument("folders", type=Path, nargs="+", metavar="DIR")
    m.add_argument("--out", type=Path, required=True, metavar="DIR")
    rub = sub.add_parser("rubric", help="write or validate an instructor's rubric").add_subparsers(
        dest="rubric_command", required=True
    )
    init = rub.add_parser("init", help="write the default rubric, with comments")
    init.add_argument("file", type=Path, nargs="?", default=Path("grader.yml"))
    check = rub.add_parser("check", help="validate a rubric: exit 2 naming the key and line when wrong")
    check.add_argument("file", type=Path)
    check.add_argument(
        "--against",
        type=Path,
        nargs="+",
        metavar="SOURCE",
        help="also read a class (the sources of `grader batch`): the values each repository expects from files it "
        "keeps out of git, which the rubric does not give, and hosts that name no service (exit 1 unless every "
        "repository was read and needs nothing more)",
    )
    return parser


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except BadInput as exc:  # argparse says it, with the usage, exit 2
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _deadline(text: str) -> datetime:
    if "T" not in text.upper() and " " not in text.strip():
        # 2026-12-01 alone is its first second, not its last: say which one is meant
        raise argparse.ArgumentTypeError("give the time too, like 2026-12-01T23:59:59-03:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected an ISO-8601 date and time, like 2026-12-01T23:59:00-03:00") from exc
    return moment if moment.tzinfo else moment.astimezone()  # no zone: this machine's


def _stop_once(signum: int, frame: FrameType | None) -> None:
    """First SIGINT/SIGTERM: stop grading (teardown runs in `finally`). Later ones are ignored, so
    a second Ctrl-C cannot abort the teardown and leave containers behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stderr.write("grader: stopping; removing what was started ...\n")
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {s: signal.signal(s, _stop_once) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return handled(lambda: COMMANDS[args.command](args))
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    raise SystemExit(main())
