"""grader.service.queue against a real PostgreSQL with procrastinate's schema: what a job grades
when it starts, what waits, what is tried again, what a dead worker's job becomes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from grader.service import queue
from grader.service.assignments import parse, route
from grader.service.github import Push
from grader.service.queue import Claim, Later, Outcome
from grader.service.store import migrate, record
from tests.service_support import fresh_database, postgres_server

pytestmark = pytest.mark.docker

SERVICE = """\
assignments:
  - name: m4
    classroom: {organization: curso, prefix: m4}
"""
ASSIGNMENTS = parse(SERVICE)


def sha(n: int) -> str:
    return f"{n:040x}"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def db(server: str) -> Iterator[psycopg.Connection[Any]]:
    url = fresh_database(server)
    migrate(url)
    with psycopg.connect(url) as conn:
        yield conn


def push(conn: psycopg.Connection[Any], student: str, n: int, delivery: str | None = None) -> tuple[int, ...]:
    p = Push(delivery or f"d-{student}-{n}", f"curso/m4-{student}", "", "main", sha(n), student)
    now = datetime.now(timezone.utc)
    return record(conn, p, route(p, ASSIGNMENTS, now), now).push_ids


def jobs(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    return [(str(s), str(lock)) for s, lock in conn.execute("SELECT status, lock FROM procrastinate_jobs ORDER BY id")]


def test_five_quick_pushes_wait_as_one_job_and_the_newest_is_graded(db: psycopg.Connection[Any]) -> None:
    for n in range(1, 6):
        push(db, "ana", n)
    assert jobs(db) == [("todo", "m4:ana")]  # one waiting job for the student, however many pushes
    claimed = queue.claim(db, "m4", "ana", "w1", 1, timedelta(0))
    assert isinstance(claimed, Claim) and claimed.sha == sha(5) and len(claimed.superseded) == 4
    statuses = db.execute("SELECT sha, status, superseded_by FROM grader_pushes ORDER BY id").fetchall()
    assert [s for _, s, _ in statuses] == ["superseded"] * 4 + ["running"]
    assert {by for _, _, by in statuses[:4]} == {claimed.push}  # kept, and says which push replaced it
    assert queue.claim(db, "m4", "ana", "w1", 2, timedelta(0)) is None  # nothing else waits


def test_a_push_while_a_run_goes_on_waits_for_it(db: psycopg.Connection[Any]) -> None:
    push(db, "ana", 1)
    db.execute("UPDATE procrastinate_jobs SET status = 'doing'")  # a worker took the job
    db.commit()
    claimed = queue.claim(db, "m4", "ana", "w1", 1, timedelta(0))
    assert isinstance(claimed, Claim)
    push(db, "ana", 2)
    push(db, "ana", 3)
    assert jobs(db) == [("doing", "m4:ana"), ("todo", "m4:ana")]  # one running, one waiting


def test_a_replay_under_another_delivery_id_adds_nothing(db: psycopg.Connection[Any]) -> None:
    assert push(db, "ana", 1, delivery="one")
    assert push(db, "ana", 1, delivery="two") == ()  # the header is not signed; the commit is the same
    assert db.execute("SELECT count(*) FROM grader_pushes").fetchone() == (1,)


def test_claims_of_one_student_never_overlap_across_connections(server: str) -> None:
    url = fresh_database(server)
    migrate(url)
    with psycopg.connect(url) as conn:
        for n in range(1, 4):
            push(conn, "ana", n)
    claims: list[object] = []

    def take(worker: str) -> None:
        with psycopg.connect(url) as conn:
            claims.append(queue.claim(conn, "m4", "ana", worker, 1, timedelta(0)))

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [c for c in claims if isinstance(c, Claim)]
    assert len(taken) == 1 and taken[0].sha == sha(3)


def test_the_interval_between_gradings_holds(db: psycopg.Connection[Any]) -> None:
    push(db, "ana", 1)
    first = queue.claim(db, "m4", "ana", "w1", 1, timedelta(minutes=5))
    assert isinstance(first, Claim)
    queue.finish(db, first, Outcome("graded", {"score": 1, "max_score": 2}, "md"))
    push(db, "ana", 2)
    db.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE status = 'todo'")
    later = queue.claim(db, "m4", "ana", "w1", 2, timedelta(minutes=5))
    assert isinstance(later, Later)
    when = db.execute("SELECT scheduled_at FROM procrastinate_jobs WHERE status = 'todo'").fetchone()
    assert when is not None and when[0] == later.at  # queued for then, not before
    assert db.execute("SELECT status FROM grader_pushes WHERE sha = %s", (sha(2),)).fetchone() == ("queued",)


def test_an_incomplete_run_is_tried_again_later_a_few_times(db: psycopg.Connection[Any]) -> None:
    push(db, "ana", 1)
    tries = []
    for attempt in range(1, queue.MAX_ATTEMPTS + 1):
        db.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE status = 'todo'")
        claimed = queue.claim(db, "m4", "ana", "w1", attempt, timedelta(0))
        assert isinstance(claimed, Claim) and claimed.attempt == attempt
        tries.append(queue.finish(db, claimed, Outcome("incomplete", {"score": 0, "max_score": 100}, "md")).again)
        db.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'doing'")
    assert all(isinstance(t, datetime) for t in tries[:-1]) and tries[-1] is None
    gaps = [t - datetime.now(timezone.utc) for t in tries[:-1] if t is not None]
    assert gaps[0] > timedelta(seconds=20) and gaps[1] > timedelta(seconds=50)  # backoff: 30 s, then 60 s
    assert db.execute("SELECT status, attempts FROM grader_pushes").fetchone() == ("incomplete", queue.MAX_ATTEMPTS)
    runs = db.execute("SELECT status FROM grader_runs ORDER BY id").fetchall()
    assert runs == [("incomplete",)] * queue.MAX_ATTEMPTS


def test_a_students_failing_work_is_not_tried_again(db: psycopg.Connection[Any]) -> None:
    push(db, "ana", 1)
    claimed = queue.claim(db, "m4", "ana", "w1", 1, timedelta(0))
    assert isinstance(claimed, Claim)
    finished = queue.finish(db, claimed, Outcome("error", {"status": "error"}, "md", fault="input"))
    assert finished == (True, None, "error")
    assert db.execute("SELECT status FROM grader_pushes").fetchone() == ("error",)


def test_a_dead_workers_run_is_lost_and_its_push_queued_again(db: psycopg.Connection[Any]) -> None:
    push(db, "ana", 1)
    db.execute("UPDATE procrastinate_jobs SET status = 'doing'")
    job = db.execute("SELECT id FROM procrastinate_jobs").fetchone()
    assert job is not None
    claimed = queue.claim(db, "m4", "ana", "w1", int(job[0]), timedelta(0))
    assert isinstance(claimed, Claim)
    assert queue.lose(db, int(job[0])) == [("m4", "ana")]
    assert queue.lose(db, int(job[0])) == []  # recovered once
    assert db.execute("SELECT status FROM grader_runs").fetchall() == [("lost",)]
    assert db.execute("SELECT status FROM grader_pushes").fetchall() == [("queued",)]
    assert jobs(db) == [("doing", "m4:ana"), ("todo", "m4:ana")]
    # the lost run's late result is not stored over the recovery
    assert queue.finish(db, claimed, Outcome("graded", {"score": 1, "max_score": 1}, "md")) == (False, None, "")
    assert db.execute("SELECT status FROM grader_runs").fetchall() == [("lost",)]


def test_rerun_and_cancel(db: psycopg.Connection[Any]) -> None:
    push(db, "ana", 1)
    claimed = queue.claim(db, "m4", "ana", "w1", 1, timedelta(0))
    assert isinstance(claimed, Claim)
    queue.finish(db, claimed, Outcome("graded", {"score": 1, "max_score": 1}, "md"))
    db.execute("UPDATE procrastinate_jobs SET status = 'succeeded'")
    assert queue.rerun(db, "m4", "ana")
    assert not queue.rerun(db, "m4", "ana")  # it waits already
    assert jobs(db)[-1] == ("todo", "m4:ana")
    assert queue.cancel(db, "m4", "ana") == [("curso/m4-ana", sha(1), ())]  # what its commit should say
    assert jobs(db)[-1] == ("cancelled", "m4:ana")
    assert db.execute("SELECT status FROM grader_pushes").fetchone() == ("cancelled",)


def test_a_student_gets_one_unguessable_token(db: psycopg.Connection[Any]) -> None:
    push(db, "ana", 1)
    push(db, "ana", 2)
    push(db, "bea", 3)
    tokens = dict(db.execute("SELECT student, token FROM grader_students").fetchall())
    assert set(tokens) == {"ana", "bea"} and tokens["ana"] != tokens["bea"]
    assert all(len(t) >= 32 for t in tokens.values())


def late(conn: psycopg.Connection[Any], n: int) -> None:
    conn.execute("UPDATE grader_pushes SET late = true WHERE sha = %s", (sha(n),))


def test_a_late_push_never_supersedes_one_on_time_that_waits(db: psycopg.Connection[Any]) -> None:
    """23:58 waits behind the deadline's rush, 00:03 arrives: the on-time push is graded (it may
    be the grade), then the late one; neither is lost."""
    push(db, "ana", 1)
    push(db, "ana", 2)
    push(db, "ana", 3)
    late(db, 3)
    db.execute("UPDATE procrastinate_jobs SET status = 'doing'")
    first = queue.claim(db, "m4", "ana", "w1", 1, timedelta(0))
    assert isinstance(first, Claim) and first.sha == sha(2) and not first.late
    assert jobs(db)[-1] == ("todo", "m4:ana")  # a job for the late one
    queue.finish(db, first, Outcome("graded", {"score": 1, "max_score": 1}, "md"))
    db.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'doing'")
    db.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE status = 'todo'")
    second = queue.claim(db, "m4", "ana", "w1", 2, timedelta(0))
    assert isinstance(second, Claim) and second.sha == sha(3) and second.late
    statuses = dict(db.execute("SELECT sha, status FROM grader_pushes").fetchall())
    assert [statuses[sha(n)] for n in (1, 2, 3)] == ["superseded", "graded", "running"]


def test_rerun_grades_the_on_time_push_again_not_only_a_later_late_one(db: psycopg.Connection[Any]) -> None:
    for n in (1, 2):
        push(db, "ana", n)
        db.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE status = 'todo'")
        claimed = queue.claim(db, "m4", "ana", "w1", n, timedelta(0))
        assert isinstance(claimed, Claim)
        queue.finish(db, claimed, Outcome("graded", {"score": n, "max_score": 2}, "md"))
        db.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'doing'")
        if n == 2:
            late(db, 2)
    assert queue.rerun(db, "m4", "ana")
    queued = db.execute("SELECT sha FROM grader_pushes WHERE status = 'queued' ORDER BY id").fetchall()
    assert [s.strip() for (s,) in queued] == [sha(1), sha(2)]  # the grade's push and the latest


def test_a_cancel_stops_the_grading_even_when_its_child_starts_later(server: str, tmp_path: Path) -> None:
    """Cancelled while the worker still fetches: the `grader grade` child it then starts is stopped."""
    import subprocess
    import sys

    from grader.classroom.supervise import CHILDREN
    from grader.service.worker import Settings, _watch_cancel

    url = fresh_database(server)
    migrate(url)
    with psycopg.connect(url) as conn:
        push(conn, "ana", 1)
        claimed = queue.claim(conn, "m4", "ana", "w1", 1, timedelta(0))
        assert isinstance(claimed, Claim)
        assert queue.cancel(conn, "m4", "ana") == []  # the running push: its worker says it
    done = threading.Event()
    watch = threading.Thread(target=_watch_cancel, args=(Settings(url, ()), claimed, tmp_path, done))
    watch.start()
    try:
        time.sleep(2 * queue.CANCEL_POLL_S + 0.5)  # the cancel is seen before any child exists
        child = CHILDREN.start([sys.executable, "-c", "import time; time.sleep(60)"], {}, str(tmp_path))
        assert child is not None
        try:
            assert child.wait(3 * queue.CANCEL_POLL_S + 5) != 0  # stopped, long before its minute
        except subprocess.TimeoutExpired:
            child.kill()
            raise
        finally:
            CHILDREN.done(child)
    finally:
        done.set()
        watch.join()
