"""`grader cleanup` after a run killed with SIGKILL: no `finally` ran, the record and labels remain."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from grader.cli import main
from grader.engine.cleanup import RunRecord, leftovers, records
from tests.conftest import SUBMISSIONS, engine_counts

pytestmark = pytest.mark.docker


def test_cleanup_removes_what_a_killed_run_left(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    before = engine_counts(engine)
    # no-volume: PostgreSQL's data lands on an anonymous volume, which carries no compose label.
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "grade", str(SUBMISSIONS / "no-volume")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"XDG_STATE_HOME": str(tmp_path / "state")},
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # until the record names the anonymous volume
            recorded = [r for r in records().values() if r.anonymous_volumes]
            if recorded:
                break
            assert proc.poll() is None, "the run ended before its stack was up"
            time.sleep(0.5)
        else:
            pytest.fail("the run never recorded its stack")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    project = recorded[0].project
    assert engine_counts(engine) != before, "the killed run should have left its stack behind"

    found = {x.project: x for x in leftovers(engine)}
    assert project in found and not found[project].alive
    assert main(["cleanup", "--dry-run"]) == 0
    assert f"{project}: would be removed" in capsys.readouterr().out
    assert engine_counts(engine) != before

    assert main(["cleanup"]) == 0
    assert f"{project}: removed" in capsys.readouterr().out
    assert engine_counts(engine) == before
    assert records() == {}
    for volume in recorded[0].anonymous_volumes:
        with pytest.raises(docker.errors.NotFound):
            engine.volumes.get(volume)
    assert main(["cleanup"]) == 0
    assert project not in capsys.readouterr().out


def test_cleanup_keeps_a_run_that_is_still_grading(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    record = RunRecord("grader-alive-0a0b0c")  # this very process: alive
    record.save()
    volume = engine.volumes.create(labels={"com.docker.compose.project": record.project})
    try:
        assert main(["cleanup"]) == 0
        assert "grader-alive-0a0b0c: still grading" in capsys.readouterr().out
        engine.volumes.get(volume.name)
        # --all only with --project: on a shared engine, --all alone would stop other people's runs
        assert main(["cleanup", "--all", "--project", record.project]) == 0
        with pytest.raises(docker.errors.NotFound):
            engine.volumes.get(volume.name)
    finally:
        record.delete()
        with contextlib.suppress(docker.errors.NotFound):
            engine.volumes.get(volume.name).remove(force=True)


def test_cleanup_keeps_a_project_it_has_no_record_of(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another user's run on the shared engine (its record lives in their home): not ours to judge."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project = "grader-someone-else-1a2b3c"
    volume = engine.volumes.create(labels={"com.docker.compose.project": project})
    try:
        assert main(["cleanup"]) == 0
        assert f"{project}: no record of this run on this machine" in capsys.readouterr().out
        engine.volumes.get(volume.name)
        assert main(["cleanup", "--all", "--project", project]) == 0
        with pytest.raises(docker.errors.NotFound):
            engine.volumes.get(volume.name)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            engine.volumes.get(volume.name).remove(force=True)


def test_cleanup_leaves_other_projects_alone(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    volume = engine.volumes.create(labels={"com.docker.compose.project": "grader-homework"})  # a user's own
    try:
        assert main(["cleanup"]) == 0
        assert "grader-homework" not in capsys.readouterr().out
        engine.volumes.get(volume.name)
    finally:
        volume.remove(force=True)


def test_a_layer_another_run_built_on_is_handed_over_and_removed_after_it(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs at once (grader batch --jobs 2) build the same first steps: the second reuses the
    first's layers as cache. The first cannot remove them while the second's image builds on
    them, and the second did not create them: the first hands them over, and the second's
    teardown removes them once nothing builds on them. Nothing of the grader's stays behind."""
    from grader.engine.cleanup import handed_over_dir, remove_labelled

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    before = {str(i.id) for i in engine.images.list(all=True)}
    for name, label in (("a", "first"), ("b", "second")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(
            f"FROM grader-base/debian:bookworm\nRUN echo shared > /step-{tmp_path.name}\nLABEL run={label}\n"
        )
    first, _ = engine.images.build(path=str(tmp_path / "a"), tag="compose-grader-handover:a", rm=True)
    shared = str(first.attrs["Parent"])  # the RUN step: created by the first run
    second, _ = engine.images.build(path=str(tmp_path / "b"), tag="compose-grader-handover:b", rm=True)
    assert second.attrs["Parent"] == shared  # a cache hit: the second run builds on it
    try:
        remove_labelled(engine, "grader-handover-000000", set(), {"compose-grader-handover:a"}, [shared, str(first.id)])
        assert engine.images.get(shared)  # still built on
        assert [p.name for p in handed_over_dir().iterdir()] == [shared]
        remove_labelled(engine, "grader-handover-000001", set(), {"compose-grader-handover:b"}, [str(second.id)])
        assert list(handed_over_dir().iterdir()) == []
        assert {str(i.id) for i in engine.images.list(all=True)} == before
    finally:
        for leftover in ("compose-grader-handover:b", "compose-grader-handover:a", shared):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                engine.images.remove(leftover)


def test_grader_cleanup_lists_and_removes_handed_over_layers(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A layer a run handed over (another image built on it) whose builder went away without a
    teardown: `grader cleanup --dry-run` shows it, `grader cleanup` removes it."""
    from grader.cli import main
    from grader.engine.cleanup import handed_over, remove_labelled

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    before = {str(i.id) for i in engine.images.list(all=True)}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(
            f"FROM grader-base/debian:bookworm\nRUN echo shared > /step-{tmp_path.name}\nLABEL run={name}\n"
        )
    first, _ = engine.images.build(path=str(tmp_path / "a"), tag="compose-grader-handover:a", rm=True)
    shared = str(first.attrs["Parent"])
    engine.images.build(path=str(tmp_path / "b"), tag="compose-grader-handover:b", rm=True)
    try:
        remove_labelled(engine, "grader-handover-000002", set(), {"compose-grader-handover:a"}, [shared, str(first.id)])
        assert handed_over(engine) == [shared]
        engine.images.remove("compose-grader-handover:b", noprune=True)  # its run died: no teardown
        assert main(["cleanup", "--dry-run"]) == 0
        assert "1 layers grader runs made, another image built on them: would be removed" in capsys.readouterr().out
        assert engine.images.get(shared)
        assert main(["cleanup"]) == 0
        assert "1 handed-over layers removed, 0 still built on" in capsys.readouterr().out
        assert handed_over(engine) == [] and {str(i.id) for i in engine.images.list(all=True)} == before
    finally:
        for leftover in ("compose-grader-handover:b", "compose-grader-handover:a", shared):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                engine.images.remove(leftover)
