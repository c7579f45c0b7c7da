"""Grade every fixture and print a Markdown table: expected vs actual score and verdicts, the
fixture's deadline and wall time, time spent after the last check (teardown), the machine's peak
extra processes and lowest free memory during the run, and engine objects left behind.

    .venv/bin/python scripts/fixture_table.py [--write-expected] [NAME ...]

--write-expected rewrites each fixture's verdicts (`checks`, `score`, `status`, `causes`) in
fixtures/expected/ from this run, keeping every other key: after adding or changing a check, run
it and review `git diff fixtures/expected` instead of editing fifty files by hand.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.model import Report
from grader.runner import grade
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


def main(args: list[str]) -> int:
    write = "--write-expected" in args
    names = [a for a in args if a != "--write-expected"]
    client = docker.from_env()
    names = names or sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())
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
