"""The grading queue: procrastinate's jobs in the gradebook's own PostgreSQL, one job per
(assignment, student), and the gradebook rows that say which push a job grades.

Why one job per student, not per push: a job carries no commit. When it starts it claims the
newest push of the student not graded yet and marks the older ones waiting `superseded`; so
five quick pushes give at most one running job (procrastinate's `lock`, which no two workers
hold at once) and one waiting (its `queueing_lock`), and whichever commit was last is graded.

Everything here takes the caller's connection and runs in its transaction: the webhook stores a
push and queues its job together, and a claim, a result or a recovery changes the push, the
run and the queue at once or not at all.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb

TASK = "grader.grade"  # the task's name in procrastinate_jobs (grader.service.worker defines it)
QUEUE = "grading"
QUEUEING_LOCK_INDEX = "procrastinate_jobs_queueing_lock_idx_v1"  # procrastinate's: one waiting job per lock
MAX_ATTEMPTS = 3  # runs of one push that ended `incomplete` (the machine's fault) before it stays so
BACKOFF = timedelta(seconds=30)  # before the second attempt; doubled before each next
CANCEL_POLL_S = 2.0  # how often a worker looks whether the push it grades was cancelled


def lock_of(assignment: str, student: str) -> str:
    return f"{assignment}:{student}"


def enqueue(conn: psycopg.Connection[Any], assignment: str, student: str, at: datetime | None = None) -> bool:
    """Queue a grading of the student's newest waiting push, in the caller's transaction (not
    before `at` when given). False when one already waits: that one grades the newest push
    when it starts, so nothing is lost."""
    lock = lock_of(assignment, student)
    args = Jsonb({"assignment": assignment, "student": student})
    try:
        with conn.transaction():  # a savepoint: a refused job leaves the caller's transaction usable
            # procrastinate's own SQL function (what its `defer` calls), here so that the job is
            # committed with the push it grades, or neither is.
            conn.execute(
                "SELECT procrastinate_defer_jobs_v1("
                "ARRAY[ROW(%s, %s, 0, %s, %s, %s, %s)::procrastinate_job_to_defer_v1])",
                (QUEUE, TASK, lock, lock, args, at),
            )
        return True
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name == QUEUEING_LOCK_INDEX:
            return False
        raise


def pinned_elsewhere(conn: psycopg.Connection[Any], assignment: str, student: str, repository_id: int) -> int | None:
    """GitHub's number of the repository the student first pushed from, when this push comes from
    another (a repository renamed, or made, under their name); None when it is theirs or unknown."""
    if not repository_id:
        return None
    row = conn.execute(
        "SELECT repository_id FROM grader_students WHERE assignment = %s AND student = %s", (assignment, student)
    ).fetchone()
    if row is None or row[0] is None or int(row[0]) == repository_id:
        return None
    return int(row[0])


def student_token(
    conn: psycopg.Connection[Any], assignment: str, student: str, repository: str, repository_id: int = 0
) -> str:
    """The token of the student's page (the link on their commit), made on their first push, which
    also pins their repository's number."""
    conn.execute(
        "INSERT INTO grader_students (assignment, student, repository, repository_id, token) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (assignment, student) DO UPDATE "
        "SET repository_id = coalesce(grader_students.repository_id, excluded.repository_id)",
        (assignment, student, repository, repository_id or None, secrets.token_urlsafe(24)),
    )
    row = conn.execute(
        "SELECT token FROM grader_students WHERE assignment = %s AND student = %s", (assignment, student)
    ).fetchone()
    assert row is not None
    return str(row[0])


