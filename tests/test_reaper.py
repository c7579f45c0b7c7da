"""grader.engine.reaper: images removed after the report, never under a build, nothing left at the end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest

from grader.engine import cleanup, reaper
from grader.engine.cleanup import RunRecord, records
from grader.run.runner import grade
from tests.conftest import SUBMISSIONS, engine_changes, engine_counts

PROJECT = "com.docker.compose.project"


def _holding_the_builds_lock(seconds: float) -> subprocess.Popen[bytes]:
    """Another grader run's build, in its own process: grader.engine.cleanup.building held shared."""
    code = (
        "import sys, time\nfrom grader.engine.cleanup import building\n"
        f"with building():\n    print('held', flush=True)\n    time.sleep({seconds})\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=os.environ.copy())
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    return holder


def test_no_image_is_removed_while_a_build_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with cleanup.no_build(0) as free:
        assert free
    holder = _holding_the_builds_lock(30)
    try:
        started = time.monotonic()
        with cleanup.no_build(0.5) as free:
            assert not free
        assert time.monotonic() - started >= 0.5
        removed: list[str] = []
        client = SimpleNamespace(images=SimpleNamespace(remove=lambda *a, **k: removed.append(a[0])))
        problems = cleanup.remove_images(client, {"grader-x-api"}, ["abc"], wait=0.3)  # type: ignore[arg-type]
        assert removed == [] and problems and "removed later" in problems[0]
        with cleanup.building():  # two builds at once share the lock
            pass
    finally:
        holder.kill()
        holder.wait()
    with cleanup.no_build(5) as free:  # a killed build holds nothing: the kernel released it
        assert free


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
    holder = _holding_the_builds_lock(120)  # another run's build, under way
    try:
        report = grade(SUBMISSIONS / "complete", reap_in_background=True)
        assert report.status == "graded" and report.score == 100
        # The stack is gone with the report; the images it built wait for the reaper, which
        # waits for the other build.
        assert [
            c for c in engine.containers.list(all=True) if c.labels.get(PROJECT, "").startswith("grader-complete-")
        ] == []
        (reaping,) = [r for r in records().values() if r.reaping]
        assert reaping.built_images and all(engine.images.get(i) for i in reaping.built_images)
        time.sleep(1)
        assert reaping.project in records()  # still held
    finally:
        holder.kill()
        holder.wait()
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


@pytest.mark.docker
def test_a_layer_a_build_stands_on_is_not_removed_under_it(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21's race, made to happen: run A's teardown removes the layer run B's build has just
    taken from the cache, while B copies a large file on top of it. Without the builds lock the
    engine fails B with `unknown parent image ID` (a student charged for the engine's fault);
    with it, the removal waits for B, finds B's layer built on it and leaves it for later."""
    import threading

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    before = engine_counts(engine)
    base = "FROM python:3.11-slim\nRUN echo shared > /shared\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Dockerfile").write_text(base)
    image_a, _ = engine.images.build(path=str(tmp_path / "a"), tag="grader-race-a-000001:latest", rm=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "Dockerfile").write_text(base + "COPY big.bin /big.bin\n")
    with (tmp_path / "b" / "big.bin").open("wb") as big:
        for _ in range(48):
            big.write(os.urandom(8 << 20))  # 384 MiB: a few seconds to copy and commit
    copying, output = threading.Event(), []

    def build_b() -> None:
        with cleanup.building():  # what Stack.build holds
            for line in engine.api.build(
                path=str(tmp_path / "b"), tag="grader-race-b-000001:latest", rm=True, decode=True
            ):
                output.append(str(line))
                if "COPY big.bin" in str(line):
                    copying.set()

    builder = threading.Thread(target=build_b)
    builder.start()
    try:
        assert copying.wait(120), output
        problems = cleanup.remove_images(engine, {"grader-race-a-000001:latest"}, [str(image_a.id)], wait=300)
        builder.join(300)
        assert not any("errorDetail" in line for line in output), output[-3:]
        assert engine.images.get("grader-race-b-000001:latest")  # B built, on the layer A wanted gone
        assert problems == []
    finally:
        builder.join(300)
        with suppress(docker.errors.ImageNotFound):
            engine.images.remove("grader-race-b-000001:latest", force=True, noprune=True)
        with suppress(docker.errors.ImageNotFound):
            engine.images.remove("grader-race-a-000001:latest", force=True, noprune=True)
        with cleanup.no_build(60):
            cleanup.sweep_handed_over(engine)  # A's layer, handed over while B stood on it
    after = engine_counts(engine)
    assert after == before, engine_changes(before, after)
