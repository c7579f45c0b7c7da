"""The environment every compose command runs with: all that a compose file can interpolate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.engine.connect import GRADER_VARIABLES, compose_env, docker_client, remote_host
from grader.errors import InfrastructureError
from tests.conftest import compose_config

SECRETS = {
    "DOCKER_AUTH_CONFIG": '{"auths": {"registry.invalid": {"auth": "c2VjcmV0"}}}',
    "DOCKER_PASSWORD": "ci-registry-password",
    "GITHUB_TOKEN": "ghp_example",
    "AWS_SECRET_ACCESS_KEY": "aws-example",
    "DB_PASSWORD": "instructor-db-password",
}


def test_only_the_engine_connection_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/docker.sock")
    env = compose_env()
    assert not set(SECRETS) & set(env)
    assert env["DOCKER_HOST"] == "unix:///run/docker.sock"
    assert env["COMPOSE_EXPERIMENTAL_GIT_REMOTE"] == "0"  # no remote include fetched by the machine


def test_home_is_an_empty_folder_of_the_grader_s(monkeypatch: pytest.MonkeyPatch) -> None:
    env = compose_env()
    assert env["HOME"] != str(Path.home())
    assert list(Path(env["HOME"]).iterdir()) == []
    config = Path(env["DOCKER_CONFIG"])  # the plugins, without the machine's logins and proxies
    assert sorted(p.name for p in config.iterdir()) in ([], ["cli-plugins"])


def test_compose_itself_cannot_interpolate_a_ci_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The real compose binary, given the grader's environment, resolves `${SECRET}` to nothing."""
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    lines = "".join(f"      {key}: ${{{key}:-unset}}\n" for key in SECRETS)
    (tmp_path / "compose.yaml").write_text(f"services:\n  app:\n    image: node:18\n    environment:\n{lines}")
    result = compose_config(tmp_path, "--format", "json")
    assert json.loads(result.stdout)["services"]["app"]["environment"] == dict.fromkeys(SECRETS, "unset")


def test_the_refused_names_do_not_depend_on_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """`${DOCKER_HOST}` is refused on a laptop that sets it and on a CI runner that does not."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/docker.sock")
    assert set(compose_env()) <= GRADER_VARIABLES
    assert {"DOCKER_HOST", "DOCKER_CERT_PATH", "HOME", "PATH"} <= GRADER_VARIABLES


@pytest.mark.parametrize(
    "docker_host, remote",
    [
        pytest.param(None, None, id="unset"),
        pytest.param("unix:///run/user/1000/docker.sock", None, id="rootless-socket"),
        pytest.param("tcp://127.0.0.1:2375", None, id="loopback-tcp"),
        pytest.param("tcp://localhost:2376", None, id="localhost"),
        pytest.param("tcp://[::1]:2375", None, id="ipv6-loopback"),
        pytest.param("tcp://10.0.0.5:2376", "10.0.0.5", id="another-machine"),
        pytest.param("ssh://grader@build-box", "build-box", id="ssh"),
    ],
)
def test_an_engine_on_another_machine_is_named(docker_host: str | None, remote: str | None) -> None:
    assert remote_host(docker_host) == remote


def test_an_engine_on_another_machine_is_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its published ports are on its loopback: every API and database check would fail for a
    reason that is not the student's."""
    monkeypatch.setenv("DOCKER_HOST", "ssh://grader@build-box")
    with pytest.raises(InfrastructureError, match=r"another machine \(build-box\).*--shard"):
        docker_client()
