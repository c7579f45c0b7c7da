"""Grade every fixture and print a Markdown table: expected vs actual score and verdicts, the
fixture's deadline and wall time, time spent after the last check (teardown), the machine's peak
extra processes and lowest free memory during the run, and engine objects left behind.

    .venv/bin/python scripts/fixture_table.py [--write-expected] [--lint] [NAME ...]

--write-expected rewrites each fixture's verdicts (`checks`, `score`, `status`, `causes`) in
fixtures/expected/ from this run, keeping every other key: after adding or changing a check, run
it and review `git diff fixtures/expected` instead of editing fifty files by hand.

--lint grades the static checks only, with no engine (`grader lint`, seconds for every fixture):
with --write-expected it rewrites their verdicts and keeps the stack checks' as they are. Only
while every static check keeps its status: the stack checks wait on those (a build skipped for
compose.file), so a fixture whose static statuses change is listed for a run on the engine and
left unwritten (exit 1).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checks import registry
from grader.model import CheckResult, Report, Stage
from grader.run.runner import grade
from tests.conftest import (
    EXPECTED,
    SUBMISSIONS,
    HostSampler,
    engine_changes,
    engine_counts,
    fixture_options,
    fixture_rubric,
)


def write_expected(name: str, expected: dict[str, Any], report: Report) -> None:
    verdicts = {c.id: {"status": c.status.value, "points": c.points} for c in report.checks}
    causes = {c.id: c.cause for c in report.checks if c.cause}
    updated = {**expected, "score": report.score, "checks": verdicts}
    updated.pop("causes", None)
    updated.pop("status", None)
    if report.status != "graded":
        updated["status"] = report.status
    if causes:
        updated["causes"] = causes
    text = json.dumps(updated, indent=2, ensure_ascii=False) + "\n"
    (EXPECTED / f"{name}.json").write_text(text, encoding="utf-8")


def merge_static(expected: dict[str, Any], report: Report) -> dict[str, Any] | None:
    """The expected file with the static checks' verdicts of a lint `report` (and their causes),
    the stack checks' kept, in registry order; what did not change stays as written, byte for
    byte. None when a static check's status changed (the stack checks' verdicts may follow it:
    only a run on the engine can say)."""
    static = {c.id: c for c in report.checks}
    old = expected["checks"]
    if any(i in old and old[i]["status"] != c.status.value for i, c in static.items()):
        return None
    order = [i for i in registry(fixture_rubric(expected)) if i in static or i in old]
    checks = {i: _verdict(static[i], old.get(i)) if i in static else old[i] for i in order}
    changed = {i for i in static if checks[i] is not old.get(i)}
    causes = {i: c for i, c in (expected.get("causes") or {}).items() if i in checks}
    for i in changed:
        causes.pop(i, None)
        if static[i].cause:
            causes[i] = static[i].cause
    score = round(sum(v["points"] for v in checks.values()), 2)
    updated = {**expected, "score": expected["score"] if expected["score"] == score else score, "checks": checks}
    if causes:
        updated["causes"] = {i: causes[i] for i in order if i in causes} if changed else causes
    else:
        updated.pop("causes", None)
    return updated


def _verdict(result: CheckResult, old: dict[str, Any] | None) -> dict[str, Any]:
    """The check's verdict as the file writes it: an unchanged one as it was (`12`, not `12.0`)."""
    new = {"status": result.status.value, "points": result.points}
    return old if old == new else new


def lint_table(names: list[str], write: bool) -> int:
    """`--lint`: every fixture's static verdicts against its expected file, without an engine."""
    print("| fixture | static verdicts match | written |")
    print("|---|---|---|")
    mismatches = needs_engine = 0
    for name in names:
        expected = json.loads((EXPECTED / f"{name}.json").read_text())
        rubric = fixture_rubric(expected)
        report = grade(SUBMISSIONS / name, fixture_options(expected, rubric), rubric=rubric, lint=True)
        actual = {c.id: {"status": c.status.value, "points": c.points} for c in report.checks}
        diff = [i for i, v in actual.items() if expected["checks"].get(i) != v]
        diff += [
            i
            for i, c in registry(rubric).items()
            if c.stage is Stage.STATIC and i in expected["checks"] and i not in actual
        ]
        mismatches += bool(diff)
        updated = merge_static(expected, report)
        if write and diff and updated is not None:
            text = json.dumps(updated, indent=2, ensure_ascii=False) + "\n"
            (EXPECTED / f"{name}.json").write_text(text, encoding="utf-8")
        # A stack check the file has no verdict for (one just added): only the engine can give it.
        unjudged = [i for i in registry(rubric) if i not in expected["checks"] and i not in actual]
        if (diff and updated is None) or unjudged:
            needs_engine += 1
            state = f"needs the engine ({'no verdict for ' + ', '.join(unjudged) if unjudged else 'a status changed'})"
        else:
            state = "-" if not diff else "yes" if write else "no"
        print(f"| {name} | {'yes' if not diff else 'NO: ' + ', '.join(diff)} | {state} |")
    if needs_engine:
        print(f"\n{needs_engine} fixture(s) need a run on the engine: scripts/fixture_table.py --write-expected NAME")
    return 1 if needs_engine or (mismatches and not write) else 0


def main(args: list[str]) -> int:
    write = "--write-expected" in args
    names = [a for a in args if a not in ("--write-expected", "--lint")]
    names = names or sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())
    if "--lint" in args:
        return lint_table(names, write)
    import docker  # here: --lint needs no engine

    client = docker.from_env()
    start_counts = engine_counts(client)
    print(
        "| fixture | expected | actual | verdicts match | deadline s | wall s | teardown s "
        "| peak extra processes | free memory drop MB | leaked |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|")
    mismatches = 0
    for name in names:
        expected = json.loads((EXPECTED / f"{name}.json").read_text())
        before = engine_counts(client)
        with HostSampler() as host:
            t0 = time.monotonic()
            rubric = fixture_rubric(expected)
            options = fixture_options(expected, rubric)
            report = grade(SUBMISSIONS / name, options, rubric=rubric)
            wall = time.monotonic() - t0
        after = engine_counts(client)
        actual = {c.id: {"status": c.status.value, "points": c.points} for c in report.checks}
        diff = [k for k in expected["checks"] if expected["checks"][k] != actual.get(k)]
        diff += [k for k in actual if k not in expected["checks"]]
        mismatches += bool(diff)
        if write and (diff or expected["score"] != report.score):
            write_expected(name, expected, report)
        teardown = report.duration_s - sum(c.duration_s for c in report.checks)
        leaked = engine_changes(before, after)
        deadline = expected.get("deadline_s", "-")
        processes = host.max_processes - host.baseline_processes
        memory = (host.baseline_available - host.min_available) / 2**20
        print(
            f"| {name} | {expected['score']:g} | {report.score:g} | {'yes' if not diff else 'NO: ' + ', '.join(diff)} "
            f"| {deadline} | {wall:.1f} | {teardown:.1f} | {processes} | {memory:.0f} | {leaked or 'none'} |"
        )
    changed = engine_changes(start_counts, engine_counts(client))
    print(f"\nengine after the table, against before it: {changed or 'unchanged'}")
    if write:
        print("verdicts written to fixtures/expected/: review `git diff fixtures/expected`")
        return 0
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
