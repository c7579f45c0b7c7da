"""`grader worker`: takes grading jobs from the queue (procrastinate, in the gradebook's
PostgreSQL) and grades each claimed push exactly as `grader batch` grades a student: the
commit fetched by the batch's fetch code, `grader grade` in a child process, the reports read
back. It stores the JSON report, the Markdown, the timings and the status, and posts the result
on the commit.

A worker needs the database's URL and its own Docker engine, nothing else: workers on several
machines share the queue. `--concurrency N` grades N students at once; SIGTERM stops taking jobs
and lets the running ones finish and tear down (procrastinate's graceful stop).

A worker killed outright (kill -9, its machine gone) stops sending its heartbeat; every worker
looks for such jobs now and then (`recover`): their run is `lost`, the push waits again, a
new job is queued, and the stacks of dead runs on this machine are removed by their labels. Its
`grader grade` children get SIGTERM when it dies (the batch's children are started so) and tear
their own stacks down.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from grader.classroom.batch import BatchOptions, grade_student
from grader.classroom.fingerprint import rubric_digest
from grader.classroom.gradebook import REPORT
from grader.classroom.roster import Entry, Kind
from grader.classroom.supervise import CHILDREN, stop
from grader.service import queue
from grader.service.assignments import Assignment
from grader.service.queue import Claim, Outcome
from grader.service.status import Poster, Reporter, Step, state_of

log = logging.getLogger("grader.service")

RECOVER_EVERY_S = 10.0
# What a student's page says of a run the grader could not finish (the details, paths included,
# go to the worker's log, never to the page).
NOT_GRADED = "The grader could not grade this push (the machine's fault, not your work); it is tried again."
WORK_PREFIX = "grader-worker-"


@dataclass(frozen=True)
class Settings:
    """What a worker needs: the database, the assignments, where to clone from, where results go."""

    database: str
    assignments: Sequence[Assignment]
    git_base: str = "https://github.com/"  # a repository's clone URL is git_base + owner/name
    git_token: str = ""  # for private repositories over https (GitHub: x-access-token)
    interval: timedelta = timedelta(0)  # the least time between two gradings of one student
    stalled_after_s: float = 30.0  # a worker silent this long is dead: its jobs are recovered
    heartbeat_s: float = 5.0
    public_url: str = ""  # the service's own address: the student's link on their commit
    poster: Reporter = field(default_factory=Poster)  # commit statuses, or check runs (a GitHub App)

    def assignment(self, name: str) -> Assignment | None:
        return next((a for a in self.assignments if a.name == name), None)

    @property
    def base(self) -> str:
        return self.git_base if self.git_base.endswith("/") else self.git_base + "/"

    def clone_url(self, repository: str) -> str:
        """Made from owner/name, never from the payload's clone_url (a body GitHub signed, but a
        URL the service would then trust to point anywhere). No credentials in it: see git_auth."""
        base = self.base
        return f"{base}{repository}.git" if base.startswith(("https://", "http://")) else f"{base}{repository}"

    def git_auth(self) -> dict[str, str]:
        """The token for private repositories as git's environment (an Authorization header for
        git_base's URLs only), never in a URL: a URL is in git's arguments, which every user of
        the machine can read in /proc."""
        if not self.git_token or not self.base.startswith("https://"):
            return {}
        basic = base64.b64encode(f"x-access-token:{self.git_token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{self.base}.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }

    def student_url(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/s/{token}" if self.public_url else ""


def _token(conn: psycopg.Connection[Any], assignment: str, student: str) -> str:
    row = conn.execute(
        "SELECT token FROM grader_students WHERE assignment = %s AND student = %s", (assignment, student)
    ).fetchone()
    return str(row[0]) if row else ""


def _watch_cancel(settings: Settings, claimed: Claim, folder: Path, done: threading.Event) -> None:
    """Until `done`: once an instructor has cancelled the push being graded, stop its `grader
    grade` (the child grading into `folder`: SIGTERM, it tears its stack down), the one running
    and any that starts later (a cancel during the fetch comes before the child)."""
    cancelled = False
    while not done.wait(queue.CANCEL_POLL_S):
        if not cancelled:
            try:
                with psycopg.connect(settings.database, connect_timeout=5) as conn:
                    row = conn.execute("SELECT status FROM grader_pushes WHERE id = %s", (claimed.push,)).fetchone()
            except psycopg.Error:
                continue
            cancelled = row is not None and row[0] == "cancelled"
        if cancelled:
            for child in CHILDREN.grading(str(folder)):
                stop(child)


def _say(settings: Settings, repository: str, sha: str, push: int | None, runs: Sequence[int], step: Step) -> None:
    """Tell the commit (never raises: the grade never depends on GitHub); a check run made now is
    recorded with the push."""
    made = settings.poster.say(repository, sha, runs, step)
    if made is not None and push is not None:
        try:
            with psycopg.connect(settings.database, connect_timeout=5) as conn:
                queue.add_check_run(conn, [push], made)
        except psycopg.Error as exc:  # only the next step's update is lost: it makes another
            log.warning("check run %s of push %s not recorded: %s", made, push, type(exc).__name__)


def _runs(settings: Settings, push: int) -> tuple[int, ...]:
    try:
        with psycopg.connect(settings.database, connect_timeout=5) as conn:
            return queue.check_runs_of(conn, push)
    except psycopg.Error:
        return ()


def grade_claim(settings: Settings, assignment: Assignment, claimed: Claim) -> Outcome:
    """Fetch the claimed commit and grade it in a child process, as the batch does."""
    entry = Entry(claimed.student, "submission", Kind.GIT, settings.clone_url(claimed.repository), claimed.sha)
    prefix = f"{WORK_PREFIX}{os.getpid()}-"  # whose: a worker that died leaves it (remove_dead_runs)
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as tmp:
        options = BatchOptions(out=Path(tmp), rubric=assignment.rubric, lang=assignment.lang)
        rubric = rubric_digest(assignment.rubric)[:12]  # before: the rubric the run reads, not a later edit
        done = threading.Event()
        watch = threading.Thread(
            target=_watch_cancel, args=(settings, claimed, (Path(tmp) / "submission").resolve(), done), daemon=True
        )
        watch.start()
        try:
            result = grade_student(entry, options)
        finally:
            done.set()
            watch.join()
        folder = Path(tmp) / entry.key
        try:
            report: dict[str, Any] = json.loads((folder / REPORT).read_text(encoding="utf-8"))
            markdown = (folder / "report.md").read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            log.warning("%s/%s wrote no report: %s", claimed.assignment, claimed.student, exc)
            return Outcome("error", None, NOT_GRADED, fault="grader")
    status = str(report.get("status", "error"))
    verdict = status if status in ("graded", "incomplete") else "error"
    return Outcome(verdict, report, markdown, fault=result.fault, rubric=rubric)


def grade_job(settings: Settings, worker: str, job: int, assignment_name: str, student: str) -> str:
    """One job: claim the student's newest waiting push, grade it, store and post the result.
    What it did, for the worker's log."""
    with psycopg.connect(settings.database) as conn:
        claimed = queue.claim(conn, assignment_name, student, worker, job, settings.interval)
        token = _token(conn, assignment_name, student)
    if claimed is None:
        return "nothing waits (a newer job graded it)"
    if isinstance(claimed, queue.Later):
        return f"too soon after the last grading: queued for {claimed.at.isoformat()}"
    link = settings.student_url(token)
    for repository, sha, runs in claimed.superseded_commits:
        text = f"not graded: the newer push {claimed.sha[:7]} is"
        _say(settings, repository, sha, None, runs, Step("completed", "skipped", text, text))
    _say(
        settings,
        claimed.repository,
        claimed.sha,
        claimed.push,
        _runs(settings, claimed.push),
        Step("in_progress", title="grading", link=link),
    )
    assignment = settings.assignment(assignment_name)
    if assignment is None:
        outcome = Outcome("error", None, f"the assignment {assignment_name} is no longer in service.yml", fault="input")
    else:
        try:
            outcome = grade_claim(settings, assignment, claimed)
        except Exception:  # the worker's own fault: stored as such, tried again; details in its log only
            log.exception("grading %s/%s crashed", assignment_name, student)
            outcome = Outcome("error", None, NOT_GRADED, fault="grader")
    with psycopg.connect(settings.database) as conn:
        finished = queue.finish(conn, claimed, outcome)
    if not finished.stored:  # recovered as lost while it ran: another run grades the push
        return f"{outcome.status}, not stored: the run was recovered as lost meanwhile"
    if finished.again is not None:
        # still pending (a status) / in progress (a check run): the next attempt says how it ends
        return f"{outcome.status} ({outcome.fault or 'machine'}): tried again at {finished.again.isoformat()}"
    runs = _runs(settings, claimed.push)  # again: the webhook's may have come meanwhile
    if finished.status == "cancelled":
        text = "cancelled by the instructor"
        _say(
            settings,
            claimed.repository,
            claimed.sha,
            claimed.push,
            runs,
            Step("completed", "cancelled", text, text, link),
        )
        return "cancelled"
    score = (outcome.report or {}).get("score")
    fail_under = assignment.fail_under if assignment else None
    state = state_of(outcome.status, score, fail_under)
    maximum = (outcome.report or {}).get("max_score")
    text = f"{score:g}/{maximum:g}" if isinstance(score, (int, float)) and isinstance(maximum, (int, float)) else ""
    title = f"{text or outcome.status}{' (late)' if claimed.late else ''}"
    summary = outcome.markdown if outcome.report is not None else NOT_GRADED
    _say(settings, claimed.repository, claimed.sha, claimed.push, runs, Step("completed", state, title, summary, link))
    return f"{outcome.status} {title}"


