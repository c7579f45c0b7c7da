"""grader.reaper: images removed after the report, never under a build, nothing left at the end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest

from grader import reaper
from grader.cleanup import RunRecord, records
from grader.runner import grade
from tests.conftest import SUBMISSIONS, engine_changes, engine_counts

PROJECT = "com.docker.compose.project"


def test_a_build_under_way_holds_the_reaper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert not reaper.builds_under_way()
    RunRecord("grader-building-000001", building=True).save()  # this process: alive
    assert reaper.builds_under_way()
    assert not reaper.builds_under_way(own="grader-building-000001")
    started = time.monotonic()
    reaper.wait_for_builds(timeout=0.5)
    assert time.monotonic() - started >= 0.5
    sleeper = subprocess.Popen([sys.executable, "-c", "pass"])
    sleeper.wait()
    RunRecord("grader-building-000001", pid=sleeper.pid, building=True).save()  # a build that died
    assert not reaper.builds_under_way()


def test_an_orphan_is_a_reaping_record_whose_reaper_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    RunRecord("grader-dead-000001", pid=gone.pid, reaping=True).save()
    RunRecord("grader-live-000002", pid=os.getpid(), reaping=True).save()
    RunRecord("grader-grading-000003", pid=gone.pid).save()  # a killed run: `grader cleanup`'s, not a reaper's
    assert [r.project for r in reaper.orphans()] == ["grader-dead-000001"]


@pytest.mark.docker
def test_images_go_after_the_report_never_under_a_build_and_the_drain_leaves_nothing(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    before = engine_counts(engine)
    build = RunRecord("grader-other-build-000001", building=True)  # another run's build, under way
    build.save()
    report = grade(SUBMISSIONS / "complete", reap_in_background=True)
    assert report.status == "graded" and report.score == 100
    # The stack is gone with the report; the images it built wait for the reaper, which waits
    # for the other build.
    assert [
        c for c in engine.containers.list(all=True) if c.labels.get(PROJECT, "").startswith("grader-complete-")
    ] == []
    (reaping,) = [r for r in records().values() if r.reaping]
    assert reaping.built_images and all(engine.images.get(i) for i in reaping.built_images)
    time.sleep(1)
    assert reaping.project in records()  # still held
    build.delete()
    assert reaper.drain(engine, timeout=120) == []
    assert records() == {}
    after = engine_counts(engine)
    assert after == before, engine_changes(before, after)


def test_pulled_images_wait_until_no_other_run_grades(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run may have counted a pulled tag as present before its `up`: removed only once no
    other run grades (the next reaper, the batch's drain or `grader cleanup` does it then)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    removed: list[str] = []
    client = SimpleNamespace(images=SimpleNamespace(remove=removed.append))
    record = RunRecord("grader-done-000001", reaping=True, pulled=["redis:7"])
    record.save()
    grading = RunRecord("grader-grading-000002")  # this process: a live run
    grading.save()
    assert reaper.reap(client, record) == []  # type: ignore[arg-type]
    assert removed == [] and records()["grader-done-000001"].pulled == ["redis:7"]
    grading.delete()
    assert reaper.reap(client, record) == []  # type: ignore[arg-type]
    assert removed == ["redis:7"] and "grader-done-000001" not in records()
