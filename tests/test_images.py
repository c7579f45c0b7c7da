"""The rubric's image pins: which references they apply to, in compose's model and in FROM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.intake.images import floating, pin_dockerfile, pin_services, pinned, repository
from grader.model import Substitution

PINS = {"postgres": "postgres:16", "node": "node:18", "dpage/pgadmin4": "dpage/pgadmin4:8"}


@pytest.mark.parametrize(
    "reference, used",
    [
        pytest.param("postgres", "postgres:16", id="untagged"),
        pytest.param("postgres:latest", "postgres:16", id="latest"),
        pytest.param("library/postgres", "postgres:16", id="library-namespace"),
        pytest.param("registry.example:5000/library/postgres:latest", "postgres:16", id="with-a-registry"),
        pytest.param("Postgres", "postgres:16", id="case"),
        pytest.param("dpage/pgadmin4", "dpage/pgadmin4:8", id="namespaced"),
        pytest.param("postgres:15", None, id="tagged-is-the-student's-choice"),
        pytest.param("postgres:15-alpine", None, id="tagged-variant"),
        pytest.param("postgres@sha256:" + "a" * 64, None, id="digest"),
        pytest.param("postgis/postgis", None, id="another-image"),
        pytest.param("${DB_IMAGE}", None, id="unexpanded-variable"),
        pytest.param("", None, id="empty"),
    ],
)
def test_which_references_a_pin_applies_to(reference: str, used: str | None) -> None:
    assert pinned(reference, PINS) == used


def test_repository_and_floating() -> None:
    assert repository("localhost:5000/team/api:1") == "team/api"
    assert repository("node") == "library/node"
    assert floating("node") and floating("node:latest") and not floating("node:18")


def test_pins_apply_to_pulled_images_not_to_the_names_of_built_ones() -> None:
    config: dict[str, Any] = {
        "services": {
            "api": {"build": {"context": "/r"}, "image": "postgres"},  # the name of what compose builds
            "db": {"image": "postgres"},
            "cache": {"image": "redis"},
        }
    }
    done = pin_services(config, PINS, "docker-compose.yml")
    assert done == [Substitution("docker-compose.yml services.db.image", "postgres", "postgres:16")]
    assert config["services"]["db"]["image"] == "postgres:16"
    assert config["services"]["api"]["image"] == "postgres" and config["services"]["cache"]["image"] == "redis"


def test_dockerfile_from_lines_are_pinned_stages_and_tags_kept(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "\ufeffFROM --platform=linux/amd64 node AS build\n"
        "RUN npm ci\n"
        "FROM node:latest\n"
        "from build as again\n"
        "FROM postgres:15\n"
        "FROM scratch\n"
    )
    done = pin_dockerfile(dockerfile, PINS, "Dockerfile")
    assert done == [
        Substitution("Dockerfile line 1", "node", "node:18"),
        Substitution("Dockerfile line 3", "node:latest", "node:18"),
    ]
    assert dockerfile.read_text().splitlines() == [
        "FROM --platform=linux/amd64 node:18 AS build",
        "RUN npm ci",
        "FROM node:18",
        "from build as again",
        "FROM postgres:15",
        "FROM scratch",
    ]


def test_a_dockerfile_without_floating_images_is_left_untouched(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(b'FROM node:18.12\r\nCMD ["node"]\r\n')
    assert pin_dockerfile(dockerfile, PINS, "Dockerfile") == []
    assert dockerfile.read_bytes() == b'FROM node:18.12\r\nCMD ["node"]\r\n'


def test_an_image_written_with_variables_is_never_pinned() -> None:
    # `image: "${POSTGRES_PASSWORD}.x/library/postgres"` resolves to a reference the pin would match
    # and the report would then print: the value of a grading secret.
    config: dict[str, Any] = {"services": {"db": {"image": "Sup3r-S3cret.x/library/postgres"}}}
    assert pin_services(config, PINS, "compose.yaml", interpolated={"db"}) == []
    assert config["services"]["db"]["image"] == "Sup3r-S3cret.x/library/postgres"


def test_a_dockerfile_that_cannot_be_written_is_built_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM node\n")

    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError("read-only")  # a 0444 file of an archive, for a grader that is not root

    monkeypatch.setattr(Path, "write_text", refuse)
    assert pin_dockerfile(dockerfile, PINS, "Dockerfile") == []  # no substitution claimed
    assert dockerfile.read_text() == "FROM node\n"


def test_cache_mounts_are_dropped_and_other_mounts_kept(tmp_path: Path) -> None:
    from grader.intake.images import drop_cache_mounts
    from grader.intake.project import ComposeProject

    (tmp_path / "Dockerfile").write_text(
        "FROM node:18\n"
        "RUN --mount=type=cache,target=/root/.npm npm ci\n"
        "RUN --mount=target=/x,id=shared,type=cache --mount=type=secret,id=npmrc cat /run/secrets/npmrc\n"
        "COPY --mount=type=cache x y\n"
    )
    config = {"services": {"api": {"build": {"context": str(tmp_path), "dockerfile": "Dockerfile"}}}}
    project = ComposeProject(tmp_path / "compose.yaml", tmp_path, config, "")
    dropped = drop_cache_mounts(project, tmp_path)
    assert dropped == [
        "Dockerfile line 2: --mount=type=cache,target=/root/.npm",
        "Dockerfile line 3: --mount=target=/x,id=shared,type=cache",
    ]
    assert (tmp_path / "Dockerfile").read_text().splitlines()[1:] == [
        "RUN npm ci",
        "RUN --mount=type=secret,id=npmrc cat /run/secrets/npmrc",
        "COPY --mount=type=cache x y",  # not a RUN: left for the builder to refuse
    ]