def make_app(database: str) -> Any:
    """The procrastinate app: its connector on the gradebook's database, the grading task."""
    from procrastinate import App, JobContext, PsycopgConnector

    app = App(connector=PsycopgConnector(conninfo=database, min_size=1, max_size=4))

    @app.task(name=queue.TASK, queue=queue.QUEUE, pass_context=True)
    def grade(context: JobContext, assignment: str, student: str) -> str:
        settings: Settings = context.additional_context["settings"]
        assert context.job.id is not None
        worker = context.additional_context["worker"]
        done = grade_job(settings, worker, context.job.id, assignment, student)
        log.info("%s/%s: %s", assignment, student, done)
        return done

    return app


async def recover(app: Any, settings: Settings) -> list[int]:
    """The jobs of workers that stopped sending heartbeats: their runs lost, pushes queued again,
    the jobs closed (failed), and this machine's dead runs' stacks removed. The job ids."""
    from procrastinate.jobs import Status

    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.stalled_after_s, task_name=queue.TASK
    )
    recovered: list[int] = []
    for job in stalled:

        def lose(job_id: int = job.id) -> None:
            with psycopg.connect(settings.database) as conn:
                queue.lose(conn, job_id)

        await asyncio.to_thread(lose)
        await app.job_manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
        recovered.append(job.id)
        log.warning("job %s: its worker stopped; the student's push is queued again", job.id)
    if recovered:
        await asyncio.to_thread(remove_dead_runs)
    return recovered


