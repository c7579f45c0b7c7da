"""The service's gradebook in PostgreSQL: its schema (alembic, `migrate`), and the pushes it
receives, each stored once however often GitHub delivers it.

A connection string is libpq's (`postgresql://user:password@host:5432/db`); the schema's
migrations live beside this module (grader/service/migrations).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from grader.service.assignments import Routing
from grader.service.github import Ignored, Push

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(url: str) -> None:
    """Bring the database's schema to the newest revision (idempotent: run on every start)."""
    from alembic import command  # here: only the service needs alembic and SQLAlchemy
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))  # ConfigParser interpolation
    command.upgrade(config, "head")


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


def record(
    conn: psycopg.Connection[Any], delivery: Push | Ignored, routing: Routing | None, received: datetime
) -> Recorded:
    """Store a verified delivery in one transaction: its pushes to grade, or why it is ignored.
    A redelivery (the same X-GitHub-Delivery) adds nothing."""
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
        for grading in routing.gradings:
            row = conn.execute(
                "INSERT INTO grader_pushes (delivery, assignment, student, repository, branch, sha, pusher, "
                "received_at, late) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (delivery, assignment) DO NOTHING RETURNING id",
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
        return Recorded(tuple(ids), duplicate=not ids)
