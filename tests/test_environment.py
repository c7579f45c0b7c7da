from __future__ import annotations

from pathlib import Path

import pytest

from grader.intake.environment import MAX_ENV_FILES, MAX_EXAMPLE_BYTES, env_files_named, provide, stand_in_examples

COMPOSE = """services:
  api:
    build: .
    env_file: .env.development
  db:
    image: postgres:15
    env_file:
      - path: ./db.env
        required: false
      - ../outside.env
"""
VALUES = {"DB_HOST": "db", "JWT_SECRET": "s3cr3t-value"}


def test_env_files_in_every_form() -> None:
    assert env_files_named(COMPOSE) == [".env.development", "./db.env", "../outside.env"]


def test_missing_files_are_written_and_short_ones_completed(tmp_path: Path) -> None:
    root = tmp_path / "copy"
    root.mkdir()
    (root / "db.env").write_text("DB_HOST=database")
    notes = provide(root, COMPOSE, VALUES)
    assert (root / ".env.development").read_text().endswith("DB_HOST=db\nJWT_SECRET=s3cr3t-value\n")
    # the student's own value wins; only the missing key is added
    assert (root / "db.env").read_text() == "DB_HOST=database\nJWT_SECRET=s3cr3t-value\n"
    assert not (tmp_path / "outside.env").exists()  # never outside the working copy
    assert len(notes) == 2 and all("s3cr3t" not in n for n in notes)


def test_nothing_to_provide(tmp_path: Path) -> None:
    assert provide(tmp_path, COMPOSE, {}) == []
    assert list(tmp_path.iterdir()) == []


def test_a_committed_example_stands_in_for_a_missing_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("DB_HOST=db\n")
    (tmp_path / ".env.development.example").write_text("DB_HOST=specific\n")
    (tmp_path / "db.env.sample").write_text("POSTGRES_PASSWORD=x\n")
    used = stand_in_examples(tmp_path, COMPOSE)
    # the most specific example first; never outside the copy
    assert used == [(".env.development", ".env.development.example"), ("./db.env", "db.env.sample")]
    assert (tmp_path / ".env.development").read_text() == "DB_HOST=specific\n"
    assert not (tmp_path / "../outside.env").exists()


def test_an_example_is_used_only_where_the_file_is_missing(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=mine\n")
    (tmp_path / ".env.example").write_text("A=example\n")
    assert stand_in_examples(tmp_path, "services:\n  api:\n    image: x\n    environment: [A=${A}]\n") == []
    assert (tmp_path / ".env").read_text() == "A=mine\n"


def test_an_example_that_is_a_link_or_too_large_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("A=1\n")
    (tmp_path / ".env.example").symlink_to(tmp_path / "secret")
    (tmp_path / ".env.sample").write_text("A=" + "x" * (MAX_EXAMPLE_BYTES + 1))
    assert stand_in_examples(tmp_path, "services:\n  api:\n    image: x\n    env_file: .env\n") == []
    assert not (tmp_path / ".env").exists()


@pytest.mark.parametrize(
    "compose",
    [
        pytest.param("services:\n  api:\n    env_file: 5\n", id="number"),
        pytest.param("services:\n  api:\n    env_file: true\n", id="bool"),
        pytest.param("services: [app]\n", id="services-a-list"),
        pytest.param('services:\n  api:\n    env_file: "a\\0b"\n', id="nul"),
    ],
)
def test_a_malformed_env_file_is_compose_s_to_reject(tmp_path: Path, compose: str) -> None:
    (tmp_path / ".env.example").write_text("A=1\n")
    assert stand_in_examples(tmp_path, compose) == []


def test_an_example_is_never_written_through_a_link(tmp_path: Path) -> None:
    """The copy keeps an absolute link that resolves inside the original repository: the stand-in
    must not follow it and write into the original."""
    original = tmp_path / "original"
    (original / "real" / "e").mkdir(parents=True)
    (original / "real" / "e" / "app.env.example").write_text("A=1\n")
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "d").symlink_to(original / "real")
    assert stand_in_examples(copy, "services:\n  api:\n    image: x\n    env_file: d/e/app.env\n") == []
    assert not (original / "real" / "e" / "app.env").exists()


def test_env_files_named_are_capped(tmp_path: Path) -> None:
    """95k entries took the screen's predecessor 72 s in a list scan; now a dict, and a cap."""
    entries = ", ".join(f"f{i}.env" for i in range(5_000))
    assert len(env_files_named(f"services:\n  api:\n    env_file: [{entries}]\n")) == MAX_ENV_FILES


def test_a_variable_named_with_no_value_is_filled_from_dotenv(tmp_path: Path) -> None:
    """`environment: [POSTGRES_PASSWORD]`: compose takes it from `.env`, so that is where the
    instructor's value goes, though the file interpolates nothing."""
    from grader.intake.environment import provide

    compose = "services:\n  db:\n    image: postgres\n    environment: [POSTGRES_PASSWORD]\n"
    assert provide(tmp_path, compose, {"POSTGRES_PASSWORD": "pw"})
    assert (tmp_path / ".env").read_text().endswith("POSTGRES_PASSWORD=pw\n")


@pytest.mark.parametrize(
    ("name", "inside"),
    [
        pytest.param(".env", True, id="dotenv"),
        pytest.param("config/app.env", True, id="below"),
        pytest.param("${ENV_FILE}", False, id="interpolated"),
        pytest.param("/etc/passwd", False, id="absolute"),
        pytest.param("../secrets.env", False, id="parent"),
        pytest.param("config/../../x.env", False, id="parent-inside-the-path"),
        pytest.param("", False, id="empty"),
    ],
)
def test_an_env_file_in_the_repository_is_named_plainly(name: str, inside: bool) -> None:
    """The one predicate grader.intake.values.absent and stand_in_examples share (they had two)."""
    from grader.intake.environment import in_repository

    assert in_repository(name) is inside