def remove_dead_runs() -> list[str]:
    """What `grader cleanup` removes: the stacks of runs on this machine whose process is gone;
    and the working copies of workers of this machine that died."""
    from grader.engine import cleanup
    from grader.engine.connect import docker_client

    problems: list[str] = []
    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*-*"):
        pid = folder.name.removeprefix(WORK_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)) and folder.is_dir() and folder.stat().st_uid == os.getuid():
            shutil.rmtree(folder, ignore_errors=True)
    try:
        client = docker_client()
        for leftover in cleanup.leftovers(client):
            problems += cleanup.remove(client, leftover)
    except Exception as exc:  # the engine unreachable: the next recovery tries again
        problems.append(f"{type(exc).__name__}: {exc}")
    return problems


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def run(settings: Settings, concurrency: int = 1, name: str = "") -> None:
    """Take jobs until SIGTERM or SIGINT (then finish the running ones)."""
    worker = name or f"{socket.gethostname()}-{os.getpid()}"
    os.environ.update(settings.git_auth())  # the fetch's git reads it; `grader grade` children never get it
    app = make_app(settings.database)
    async with app.open_async():
        await asyncio.to_thread(remove_dead_runs)  # a previous worker of this machine may have died

        async def recovering() -> None:
            while True:
                try:
                    await recover(app, settings)
                except Exception:
                    log.exception("recovering stalled jobs")
                await asyncio.sleep(RECOVER_EVERY_S)

        watch = asyncio.create_task(recovering())
        try:
            await app.run_worker_async(
                queues=[queue.QUEUE],
                concurrency=concurrency,
                name=worker,
                additional_context={"settings": settings, "worker": worker},
                update_heartbeat_interval=settings.heartbeat_s,
                stalled_worker_timeout=settings.stalled_after_s,
                delete_jobs="never",
            )
        finally:
            watch.cancel()