@dataclass(frozen=True)
class Claim:
    """The push a job grades now, and the run that records it."""

    run: int
    push: int
    assignment: str
    student: str
    repository: str
    sha: str
    late: bool
    attempt: int
    superseded: tuple[int, ...]
    # (repository, sha, check runs) of each push superseded by this one: what their commits say next
    superseded_commits: tuple[tuple[str, str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class Later:
    """Too soon after the student's last grading: a job is queued for `at`."""

    at: datetime


def claim(
    conn: psycopg.Connection[Any], assignment: str, student: str, worker: str, job: int, interval: timedelta
) -> Claim | Later | None:
    """The newest waiting push of the student, now `running` under a new run; the older waiting
    ones `superseded` by it. None when nothing waits (a newer job already graded it)."""
    with conn.transaction():
        # Two claims of one student wait for each other (procrastinate's lock already keeps a
        # second job from starting; this keeps the interval's check and the claim one step).
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock_of(assignment, student),))
        if interval > timedelta(0):
            row = conn.execute(
                "SELECT max(r.started_at) + %s, now() FROM grader_runs r JOIN grader_pushes p ON p.id = r.push_id "
                "WHERE p.assignment = %s AND p.student = %s AND r.status IS DISTINCT FROM 'cancelled'",
                (interval, assignment, student),
            ).fetchone()
            if row is not None and row[0] is not None and row[0] > row[1]:
                enqueue(conn, assignment, student, at=row[0])
                return Later(row[0])
        waiting = conn.execute(
            "SELECT id, late FROM grader_pushes WHERE assignment = %s AND student = %s AND status = 'queued' "
            "ORDER BY received_at DESC, id DESC FOR UPDATE",
            (assignment, student),
        ).fetchall()
        if not waiting:
            return None
        # A late push never replaces one on time that waits: that one may be the grade. The newest
        # on-time push first (its older on-time ones superseded); the late ones after it.
        on_time = [int(i) for i, late in waiting if not late]
        pool = on_time or [int(i) for i, _ in waiting]
        newest, older = pool[0], tuple(pool[1:])
        if on_time and len(on_time) < len(waiting):
            enqueue(conn, assignment, student)  # this job runs: the late ones get the next
        commits: tuple[tuple[str, str, tuple[int, ...]], ...] = ()
        if older:
            commits = tuple(
                (str(repository), str(sha).strip(), tuple(int(r) for r in runs))
                for repository, sha, runs in conn.execute(
                    "UPDATE grader_pushes SET status = 'superseded', superseded_by = %s WHERE id = ANY(%s) "
                    "RETURNING repository, sha, check_runs",
                    (newest, list(older)),
                ).fetchall()
            )
        push = conn.execute(
            "UPDATE grader_pushes SET status = 'running', attempts = attempts + 1 WHERE id = %s "
            "RETURNING repository, sha, late, attempts",
            (newest,),
        ).fetchone()
        assert push is not None
        run = conn.execute(
            "INSERT INTO grader_runs (push_id, worker, job) VALUES (%s, %s, %s) RETURNING id", (newest, worker, job)
        ).fetchone()
        assert run is not None
        return Claim(
            int(run[0]),
            newest,
            assignment,
            student,
            str(push[0]),
            str(push[1]).strip(),
            bool(push[2]),
            int(push[3]),
            older,
            commits,
        )


@dataclass(frozen=True)
class Outcome:
    """What a run ended with: the report's status, or the grader's `error` when it has none."""

    status: str  # graded | incomplete | error
    report: dict[str, Any] | None = None
    markdown: str = ""
    exit_code: int | None = None
    fault: str = ""  # the batch's: "" (the work's), grader, fetch, input
    rubric: str = ""  # the fingerprint of the rubric it graded with (grader.classroom.fingerprint)

    @property
    def retried(self) -> bool:
        """Worth another attempt: the machine's or the grader's fault, never the student's work."""
        return self.status == "incomplete" or (self.status == "error" and self.fault in ("grader", "fetch"))


class Finished(NamedTuple):
    """What storing a result did: whether it was stored (not for a run already closed, recovered
    as `lost` meanwhile), when the push is tried again (None: it is not), and the status stored
    (`cancelled` when an instructor cancelled the push meanwhile, whatever the run ended with)."""

    stored: bool
    again: datetime | None = None
    status: str = ""


def finish(conn: psycopg.Connection[Any], claim: Claim, outcome: Outcome) -> Finished:
    """Store the run's result; a run the machine spoiled is queued again (later, a few times).
    Nothing is stored for a run already closed (recovered as `lost`)."""
    report = outcome.report or {}
    score, max_score = report.get("score"), report.get("max_score")
    with conn.transaction():
        # The run, then the push: the order `lose` takes them in (two orders could deadlock).
        conn.execute("SELECT 1 FROM grader_runs WHERE id = %s FOR UPDATE", (claim.run,))
        push = conn.execute("SELECT status FROM grader_pushes WHERE id = %s FOR UPDATE", (claim.push,)).fetchone()
        if push is not None and push[0] == "cancelled":  # an instructor stopped it: no grade, no retry
            outcome = dataclasses.replace(outcome, status="cancelled")
        closed = conn.execute(
            "UPDATE grader_runs SET finished_at = now(), status = %s, score = %s, max_score = %s, report = %s, "
            "markdown = %s, timings = %s, exit_code = %s, fault = %s, rubric = %s "
            "WHERE id = %s AND finished_at IS NULL RETURNING id",
            (
                outcome.status,
                score,
                max_score,
                Jsonb(report) if outcome.report is not None else None,
                outcome.markdown,
                Jsonb(report.get("timings")) if report.get("timings") is not None else None,
                outcome.exit_code,
                outcome.fault,
                outcome.rubric,
                claim.run,
            ),
        ).fetchone()
        if closed is None:
            return Finished(False)
        if outcome.status == "cancelled":
            return Finished(True, status="cancelled")
        again = outcome.retried and claim.attempt < MAX_ATTEMPTS
        conn.execute(
            "UPDATE grader_pushes SET status = %s WHERE id = %s AND status = 'running'",
            ("queued" if again else outcome.status, claim.push),
        )
        if not again:
            return Finished(True, status=outcome.status)
        row = conn.execute("SELECT now() + %s", (BACKOFF * 2 ** (claim.attempt - 1),)).fetchone()
        assert row is not None
        enqueue(conn, claim.assignment, claim.student, at=row[0])
        return Finished(True, row[0], "queued")


