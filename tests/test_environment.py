from __future__ import annotations

from pathlib import Path

from grader.environment import env_files_named, provide

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
