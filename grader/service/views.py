"""What the service's pages show, read from the gradebook: plain values, no HTML here.

The official grade of a student is their last on-time graded run (a late push is graded and
flagged, never the grade); with no on-time graded run, their latest run is shown, marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from grader.classroom import gradebook
from grader.service import queue


@dataclass(frozen=True)
class Push:
    id: int
    sha: str
    branch: str
    received_at: datetime
    late: bool
    status: str  # queued, superseded, running, graded, incomplete, error, cancelled
    superseded_by: int | None
    attempts: int


@dataclass(frozen=True)
class Run:
    id: int
    push: int
    sha: str
    late: bool
    worker: str
    started_at: datetime
    finished_at: datetime | None
    status: str | None  # None while running; graded, incomplete, error, lost, cancelled
    score: float | None
    max_score: float | None
    markdown: str
    report: dict[str, Any] | None
    rubric: str = ""  # the fingerprint of the rubric it graded with


@dataclass(frozen=True)
class Standing:
    """One student of an assignment, as the grid shows them."""

    student: str
    token: str
    repository: str
    official: Run | None  # the last on-time graded run
    latest: Run | None  # the latest finished run, whatever it was (its report not read: see official)
    waiting: int  # pushes queued
    running: bool

    @property
    def shown(self) -> Run | None:
        return self.official or self.latest

    @property
    def outcomes(self) -> dict[str, str]:
        """check id -> passed, failed, ... of the run shown (the official one's report)."""
        report = self.official.report if self.official else None
        return {str(c.get("id")): str(c.get("status")) for c in (report or {}).get("checks") or []}


_COLUMNS = (
    "r.id, r.push_id, p.sha, p.late, r.worker, r.started_at, r.finished_at, r.status, r.score, r.max_score, "
    "coalesce(r.markdown, ''), r.report, r.rubric"
)
_FROM = " FROM grader_runs r JOIN grader_pushes p ON p.id = r.push_id "
_RUN = "SELECT " + _COLUMNS + _FROM


def _run(row: Any) -> Run:
    return Run(int(row[0]), int(row[1]), str(row[2]).strip(), bool(row[3]), str(row[4]), *row[5:])


def standings(conn: psycopg.Connection[Any], assignment: str) -> list[Standing]:
    """Every student with a push to the assignment, by name."""
    students = conn.execute(
        "SELECT student, token, repository FROM grader_students WHERE assignment = %s ORDER BY student", (assignment,)
    ).fetchall()
    official = {
        str(r[-1]): _run(r[:-1])
        for r in conn.execute(
            "SELECT DISTINCT ON (p.student) " + _COLUMNS + ", p.student" + _FROM + ""
            "WHERE p.assignment = %s AND r.status = 'graded' AND NOT p.late "
            "ORDER BY p.student, p.received_at DESC, r.id DESC",
            (assignment,),
        ).fetchall()
    }
    latest = {
        str(r[-1]): _run(r[:-1])
        for r in conn.execute(
            # The grid shows the latest run's status only: its report (tens of KiB) is not read.
            "SELECT DISTINCT ON (p.student) " + _COLUMNS.replace("r.report,", "NULL,") + ", p.student" + _FROM + ""
            "WHERE p.assignment = %s AND r.finished_at IS NOT NULL ORDER BY p.student, r.finished_at DESC, r.id DESC",
            (assignment,),
        ).fetchall()
    }
    counts = {
        str(r[0]): (int(r[1]), bool(r[2]))
        for r in conn.execute(
            "SELECT student, count(*) FILTER (WHERE status = 'queued'), bool_or(status = 'running') "
            "FROM grader_pushes WHERE assignment = %s GROUP BY student",
            (assignment,),
        ).fetchall()
    }
    return [
        Standing(str(s), str(t), str(repo), official.get(str(s)), latest.get(str(s)), *counts.get(str(s), (0, False)))
        for s, t, repo in students
    ]


def rows(standings_: list[Standing], assignment: str) -> list[gradebook.Row]:
    """The gradebook's rows (grader batch's CSV, its class page) of the official runs."""
    found: list[gradebook.Row] = []
    for s in standings_:
        run = s.official
        if run is None or run.report is None:
            continue
        meta = {
            "student": s.student,
            "source": f"{s.repository}@{run.sha[:12]}",
            "commit": run.sha,
            "graded_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else "",
            "duration_s": (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0,
            "fingerprint": {"rubric": run.rubric},
        }
        found.append(gradebook.row(s.student, run.report, meta))
    return found


def history(conn: psycopg.Connection[Any], assignment: str, student: str) -> tuple[list[Push], list[Run]]:
    """The student's pushes (newest first) and runs (newest first)."""
    pushes = [
        Push(int(r[0]), str(r[1]).strip(), str(r[2]), r[3], bool(r[4]), str(r[5]), r[6], int(r[7]))
        for r in conn.execute(
            "SELECT id, sha, branch, received_at, late, status, superseded_by, attempts FROM grader_pushes "
            "WHERE assignment = %s AND student = %s ORDER BY received_at DESC, id DESC",
            (assignment, student),
        ).fetchall()
    ]
    runs = [
        _run(r)
        for r in conn.execute(
            _RUN + "WHERE p.assignment = %s AND p.student = %s ORDER BY r.started_at DESC, r.id DESC",
            (assignment, student),
        ).fetchall()
    ]
    return pushes, runs


@dataclass(frozen=True)
class Waiting:
    assignment: str
    student: str
    position: int  # 1 = next to start
    scheduled_at: datetime | None  # None: as soon as a worker is free


@dataclass(frozen=True)
class Running:
    assignment: str
    student: str
    worker: str
    started_at: datetime
    seconds: float


def waiting(conn: psycopg.Connection[Any]) -> list[Waiting]:
    """The jobs waiting, in the order workers take them (priority, then id)."""
    found = conn.execute(
        "SELECT args, scheduled_at FROM procrastinate_jobs WHERE task_name = %s AND status = 'todo' "
        "ORDER BY priority DESC, id",
        (queue.TASK,),
    ).fetchall()
    return [Waiting(*queue.job_args(args), index + 1, at) for index, (args, at) in enumerate(found)]


def running(conn: psycopg.Connection[Any]) -> list[Running]:
    found = conn.execute(
        "SELECT p.assignment, p.student, r.worker, r.started_at, extract(epoch FROM now() - r.started_at) "
        "FROM grader_runs r JOIN grader_pushes p ON p.id = r.push_id WHERE r.finished_at IS NULL ORDER BY r.started_at"
    ).fetchall()
    return [Running(str(a), str(s), str(w), at, float(sec)) for a, s, w, at, sec in found]


def student_of_token(conn: psycopg.Connection[Any], token: str) -> tuple[str, str] | None:
    row = conn.execute("SELECT assignment, student FROM grader_students WHERE token = %s", (token,)).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def metrics(conn: psycopg.Connection[Any]) -> str:
    """Prometheus' text format: the queue's depth, runs per status, runs' durations."""
    depth = conn.execute(
        "SELECT status, count(*) FROM procrastinate_jobs WHERE task_name = %s AND status IN ('todo', 'doing') "
        "GROUP BY status",
        (queue.TASK,),
    ).fetchall()
    jobs = {str(s): int(n) for s, n in depth}
    statuses = conn.execute(
        "SELECT coalesce(status, 'running'), count(*), coalesce(sum(extract(epoch FROM finished_at - started_at)), 0) "
        "FROM grader_runs GROUP BY 1 ORDER BY 1"
    ).fetchall()
    lines = [
        "# HELP grader_queue_jobs Grading jobs waiting or running.",
        "# TYPE grader_queue_jobs gauge",
        f'grader_queue_jobs{{state="waiting"}} {jobs.get("todo", 0)}',
        f'grader_queue_jobs{{state="running"}} {jobs.get("doing", 0)}',
        "# HELP grader_runs_total Runs by how they ended (running: not yet).",
        "# TYPE grader_runs_total counter",
    ]
    lines += [f'grader_runs_total{{status="{s}"}} {n}' for s, n, _ in statuses]
    lines += [
        "# HELP grader_run_duration_seconds Time from a run's claim to its result.",
        "# TYPE grader_run_duration_seconds summary",
    ]
    finished = [(s, n, total) for s, n, total in statuses if s != "running"]
    lines += [f'grader_run_duration_seconds_sum{{status="{s}"}} {float(total):.3f}' for s, _, total in finished]
    lines += [f'grader_run_duration_seconds_count{{status="{s}"}} {n}' for s, n, _ in finished]
    return "\n".join(lines) + "\n"
