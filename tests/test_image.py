"""The grader's own image grades against the host's engine through the socket."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest

from grader.engine.networks import own_container
from tests.conftest import EXPECTED, SUBMISSIONS, build_grader_image, engine_counts

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def image(engine: docker.DockerClient) -> str:
    return build_grader_image(engine)


def run_grader(
    engine: docker.DockerClient, image: str, volumes: dict[str, dict[str, str]], environment: dict[str, str]
) -> tuple[int, str]:
    """`docker run` the grader's image on /submission, writing /out/report.json; (exit code, logs)."""
    container = engine.containers.run(
        image,
        ["grade", "/submission", "--json", "/out/report.json"],
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}, **volumes},
        environment=environment,
        detach=True,
    )
    try:
        status = container.wait(timeout=600)
        return int(status["StatusCode"]), container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def test_on_the_host_the_grader_is_not_a_container_of_its_engine(engine: docker.DockerClient) -> None:
    assert own_container(engine) is None


def test_image_grades_the_complete_fixture(engine: docker.DockerClient, image: str, tmp_path: Path) -> None:
    before = engine_counts(engine)
    volumes = {
        str(SUBMISSIONS / "complete"): {"bind": "/submission", "mode": "ro"},
        str(tmp_path): {"bind": "/out", "mode": "rw"},
    }
    code, logs = run_grader(engine, image, volumes, {})
    assert code == 0, logs
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["score"] == json.loads((EXPECTED / "complete.json").read_text())["score"], logs
    api = next(c for c in report["checks"] if c["id"] == "api.reachable")
    # Reached over the stack's network (the container's address), not a port published on the host.
    assert api["evidence"].startswith("GET http://") and "127.0.0.1" not in api["evidence"].splitlines()[0]
    assert engine_counts(engine) == before


@pytest.mark.parametrize(
    ("shared", "score", "startup"),
    [
        # The set-up's fault: startup.up is `error`, so the run is incomplete (exit 3), not a 45.
        pytest.param(False, 45, "error", id="workdir-not-shared"),
        pytest.param(True, 90, "passed", id="workdir-shared"),
    ],
)
def test_image_with_a_bind_mounted_data_folder(
    engine: docker.DockerClient, image: str, tmp_path: Path, shared: bool, score: float, startup: str
) -> None:
    """`./pgdata` is a host path for the engine: graded only when the grader's working folder is
    mounted at the same path, otherwise an `error` (the set-up's fault) and nothing is started."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    volumes = {
        str(SUBMISSIONS / "bind-mount-data"): {"bind": "/submission", "mode": "ro"},
        str(tmp_path): {"bind": "/out", "mode": "rw"},
    }
    environment: dict[str, str] = {}
    if shared:
        volumes[str(workdir)] = {"bind": str(workdir), "mode": "rw"}
        environment["TMPDIR"] = str(workdir)
    before = engine_counts(engine)
    code, logs = run_grader(engine, image, volumes, environment)
    report = json.loads((tmp_path / "report.json").read_text())
    assert code == (3 if startup == "error" else 0), logs
    assert report["status"] == ("incomplete" if startup == "error" else "graded")
    assert {c["id"]: c["status"] for c in report["checks"]}["startup.up"] == startup
    assert report["score"] == score
    assert engine_counts(engine) == before
    assert list(workdir.iterdir()) == []  # the working copy (and the database's files) are gone


def test_the_machine_s_routes_come_from_the_engine(engine: docker.DockerClient, image: str) -> None:
    """host_routes runs the grader's own image on the host's network: from a container of it, the
    table it returns is this machine's, not the container's (which has one route and eth0)."""
    from grader.engine.networks import host_routes

    grader = engine.containers.run(image, entrypoint=["sleep", "60"], detach=True, labels={"compose-grader.test": "1"})
    try:
        table = host_routes(engine, str(grader.id))
    finally:
        grader.remove(force=True)
    assert table is not None
    ours = {line.split()[0] for line in Path("/proc/net/route").read_text().splitlines()[1:]}
    theirs = {line.split()[0] for line in table.splitlines()[1:]}
    assert theirs == ours and "docker0" in theirs
