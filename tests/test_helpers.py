"""grader.intake.helpers: the rubric's helper services, left out of the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.intake.helpers import left_out, repository, without
from grader.intake.project import ComposeProject


def _project(services: dict[str, Any]) -> ComposeProject:
    return ComposeProject(Path("/r/compose.yaml"), Path("/r"), {"services": services}, "")


SERVICES: dict[str, Any] = {
    "api": {"build": {"context": "."}, "ports": [{"target": 3000}], "depends_on": {"db": {}, "pgadmin": {}}},
    "db": {"image": "postgres:15"},
    "pgadmin": {"image": "dpage/pgadmin4", "depends_on": {"db": {}}},
}


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        pytest.param("dpage/pgadmin4:8", "dpage/pgadmin4", id="tag"),
        pytest.param("docker.io/library/adminer@sha256:" + "0" * 64, "adminer", id="registry-library-digest"),
        pytest.param("localhost:5000/mailhog/mailhog", "mailhog/mailhog", id="registry-port"),
    ],
)
def test_repository(image: str, repo: str) -> None:
    assert repository(image) == repo


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        pytest.param(["dpage/pgadmin4"], ("pgadmin",), id="by-image"),
        pytest.param(["pgadmin"], ("pgadmin",), id="by-name"),
        pytest.param(["db", "postgres", "api"], (), id="never-the-api-or-the-database"),
        pytest.param([], (), id="none"),
    ],
)
def test_left_out(entries: list[str], expected: tuple[str, ...]) -> None:
    assert left_out(_project(SERVICES), entries) == expected


def test_a_helper_another_service_shares_a_network_with_is_kept() -> None:
    services = {**SERVICES, "tunnel": {"image": "alpine", "network_mode": "service:pgadmin"}}
    assert left_out(_project(services), ["pgadmin"]) == ()


def test_the_model_run_has_no_helper_and_no_edge_to_it() -> None:
    config = without({"services": SERVICES, "volumes": {"pgdata": {}}}, ["pgadmin"])
    assert sorted(config["services"]) == ["api", "db"]
    assert config["services"]["api"]["depends_on"] == {"db": {}}
    assert config["volumes"] == {"pgdata": {}}
    assert SERVICES["api"]["depends_on"] == {"db": {}, "pgadmin": {}}  # the analysis model is untouched


@pytest.mark.parametrize("key", ["network_mode", "ipc", "pid", "uts", "cgroup"])
def test_a_helper_whose_namespace_another_service_shares_is_kept(key: str) -> None:
    services = {**SERVICES, "tunnel": {"image": "alpine", key: "service:pgadmin"}}
    assert left_out(_project(services), ["pgadmin"]) == ()
