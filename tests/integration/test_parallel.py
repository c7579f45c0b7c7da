"""Runs at once never spoil each other (issue 21): a class graded `--jobs 3`, twice in a row, so
that the first round's reapers remove layers while the second round builds on the same ones. Every
verdict is the verdict of the run alone, and the engine ends as it began."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from grader.engine import reaper
from grader.engine.cleanup import records
from tests.conftest import EXPECTED, SUBMISSIONS, engine_changes, engine_counts

pytestmark = pytest.mark.docker

RUNS, ROUNDS = 3, 2


def test_parallel_runs_sharing_layers_grade_as_they_do_alone(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # these runs' records only
    env = {k: v for k, v in os.environ.items() if k != "GRADER_REAP"}  # the CLI's default: reapers
    expected = json.loads((EXPECTED / "complete.json").read_text())
    # Three students: the same base and first steps (shared layers), then each one's own
    # package.json, so that each build adds its own layers on top of the shared ones.
    students = [shutil.copytree(SUBMISSIONS / "complete", tmp_path / f"student-{i}") for i in range(RUNS)]
    for i, student in enumerate(students):
        package = json.loads((student / "package.json").read_text())
        (student / "package.json").write_text(json.dumps({**package, "description": f"student {i}"}, indent=2))
    before = engine_counts(engine)
    grader = [sys.executable, "-c", "import sys; from grader.cli import main; sys.exit(main(sys.argv[1:]))"]
    try:
        _grade_rounds(grader, students, env, expected, tmp_path)
    finally:  # a failed round leaves reapers running: none may outlive this test into the next
        drained = reaper.drain(engine, timeout=600)
    assert drained == []
    assert records() == {}
    after = engine_counts(engine)
    assert after == before, engine_changes(before, after)


def _grade_rounds(
    grader: list[str], students: list[Path], env: dict[str, str], expected: dict[str, object], tmp_path: Path
) -> None:
    for round_ in range(ROUNDS):
        reports = [tmp_path / f"round-{round_}-{s.name}.json" for s in students]
        children = [
            subprocess.Popen(
                [*grader, "grade", str(s), "--json", str(r)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for s, r in zip(students, reports, strict=True)
        ]
        ended = [(child, child.communicate(timeout=900)[1]) for child in children]  # all, before any verdict
        for child, err in ended:
            assert child.returncode == 0, err.decode(errors="replace")[-2000:]
        for report in reports:
            doc = json.loads(report.read_text())
            verdicts = {c["id"]: {"status": c["status"], "points": c["points"]} for c in doc["checks"]}
            assert verdicts == expected["checks"], (round_, report.name)
            assert doc["status"] == "graded"
        # no waiting here: the next round builds while this round's reapers remove
