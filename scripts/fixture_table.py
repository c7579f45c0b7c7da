"""Grade every fixture and print a Markdown table: expected vs actual score and verdicts, the
fixture's deadline and wall time, time spent after the last check (teardown), the machine's peak
extra processes and lowest free memory during the run, and engine objects left behind.

    .venv/bin/python scripts/fixture_table.py [NAME ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.context import Options
from grader.rubric import Rubric, load
from grader.runner import grade
from tests.conftest import EXPECTED, RUBRICS, SUBMISSIONS, HostSampler, engine_changes, engine_counts


def main(names: list[str]) -> int:
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
            rubric = load(RUBRICS / expected["rubric"]) if "rubric" in expected else Rubric()
            options = Options.of(rubric) if "rubric" in expected else Options(**expected.get("options", {}))
            report = grade(SUBMISSIONS / name, options, rubric=rubric)
            wall = time.monotonic() - t0
        after = engine_counts(client)
        actual = {c.id: {"status": c.status.value, "points": c.points} for c in report.checks}
        diff = [k for k in expected["checks"] if expected["checks"][k] != actual.get(k)]
        mismatches += bool(diff)
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
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
