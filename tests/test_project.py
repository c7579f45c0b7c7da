from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from grader.engine.override import db_port
from grader.intake.project import (
    ComposeProject,
    data_mount,
    data_not_kept,
    postgres_layout,
    postgres_major,
    split_image,
)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param("postgres", ("postgres", ""), id="untagged"),
        pytest.param("postgres:15-alpine", ("postgres", "15-alpine"), id="tag"),
        pytest.param("docker.io/library/postgres:16@sha256:abc", ("postgres", "16"), id="registry-digest"),
        pytest.param("localhost:5000/team/postgres:17", ("postgres", "17"), id="registry-port"),
    ],
)
def test_split_image(image: str, expected: tuple[str, str]) -> None:
    assert split_image(image) == expected


@pytest.mark.parametrize(
    ("image", "major"),
    [
        ("postgres:15", 15),
        ("postgres:17.2-bookworm", 17),
        ("postgres", 18),
        ("postgres:latest", 18),
        ("postgres:alpine", 18),
        ("postgres:18", 18),
        ("postgres:19beta1", 19),
    ],
)
def test_postgres_major(image: str, major: int) -> None:
    assert postgres_major(image) == major


def vol(target: str, source: str = "pgdata", kind: str = "volume") -> dict[str, Any]:
    return {"type": kind, "source": source, "target": target}


@pytest.mark.parametrize(
    ("image", "env", "mounts", "holder"),
    [
        pytest.param("postgres:15", {}, [vol("/var/lib/postgresql/data")], "pgdata", id="15-right"),
        pytest.param("postgres:15", {}, [vol("/var/lib/postgresql")], "", id="15-parent-shadowed"),
        pytest.param("postgres:15", {}, [vol("/data")], "", id="15-elsewhere"),
        pytest.param("postgres:15", {}, [], "", id="15-none"),
        pytest.param(
            "postgres:15",
            {"PGDATA": "/var/lib/postgresql/data/pgdata"},
            [vol("/var/lib/postgresql/data")],
            "pgdata",
            id="15-pgdata-subdir",
        ),
        pytest.param("postgres:15", {"PGDATA": "/pg"}, [vol("/pg")], "pgdata", id="15-custom-pgdata"),
        pytest.param("postgres", {}, [vol("/var/lib/postgresql")], "pgdata", id="18-right"),
        pytest.param("postgres:18", {}, [vol("/var/lib/postgresql/18/docker")], "pgdata", id="18-exact-dir"),
        pytest.param("postgres", {}, [vol("/var/lib/postgresql/data")], "", id="18-legacy-path"),
        pytest.param(
            "postgres:15", {}, [vol("/var/lib/postgresql/data", "/abs/pgdata", "bind")], "/abs/pgdata", id="15-bind"
        ),
    ],
)
def test_which_mount_holds_the_data(image: str, env: dict[str, str], mounts: list[dict[str, Any]], holder: str) -> None:
    found = data_mount(postgres_layout(image, env), mounts)
    assert (found or {}).get("source", "") == holder


def test_layout_names_the_mount_to_suggest() -> None:
    assert postgres_layout("postgres:16", {}).expected_mount == "/var/lib/postgresql/data"
    assert postgres_layout("postgres", {}).expected_mount == "/var/lib/postgresql"
    assert postgres_layout("postgres", {}).pgdata == "/var/lib/postgresql/18/docker"


def project(services: dict[str, Any], text: str = "") -> ComposeProject:
    return ComposeProject(Path("/r/compose.yaml"), Path("/r"), {"services": services}, text)


def test_app_and_db_services() -> None:
    p = project(
        {
            "migrate": {"build": {"context": "/r"}},
            "api": {"build": {"context": "/r"}, "ports": [{"target": 3000, "published": "3000"}]},
            "db": {"image": "postgres:15"},
        }
    )
    assert p.app_service() == "api"
    assert p.db_service() == "db"
    assert p.published_targets("api") == [3000]


_API = {"build": {"context": "/r"}, "ports": [{"target": 3000}]}