def lose(conn: psycopg.Connection[Any], job: int) -> list[tuple[str, str]]:
    """The runs of a job whose worker died (killed, its machine gone): `lost`, their pushes
    waiting again and queued. The (assignment, student) pairs queued again."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE grader_runs SET finished_at = now(), status = 'lost' WHERE job = %s AND finished_at IS NULL "
            "RETURNING push_id",
            (job,),
        ).fetchall()
        again: list[tuple[str, str]] = []
        for (push,) in rows:
            found = conn.execute(
                "UPDATE grader_pushes SET status = 'queued' WHERE id = %s AND status = 'running' "
                "RETURNING assignment, student",
                (push,),
            ).fetchone()
            if found is not None:
                again.append((str(found[0]), str(found[1])))
                enqueue(conn, str(found[0]), str(found[1]))
        return again


def job_args(raw: Any) -> tuple[str, str]:
    """(assignment, student) of a job's arguments, as enqueue wrote them."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    return str(data["assignment"]), str(data["student"])


def rerun(conn: psycopg.Connection[Any], assignment: str, student: str) -> bool:
    """Grade the student's latest push again (an instructor's rerun, after a rubric's fix), and
    the latest one on time when that is another (it is the grade): waiting again and queued,
    unless waiting or running already. Whether anything was queued."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock_of(assignment, student),))
        latest = conn.execute(
            "SELECT id FROM grader_pushes WHERE assignment = %s AND student = %s ORDER BY received_at DESC, id DESC "
            "LIMIT 1",
            (assignment, student),
        ).fetchall()
        on_time = conn.execute(
            "SELECT id FROM grader_pushes WHERE assignment = %s AND student = %s AND NOT late "
            "AND status NOT IN ('superseded', 'cancelled') ORDER BY received_at DESC, id DESC LIMIT 1",
            (assignment, student),
        ).fetchall()
        rows = conn.execute(
            "UPDATE grader_pushes SET status = 'queued', superseded_by = NULL, attempts = 0 "
            "WHERE id = ANY(%s) AND status NOT IN ('queued', 'running') RETURNING id",
            ([int(r[0]) for r in latest + on_time],),
        ).fetchall()
        if not rows:
            return False
        enqueue(conn, assignment, student)
        return True


def cancel(conn: psycopg.Connection[Any], assignment: str, student: str) -> list[tuple[str, str, tuple[int, ...]]]:
    """Cancel the student's grading: their waiting pushes and the job waiting with them, and the
    push being graded (its worker sees it within CANCEL_POLL_S, stops the run, which tears its
    stack down, and stores it `cancelled`). The waiting pushes cancelled: (repository, sha, check
    runs), whose commits should say so (the running one's worker says it)."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE grader_pushes p SET status = 'cancelled' FROM grader_pushes old "
            "WHERE p.id = old.id AND p.assignment = %s AND p.student = %s AND p.status IN ('queued', 'running') "
            "RETURNING old.status, p.repository, p.sha, p.check_runs",
            (assignment, student),
        ).fetchall()
        conn.execute(
            "SELECT procrastinate_cancel_job_v1(id, false, false) FROM procrastinate_jobs "
            "WHERE queueing_lock = %s AND status = 'todo'",
            (lock_of(assignment, student),),
        )
        return [
            (str(r), str(sha).strip(), tuple(int(i) for i in runs)) for was, r, sha, runs in rows if was == "queued"
        ]


def check_runs_of(conn: psycopg.Connection[Any], push: int) -> tuple[int, ...]:
    """The check runs recorded for a push (read again at each step: the webhook may add one)."""
    row = conn.execute("SELECT check_runs FROM grader_pushes WHERE id = %s", (push,)).fetchone()
    return tuple(int(i) for i in row[0]) if row else ()


def add_check_run(conn: psycopg.Connection[Any], push_ids: Sequence[int], check_run: int) -> list[str]:
    """Record a check run GitHub made for these pushes; their statuses now."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE grader_pushes SET check_runs = array_append(check_runs, %s) "
            "WHERE id = ANY(%s) AND NOT (%s = ANY(check_runs)) RETURNING status",
            (check_run, list(push_ids), check_run),
        ).fetchall()
        return [str(r[0]) for r in rows]
