"""Command line: `grader grade PATH`, `grader lint PATH`, `grader batch SOURCE...`, `grader report
FILE.json`, `grader schema`, ... Thin: argparse,
library calls, and the one place that maps exceptions to exit codes."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from checks import CHECKS, registry
from grader import NAME, __version__
from grader.context import Options
from grader.engine import docker_client
from grader.errors import BadInput, GraderError, InfrastructureError, Terminated
from grader.messages import LANGUAGES, title
from grader.outputs import Targets, emit
from grader.progress import for_stream
from grader.redaction import inert
from grader.report import schema, to_dict, to_table
from grader.roster import parse_shard
from grader.rubric import Rubric, default_text
from grader.rubric import load as load_rubric
from grader.runner import grade, not_graded

# One definition: the exceptions carry theirs (grader.errors); these are the rest.
EXIT_OK, EXIT_BELOW, EXIT_BAD_INPUT, EXIT_INFRA, EXIT_CRASH = 0, 1, BadInput.exit_code, InfrastructureError.exit_code, 4
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
# Not "the stack was removed": the teardown ran, but whether it removed everything is not known here.
_AFTER_SIGNAL = "the teardown ran; `grader cleanup` removes anything it could not\n"


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
    lint.add_argument("--rubric", type=Path, metavar="FILE", help="the instructor's rubric (grader.yml)")
    lint.add_argument("--lang", choices=LANGUAGES, help="language of the feedback (default: the rubric's, else en)")
    r = sub.add_parser("report", help="write other formats from a saved JSON report, without grading again")
    r.add_argument("report", type=Path, help="a JSON report written by `grader grade --json`")
    _add_formats(r)
    sub.add_parser("schema", help="print the JSON Schema of the report")
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


def _batch(args: argparse.Namespace) -> int:
    from grader import batch, reaper, roster  # only this command needs them

    if args.rubric:
        load_rubric(args.rubric)  # a wrong rubric stops here, not once per student
    docker_client()  # no engine: say so once, before anything is fetched
    args.out = args.out.resolve()  # each student's run starts in its own folder: no relative path
    args.rubric = args.rubric.resolve() if args.rubric else None
    jobs = args.jobs if args.jobs is not None else batch.default_jobs()
    if jobs < 1:
        raise BadInput("--jobs must be at least 1")
    options = batch.BatchOptions(
        out=args.out,
        jobs=jobs,
        rubric=args.rubric,
        lang=args.lang,
        deadline=args.deadline,
        resume=args.resume,
        only=frozenset(args.only),
        shard=args.shard,
        junit=args.junit,
        gradescope=args.gradescope,
    )
    summary = batch.run(roster.entries(args.sources), options)
    # Each run handed its images to a reaper (grader.reaper): the class ends with none left.
    sys.stderr.write("grader: removing the images the class built ...\n")
    left = reaper.drain(docker_client())
    if left:
        sys.stderr.write(f"grader: {len(left)} images could not be removed; `grader cleanup` tries again\n")
    sys.stdout.write(summary.table())
    sys.stdout.write(f"gradebook: {summary.csv}\npage: {summary.html}\n")
    unfetched = [o for o in summary.outcomes if o.fault == "fetch"]
    if unfetched:
        sys.stderr.write(f"grader: the work of {len(unfetched)} students could not be had (their reports say why)\n")
    choose = [o for o in summary.outcomes if o.fault == "input"]
    if choose:
        sys.stderr.write(
            f"grader: {len(choose)} repositories need a choice of yours (their reports say which, e.g. the project "
            "folder: a `path` column in the roster)\n"
        )
    retry = [o for o in summary.outcomes if o.retry]
    if retry:
        sys.stderr.write(f"grader: {len(retry)} students could not be graded here; `--resume` runs them again\n")
        return EXIT_INFRA
    return EXIT_OK


def _merge(args: argparse.Namespace) -> int:
    from grader import batch

    rows = batch.merge(args.folders, args.out)
    sys.stdout.write(f"{len(rows)} students in {args.out / 'gradebook.csv'} and {args.out / 'gradebook.html'}\n")
    return EXIT_OK


def _rubric(args: argparse.Namespace) -> int:
    if args.rubric_command == "init":
        if args.file.exists():
            raise BadInput(f"{args.file} exists; not overwriting it")
        args.file.write_text(default_text([(c.id, title(c.title), c.max_points) for c in CHECKS.values()]))
        sys.stdout.write(f"wrote {args.file}\n")
        return EXIT_OK
    rubric = load_rubric(args.file)
    checks = registry(rubric)
    total = sum(c.max_points for c in checks.values())
    sys.stdout.write(f"{args.file}: valid; {len(checks)} checks, {total:g} points\n")
    if rubric.environment and rubric.env_example_deduct:
        sys.stdout.write(
            f"{args.file}: note: env_examples.deduct does nothing while `environment:` gives values (no example "
            "stands in then)\n"
        )
    if not args.against:
        return EXIT_OK
    from grader import roster, survey  # only --against fetches a class

    entries = roster.entries(args.against)
    if not entries:
        raise BadInput(f"no student found in {', '.join(map(str, args.against))}")

    def reading(entry: roster.Entry) -> None:
        sys.stderr.write(f"grader: reading {entry.student} ...\n")

    found = survey.survey(entries, rubric, reading)
    sys.stdout.write("\n" + survey.render(found, rubric, str(args.file)))
    return EXIT_OK if survey.complete(found) else EXIT_BELOW


def _load_report(path: Path) -> dict[str, Any]:
    import jsonschema  # here, not at the top: only this command needs it, and `grader lint` starts fast

    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(doc, schema())
    except (OSError, ValueError, jsonschema.ValidationError) as exc:
        message = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
        raise BadInput(f"{path}: not a compose-grader report ({message})") from exc
    return doc


def _finish(doc: dict[str, Any], args: argparse.Namespace, json_path: Path | None) -> int:
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


def _stop_once(signum: int, frame: FrameType | None) -> None:
    """First SIGINT/SIGTERM: stop grading (teardown runs in `finally`). Later ones are ignored, so
    a second Ctrl-C cannot abort the teardown and leave containers behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stderr.write("grader: stopping; removing what was started ...\n")
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated()