@pytest.mark.parametrize(
    "services, app, db",
    [
        # Compose lists services by name: `analytics-db` comes first, the API uses `db`.
        pytest.param(
            {
                "analytics-db": {"image": "postgres:16"},
                "api": {**_API, "environment": {"DB_HOST": "db"}},
                "db": {"image": "postgres:16"},
            },
            "api",
            "db",
            id="db-host-names-the-second",
        ),
        pytest.param(
            {
                "api": {**_API, "environment": {"DATABASE_URL": "postgres://postgres:pw@main-db:5432/app"}},
                "main-db": {"image": "postgres"},
                "postgres": {"image": "postgres"},
            },
            "api",
            "main-db",
            id="url-host-beats-a-user-called-postgres",
        ),
        pytest.param(
            {
                "api": {**_API, "depends_on": {"pg": {"condition": "service_started"}}},
                "a-test-db": {"image": "postgres"},
                "pg": {"image": "postgres"},
            },
            "api",
            "pg",
            id="depends-on",
        ),
        pytest.param(
            {
                "api": {"build": {"context": "/r"}, "environment": {"DB_HOST": "db"}},
                "a-worker": {"build": {"context": "/r"}},
                "db": {"image": "postgres"},
            },
            "api",
            "db",
            id="no-port-published-the-one-that-connects",
        ),
        pytest.param(
            {"db": {"image": "postgres"}, "migrate": {"build": {"context": "/r"}, "environment": {"DB_HOST": "db"}}},
            "migrate",
            "db",
            id="one-build-service",
        ),
    ],
)
def test_the_app_and_database_are_what_the_app_connects_to(services: dict[str, Any], app: str, db: str) -> None:
    p = project(services)
    assert (p.app_service(), p.db_service()) == (app, db)


@pytest.mark.parametrize(
    "pgport, port",
    [
        pytest.param("5433", 5433, id="set"),
        pytest.param("", 5432, id="unset"),
        pytest.param("²", 5432, id="superscript-digit"),  # str.isdigit() says yes, int() refuses
        pytest.param("70000", 5432, id="out-of-range"),
        pytest.param(" 6543 ", 6543, id="spaces"),
    ],
)
def test_the_database_port_follows_pgport(pgport: str, port: int) -> None:
    assert db_port({"PGPORT": pgport}) == port


def test_the_rubric_s_app_decides_the_database_too() -> None:
    p = project(
        {
            "api": {"build": {"context": "/r"}, "environment": {"DB_HOST": "db"}},
            "decoy": {**_API, "environment": {"DB_HOST": "decoy-db"}},
            "db": {"image": "postgres"},
            "decoy-db": {"image": "postgres"},
        }
    )
    assert (p.app_service(), p.db_service()) == ("decoy", "decoy-db")
    chosen = dataclasses.replace(p, chosen_app="api")
    assert (chosen.app_service(), chosen.db_service()) == ("api", "db")


def test_no_app_without_build() -> None:
    assert project({"db": {"image": "postgres:15"}, "api": {"image": "node:18"}}).app_service() is None


def test_line_of_a_key() -> None:
    text = "services:\n  db:\n    image: postgres\n    volumes:\n      - pgdata:/x\n"
    p = project({}, text)
    assert p.line_of("services", "db", "volumes") == 4
    assert p.where("services", "db", "volumes") == "compose.yaml line 4"
    assert p.line_of("services", "nope") == 1


@pytest.mark.parametrize(
    ("image", "volumes", "lost"),
    [
        pytest.param(
            "postgres:15",
            [{"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"}],
            False,
            id="named",
        ),
        pytest.param(
            "postgres:15",
            [{"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql"}],
            True,
            id="one-level-above",
        ),
        pytest.param("postgres:15", [], True, id="none"),
        pytest.param(
            "postgres:15",
            [{"type": "bind", "source": "/r/data", "target": "/var/lib/postgresql/data"}],
            False,
            id="bind-keeps",
        ),
        pytest.param("postgres:16", [{"type": "tmpfs", "target": "/var/lib/postgresql/data"}], True, id="tmpfs"),
        pytest.param(
            "postgres", [{"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql"}], False, id="18-named"
        ),
        pytest.param(
            "postgres",
            [{"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"}],
            False,
            id="18-legacy-is-another-cause",
        ),
    ],
)
def test_data_not_kept(image: str, volumes: list[dict[str, Any]], lost: bool) -> None:
    assert data_not_kept(project({"db": {"image": image, "volumes": volumes}})) is lost
