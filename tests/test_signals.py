"""Ctrl-C or a cancelled CI job in the middle of a run: the grader stops and removes everything."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable

import docker
import pytest

from tests.conftest import SUBMISSIONS, engine_counts

pytestmark = pytest.mark.docker


def _grading(fixture: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "grade", str(SUBMISSIONS / fixture)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until(proc: subprocess.Popen[str], seconds: float, reached: Callable[[], bool], what: str) -> None:
    """Poll the engine until `reached`, while the run goes on; the test fails if it ends first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reached():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds:.0f} s")


@pytest.mark.parametrize(
    ("signum", "code"),
    [pytest.param(signal.SIGTERM, 143, id="sigterm"), pytest.param(signal.SIGINT, 130, id="sigint")],
)
def test_signal_mid_run_tears_down(engine: docker.DockerClient, signum: int, code: int) -> None:
    before = engine_counts(engine)
    proc = _grading("complete")

    def stack_up() -> bool:  # its database container runs
        running = engine.containers.list(filters={"label": "com.docker.compose.service=db"})
        return any(c.labels.get("com.docker.compose.project", "").startswith("grader-complete-") for c in running)

    try:
        _wait_until(proc, 180, stack_up, "the stack never came up")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "the teardown ran" in err and "Traceback" not in err
    assert engine_counts(engine) == before


def test_ctrl_c_mid_build_leaves_no_layer(engine: docker.DockerClient) -> None:
    """The layers a build made before Ctrl-C are recorded from its output as it streams (no
    CommandTimeout carries it then), so teardown removes them: no dangling image is left."""
    before = engine_counts(engine)
    containers_before = {c.id for c in engine.containers.list(all=True)}
    proc = _grading("hostile-build-hangs")

    def endless_step() -> bool:  # the build has made its first layers by then
        steps = [c for c in engine.containers.list() if c.id not in containers_before]
        return any("sleep 100000" in " ".join(c.attrs["Config"].get("Cmd") or []) for c in steps)

    try:
        _wait_until(proc, 300, endless_step, "the build never reached its endless step")
        assert engine_counts(engine).image_ids - before.image_ids  # layers made by this build
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert engine_counts(engine) == before