def _cleanup(args: argparse.Namespace) -> int:
    from grader import cleanup  # the engine only for this command

    client = docker_client()
    found = [x for x in cleanup.leftovers(client) if not args.project or x.project in args.project]
    failed = False
    for leftover in found:
        if leftover.alive and not args.all:
            doing = "its reaper is removing its images" if leftover.reaping else "still grading (its process runs)"
            sys.stdout.write(f"{leftover.project}: {doing}; kept\n")
            continue
        if leftover.alive is None and not args.all:
            sys.stdout.write(
                f"{leftover.project}: no record of this run on this machine (another user's or machine's?); "
                "kept: `grader cleanup --all --project NAME` removes it\n"
            )
            continue
        if args.dry_run:
            sys.stdout.write(f"{leftover.project}: would be removed\n")
            continue
        problems = cleanup.remove(client, leftover)
        failed |= bool(problems)
        sys.stdout.write(f"{leftover.project}: {'; '.join(problems) if problems else 'removed'}\n")
    layers = cleanup.handed_over(client)
    if layers and args.dry_run:
        sys.stdout.write(f"{len(layers)} layers grader runs made, another image built on them: would be removed\n")
    elif layers:
        with cleanup.no_build(cleanup.TEARDOWN_WAIT_S) as free:
            if free:
                cleanup.sweep_handed_over(client)
        left = cleanup.handed_over(client)
        if not free:
            sys.stdout.write(f"{len(left)} handed-over layers kept: runs of this machine kept building; try again\n")
        else:
            sys.stdout.write(f"{len(layers) - len(left)} handed-over layers removed, {len(left)} still built on\n")
    if not found and not layers:
        sys.stdout.write("nothing to clean up\n")
    return EXIT_INFRA if failed else EXIT_OK


def _grade(args: argparse.Namespace) -> int:
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
        _finish(to_dict(not_graded(args.path, str(exc), lang, kind=kind)), args, args.json)
        raise
    except KeyboardInterrupt:
        _finish(to_dict(not_graded(args.path, "interrupted (Ctrl-C)", lang, kind=kind)), args, args.json)
        raise
    except Terminated:
        _finish(to_dict(not_graded(args.path, "terminated (SIGTERM)", lang, kind=kind)), args, args.json)
        raise
    except Exception as exc:
        error = (
            f"the grader crashed ({type(exc).__name__}: {exc}); this is a bug in the grader, not the student's fault"
        )
        _finish(to_dict(not_graded(args.path, error, lang, traceback.format_exc(), kind)), args, args.json)
        sys.stderr.write(inert(traceback.format_exc()))
        sys.stderr.write(inert(f"grader: {error}\n"))
        return EXIT_CRASH
    sys.stdout.write(to_table(report))
    return _finish(to_dict(report), args, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {s: signal.signal(s, _stop_once) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if args.command == "schema":
            sys.stdout.write(json.dumps(schema(), indent=2) + "\n")
            return EXIT_OK
        if args.command == "report":
            return _finish(_load_report(args.report), args, None)
        if args.command == "rubric":
            return _rubric(args)
        if args.command == "cleanup":
            return _cleanup(args)
        if args.command == "batch":
            return _batch(args)
        if args.command == "merge":
            return _merge(args)
        return _grade(args)
    except GraderError as exc:
        sys.stderr.write(inert(f"grader: {exc}\n"))
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("grader: interrupted (Ctrl-C); " + _AFTER_SIGNAL)
        return EXIT_INTERRUPTED
    except Terminated:
        sys.stderr.write("grader: terminated (SIGTERM); " + _AFTER_SIGNAL)
        return EXIT_TERMINATED
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    raise SystemExit(main())
