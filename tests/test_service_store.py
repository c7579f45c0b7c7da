"""grader.service.store against a real PostgreSQL (testcontainers' PostgresContainer on the
machine's postgres image): the schema migrates from nothing and again, and a delivery GitHub
sends twice is stored once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import procrastinate
import psycopg
import pytest

from grader.service.assignments import parse, route
from grader.service.github import Ignored, Push
from grader.service.store import migrate, record

pytestmark = pytest.mark.docker

SHA = "0123456789abcdef0123456789abcdef01234567"
SERVICE = """\
assignments:
  - name: docker-m4
    classroom: {organization: curso-docker, prefix: modulo-4-docker}
    deadline: 2026-12-10T23:59:00-03:00
  - name: docker-m4-again
    classroom: {organization: curso-docker, prefix: modulo-4-docker}
"""


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    from testcontainers.community.postgres import PostgresContainer

    # No Ryuk: its image is not on this machine and no registry is reachable; `with` removes the
    # container and its anonymous volume.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
        with PostgresContainer("postgres:16", driver=None) as postgres:
            url = postgres.get_connection_url()
            migrate(url)
            migrate(url)  # run on every start: a second time changes nothing
            yield url


def test_the_schema_is_there_once(database: str) -> None:
    with psycopg.connect(database) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'grader_%'")}
        versions = conn.execute("SELECT version_num FROM grader_schema_version").fetchall()
        queue = conn.execute("SELECT version FROM grader_queue_version").fetchall()
        jobs = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    assert tables == {
        "grader_pushes",
        "grader_ignored",
        "grader_runs",
        "grader_students",
        "grader_schema_version",
        "grader_queue_version",
    }
    assert versions == [("0002",)]
    assert queue == [(procrastinate.__version__,)] and jobs == (True,)  # the queue's schema, once


def test_a_push_is_stored_once_per_assignment_and_a_redelivery_adds_nothing(database: str) -> None:
    assignments = parse(SERVICE)
    push = Push("delivery-1", "curso-docker/modulo-4-docker-ana", "", "main", SHA, "ana")
    late = datetime(2026, 12, 11, 9, 0, tzinfo=timezone(timedelta(hours=-3)))
    with psycopg.connect(database) as conn:
        first = record(conn, push, route(push, assignments, late), late)
        again = record(conn, push, route(push, assignments, late), late)
        rows = conn.execute(
            "SELECT assignment, student, sha, late, status FROM grader_pushes WHERE delivery = %s ORDER BY assignment",
            ("delivery-1",),
        ).fetchall()
    assert len(first.push_ids) == 2 and not first.duplicate
    assert again.push_ids == () and again.duplicate
    assert rows == [
        ("docker-m4", "ana", SHA, True, "queued"),  # after its deadline: graded, and flagged late
        ("docker-m4-again", "ana", SHA, False, "queued"),  # no deadline
    ]


def test_a_delivery_with_nothing_to_grade_is_kept_with_its_reason(database: str) -> None:
    assignments = parse(SERVICE)
    now = datetime.now(timezone.utc)
    other = Push("delivery-2", "someone/else", "", "main", SHA, "x")
    with psycopg.connect(database) as conn:
        assert record(conn, other, route(other, assignments, now), now) == ((), False, ())
        assert record(conn, Ignored("delivery-3", "event ping: only pushes are graded"), None, now).duplicate is False
        assert record(conn, Ignored("delivery-3", "event ping: only pushes are graded"), None, now).duplicate
        reasons: dict[str, str] = dict(conn.execute("SELECT delivery, reason FROM grader_ignored").fetchall())
    assert reasons == {
        "delivery-2": "someone/else is no assignment's repository",
        "delivery-3": "event ping: only pushes are graded",
    }


def test_grader_migrate_brings_the_schema_up_to_date(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    from grader.cli import main

    assert main(["migrate", "--database", database]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_queue_schema_is_upgraded_by_procrastinate_s_own_migrations(database: str) -> None:
    """A database whose queue schema an older procrastinate wrote gets the migrations after it,
    in order (here: the last one again, which procrastinate writes to be re-runnable or not; a
    version far back would fail on objects that exist, so the newest migration's version)."""
    from procrastinate.schema import SchemaManager

    from grader.service.store import _version, migrate_queue

    names = sorted(p.name for p in Path(SchemaManager.get_migrations_path()).glob("*.sql"))
    assert _version(names[-1]) <= _version(procrastinate.__version__)
    with psycopg.connect(database) as conn:
        conn.execute("UPDATE grader_queue_version SET version = '0.0.1'")  # pretend: before any migration
        conn.commit()
    with pytest.raises(psycopg.Error):  # every migration again, over the newest schema: refused, rolled back
        migrate_queue(database)
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT version FROM grader_queue_version").fetchone() == ("0.0.1",)
        conn.execute("UPDATE grader_queue_version SET version = %s", (procrastinate.__version__,))
        conn.commit()
    migrate_queue(database)  # up to date: nothing applied


def test_services_starting_at_once_migrate_one_at_a_time(database: str) -> None:
    """The web and two workers start together on an empty database: each migrates, none fails."""
    import threading

    from tests.service_support import fresh_database

    empty = fresh_database(database)
    failures: list[BaseException] = []

    def start() -> None:
        try:
            migrate(empty)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with psycopg.connect(empty) as conn:
        assert conn.execute("SELECT version_num FROM grader_schema_version").fetchall() == [("0002",)]
