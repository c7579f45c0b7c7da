"""The service's gradebook in PostgreSQL: its schema (alembic, `migrate`), and the pushes it
receives, each stored once however often GitHub delivers it.

A connection string is libpq's (`postgresql://user:password@host:5432/db`); the schema's
migrations live beside this module (grader/service/migrations).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from grader.service import queue
from grader.service.assignments import Routing
from grader.service.github import Ignored, Push

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(url: str) -> None:
    """Bring the database's schema to the newest revision (idempotent: run on every start): the
    queue's (procrastinate's), then the gradebook's (alembic)."""
    from alembic import command  # here: only the service needs alembic and SQLAlchemy
    from alembic.config import Config

    migrate_queue(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))  # ConfigParser interpolation
    # The web and the workers migrate as they start, perhaps at once: one at a time (a session
    # lock held on a connection of its own while alembic upgrades on another).
    with psycopg.connect(url, autocommit=True) as guard:
        guard.execute("SELECT pg_advisory_lock(hashtextextended('grader_gradebook_schema', 0))")
        command.upgrade(config, "head")


def _version(text: str) -> tuple[int, ...]:
    """procrastinate's version (3.10.0) or a migration file's (03.04.00_01_...sql) as numbers."""
    return tuple(int(part) for part in re.findall(r"\d+", text.split("_", 1)[0])[:3])


def migrate_queue(url: str) -> None:
    """procrastinate's schema: all of it on an empty database, else its migrations newer than the
    version applied last (recorded in grader_queue_version), in order. One service at a time:
    two starting at once wait for each other."""
    import procrastinate
    from procrastinate.schema import SchemaManager

    installed = procrastinate.__version__
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('grader_queue_schema', 0))")
        conn.execute("CREATE TABLE IF NOT EXISTS grader_queue_version (version text NOT NULL)")
        row = conn.execute("SELECT version FROM grader_queue_version").fetchone()
        present = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if not (present and present[0]):
            conn.execute(SchemaManager.get_schema())
        elif row is not None and _version(str(row[0])) < _version(installed):
            folder = Path(SchemaManager.get_migrations_path())
            for path in sorted(folder.glob("*.sql"), key=lambda p: (_version(p.name), p.name)):
                if _version(str(row[0])) < _version(path.name) <= _version(installed):
                    conn.execute(path.read_text(encoding="utf-8"))
        elif row is None:
            raise RuntimeError("procrastinate's tables are there but not their version: not this service's database?")
        conn.execute("DELETE FROM grader_queue_version")
        conn.execute("INSERT INTO grader_queue_version (version) VALUES (%s)", (installed,))


def sqlalchemy_url(url: str) -> str:
    """libpq's URL as SQLAlchemy names the psycopg 3 driver."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url.removeprefix(scheme)
    raise ValueError("a PostgreSQL URL starts with postgresql://")


class Recorded(NamedTuple):
    """What storing a delivery did: the pushes it added (one per assignment), or none for a
    redelivery (`duplicate`) or a delivery with nothing to grade."""

    push_ids: tuple[int, ...] = ()
    duplicate: bool = False
    refused: tuple[str, ...] = ()  # gradings refused: the repository is not the one the student pinned


def record(
    conn: psycopg.Connection[Any], delivery: Push | Ignored, routing: Routing | None, received: datetime
) -> Recorded:
    """Store a verified delivery in one transaction: its pushes to grade, each with its grading
    queued (grader.service.queue), or why it is ignored. A redelivery (the same
    X-GitHub-Delivery), or the same commit again under another, adds nothing."""
    with conn.transaction():
        if isinstance(delivery, Ignored) or routing is None or not routing.gradings:
            reason = delivery.reason if isinstance(delivery, Ignored) else routing.ignored if routing else ""
            row = conn.execute(
                "INSERT INTO grader_ignored (delivery, received_at, reason) VALUES (%s, %s, %s) "
                "ON CONFLICT (delivery) DO NOTHING RETURNING delivery",
                (delivery.delivery, received, reason),
            ).fetchone()
            return Recorded(duplicate=row is None)
        ids: list[int] = []
        refused: list[str] = []
        for grading in routing.gradings:
            pinned = queue.pinned_elsewhere(conn, grading.assignment.name, grading.student, delivery.repository_id)
            if pinned is not None:
                refused.append(
                    f"{grading.assignment.name}: {delivery.repository} (repository {delivery.repository_id}) is "
                    f"not the one {grading.student} pushed from before ({pinned}): renamed or made under their name"
                )
                continue
            row = conn.execute(
                "INSERT INTO grader_pushes (delivery, assignment, student, repository, branch, sha, pusher, "
                "received_at, late) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (
                    delivery.delivery,
                    grading.assignment.name,
                    grading.student,
                    delivery.repository,
                    delivery.branch,
                    delivery.sha,
                    delivery.pusher,
                    received,
                    grading.late,
                ),
            ).fetchone()
            if row is not None:
                ids.append(int(row[0]))
                queue.student_token(
                    conn, grading.assignment.name, grading.student, delivery.repository, delivery.repository_id
                )
                queue.enqueue(conn, grading.assignment.name, grading.student)
        if refused and not ids:
            conn.execute(
                "INSERT INTO grader_ignored (delivery, received_at, reason) VALUES (%s, %s, %s) "
                "ON CONFLICT (delivery) DO NOTHING",
                (delivery.delivery, received, "; ".join(refused)),
            )
            return Recorded(refused=tuple(refused))
        return Recorded(tuple(ids), duplicate=not ids, refused=tuple(refused))
