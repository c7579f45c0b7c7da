"""`grader worker` processes against a real PostgreSQL, real git repositories behind file://
remotes and the real engine: what they grade, that two never grade one student at once, that a
worker killed mid-run (kill -9) is recovered with one result and nothing left on the engine, and
the statuses a stand-in of GitHub's API receives."""

from __future__ import annotations

import itertools
import json
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import psycopg
import pytest

from grader.engine.reaper import drain
from grader.service.store import migrate
from tests.conftest import EXPECTED, SUBMISSIONS, engine_changes, engine_counts, tree_digest
from tests.service_support import Class, GitHubStandIn, fresh_database, postgres_server

pytestmark = pytest.mark.docker

SERVICE = """\
assignments:
  - name: m4
    classroom: {organization: curso, prefix: m4}
    lang: es
    fail_under: 60
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def klass(server: str, tmp_path: Path) -> Iterator[Class]:
    database = fresh_database(server)
    migrate(database)
    github = GitHubStandIn()
    found = Class(tmp_path, database, github, SERVICE)
    try:
        yield found
    finally:
        found.stop_workers()
        github.close()


def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, float]]:
    return {c["id"]: (c["status"], float(c["points"])) for c in report["checks"]}


def expected(fixture: str) -> dict[str, tuple[str, float]]:
    doc = json.loads((EXPECTED / f"{fixture}.json").read_text())
    return {k: (v["status"], float(v["points"])) for k, v in doc["checks"].items()}


def test_two_workers_never_grade_one_student_at_once(klass: Class, engine: docker.DockerClient) -> None:
    """Three students push four times each, quickly, to two workers (a compose file that does not
    parse grades in seconds): every student's runs are one after the other, each student's last
    push is graded, the ones a newer push overtook are superseded, and every push graded has its
    statuses on the commit."""
    before = engine_counts(engine)
    klass.start_worker("wA")
    klass.start_worker("wB")
    last: dict[str, str] = {}
    for round_ in range(4):
        for student in ("ana", "bea", "cris"):
            last[student] = klass.commit(student, "invalid-compose", f"push {round_}")
            klass.push(student, last[student])
        time.sleep(0.3)

    def settled() -> bool:
        waiting = klass.query("SELECT count(*) FROM grader_pushes WHERE status IN ('queued', 'running')")
        return waiting == [(0,)]

    klass.wait_for(settled, 300, "every push graded or superseded")
    runs = klass.query(
        "SELECT p.student, r.worker, r.started_at, r.finished_at, r.status, p.sha FROM grader_runs r "
        "JOIN grader_pushes p ON p.id = r.push_id ORDER BY p.student, r.started_at"
    )
    by_student: dict[str, list[tuple[Any, ...]]] = {}
    for run in runs:
        by_student.setdefault(run[0], []).append(run)
    for student, theirs in by_student.items():
        for earlier, later in itertools.pairwise(theirs):
            assert earlier[3] <= later[2], f"{student}: two runs at once ({earlier[1]} and {later[1]})"
        assert theirs[-1][5].strip() == last[student]  # the last push is the one graded last
        assert all(r[4] == "graded" for r in theirs)
    assert {r[1] for r in runs} == {"wA", "wB"}  # both workers took jobs
    graded = klass.query("SELECT count(*) FROM grader_pushes WHERE status = 'graded'")[0][0]
    superseded = klass.query("SELECT count(*) FROM grader_pushes WHERE status = 'superseded'")[0][0]
    assert graded + superseded == 12 and superseded >= 1
    report = klass.query("SELECT r.report FROM grader_runs r JOIN grader_pushes p ON p.id = r.push_id LIMIT 1")[0][0]
    assert verdicts(report) == expected("invalid-compose")  # what `grader grade` gives the fixture
    for student, sha in last.items():
        states = klass.github.states(sha)
        assert states[0] == "pending" and states[-1] == "failure", student  # 17 points, under fail_under 60
    klass.stop_workers()
    drain(engine)
    assert engine_changes(before, engine_counts(engine)) == {}


def test_a_worker_killed_mid_run_is_recovered_with_one_result(klass: Class, engine: docker.DockerClient) -> None:
    """kill -9 of the worker grading a full stack: another worker finds its job stalled, the run
    is `lost`, the push is graded again from the start, one graded result is stored, and nothing
    of the killed run stays on the engine (its `grader grade` child tears its stack down)."""
    before = engine_counts(engine)
    sha = klass.commit("ana", "complete")
    submission = tree_digest(SUBMISSIONS / "complete")
    klass.push("ana", sha)
    doomed = klass.start_worker("doomed", stalled_after=4)
    klass.wait_for(lambda: klass.query("SELECT count(*) FROM grader_runs")[0][0] == 1, 60, "the run started")
    project_label = "com.docker.compose.project"

    def stack_up() -> bool:
        return any(c.labels.get(project_label, "").startswith("grader-") for c in engine.containers.list(all=True))

    klass.wait_for(stack_up, 240, "the killed worker's stack started")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    klass.start_worker("rescuer", stalled_after=4)
    klass.wait_for(
        lambda: klass.query("SELECT status FROM grader_pushes") == [("graded",)], 600, "the push graded again"
    )
    runs = klass.query("SELECT worker, status FROM grader_runs ORDER BY id")
    assert runs == [("doomed", "lost"), ("rescuer", "graded")]
    report = klass.query("SELECT report FROM grader_runs WHERE status = 'graded'")[0][0]
    assert verdicts(report) == expected("complete") and report["score"] == 100
    jobs = klass.query("SELECT status FROM procrastinate_jobs ORDER BY id")
    assert jobs == [("failed",), ("succeeded",)]  # the stalled job closed, its successor done
    assert klass.github.states(sha)[-1] == "success"
    klass.stop_workers()
    drain(engine)
    assert engine_changes(before, engine_counts(engine)) == {}
    assert tree_digest(SUBMISSIONS / "complete") == submission
    assert not list(Path(tempfile.gettempdir()).glob(f"grader-worker-{doomed.pid}-*"))  # its working copy too


def test_sigterm_lets_the_running_grading_finish(klass: Class, engine: docker.DockerClient) -> None:
    """A worker asked to stop (SIGTERM, as `docker compose stop` or a deploy does) takes no new
    job and finishes the one it grades: its result is stored, then it exits 0."""
    before = engine_counts(engine)
    sha = klass.commit("ana", "complete")
    klass.push("ana", sha)
    worker = klass.start_worker("leaving")
    klass.wait_for(lambda: klass.query("SELECT count(*) FROM grader_runs")[0][0] == 1, 60, "the run started")
    worker.send_signal(signal.SIGTERM)
    klass.push("bea", klass.commit("bea", "invalid-compose"))  # queued after the stop: not taken
    assert worker.wait(300) == 0
    assert klass.query("SELECT p.student, r.status FROM grader_runs r JOIN grader_pushes p ON p.id = r.push_id") == [
        ("ana", "graded")
    ]
    assert klass.query("SELECT status FROM grader_pushes WHERE student = 'bea'") == [("queued",)]
    drain(engine)
    assert engine_changes(before, engine_counts(engine)) == {}


def test_enqueue_queues_every_known_students_latest_commit(klass: Class) -> None:
    """`grader enqueue m4` at the deadline: the tip of each known student's branch, stored and
    queued like a push; a commit already graded is graded again (a rubric fixed since)."""
    first = klass.commit("ana", "invalid-compose", "one")
    klass.push("ana", first)
    klass.commit("bea", "invalid-compose", "one")  # bea never pushed through the webhook: unknown
    newer = klass.commit("ana", "invalid-compose", "two")  # a push whose delivery never came
    env = {"GRADER_DATABASE_URL": klass.database, "GRADER_GIT_BASE": klass.remotes.as_uri() + "/"}
    done = klass.run_cli(["enqueue", "m4", "--config", str(klass.config)], env)
    assert done.returncode == 0, done.stderr
    assert "1 students queued" in done.stdout
    pushes = klass.query("SELECT sha, status FROM grader_pushes ORDER BY id")
    assert [(s.strip(), status) for s, status in pushes] == [(first, "queued"), (newer, "queued")]
    again = klass.run_cli(["enqueue", "m4", "--config", str(klass.config)], env)
    assert again.returncode == 0 and klass.query("SELECT count(*) FROM grader_pushes") == [(2,)]


def test_as_a_github_app_the_commit_gets_check_runs(klass: Class) -> None:
    """With a GitHub App configured (its id and private key), the worker reports through check
    runs: the push it overtook completed `skipped`, its own in progress, then completed with the
    conclusion (17 points under fail_under 60: failure), the report as summary, the student's
    page as details."""
    from tests.service_support import app_keys

    private, public = app_keys()
    app = GitHubStandIn(app_key=public, app_id="31337")
    try:
        older = klass.commit("ana", "invalid-compose", "one")
        klass.push("ana", older)
        newer = klass.commit("ana", "invalid-compose", "two")
        klass.push("ana", newer)
        extra = {
            "GRADER_GITHUB_API": app.url,
            "GRADER_GITHUB_APP_ID": "31337",
            "GRADER_GITHUB_APP_PRIVATE_KEY": private,
        }
        klass.start_worker("app", extra=extra)
        klass.wait_for(lambda: len(app.calls) >= 3, 120, "the check runs")
    finally:
        app.close()
    calls = [(m, b.get("head_sha"), b.get("status"), b.get("conclusion")) for m, _, b in app.calls]
    assert calls == [
        ("POST", older, "completed", "skipped"),
        ("POST", newer, "in_progress", None),
        ("PATCH", None, "completed", "failure"),
    ]
    done = app.calls[2][2]
    assert done["output"]["title"] == "17/100" and "compose" in done["output"]["summary"]
    assert done["details_url"].startswith("http://grader.test/s/")
    assert app.calls[2][1].endswith(f"/check-runs/{9000 + 2}")  # the run it made, updated
    assert klass.github.posted == []  # no commit status beside the check runs


def test_an_instructor_cancels_a_running_grading(klass: Class, engine: docker.DockerClient) -> None:
    """Cancel while the stack runs: the worker stops its `grader grade` (which tears the stack
    down), the run is stored `cancelled`, nothing is tried again, nothing stays on the engine."""
    from grader.service import queue

    before = engine_counts(engine)
    klass.push("ana", klass.commit("ana", "complete"))
    klass.start_worker("w")

    def stack_up() -> bool:
        labels = (c.labels.get("com.docker.compose.project", "") for c in engine.containers.list(all=True))
        return any(label.startswith("grader-") for label in labels)

    klass.wait_for(stack_up, 240, "the stack started")
    with psycopg.connect(klass.database) as conn:
        assert queue.cancel(conn, "m4", "ana") == []  # the running push: its worker says it on the commit
    klass.wait_for(lambda: klass.query("SELECT status FROM grader_runs") == [("cancelled",)], 120, "the run stopped")
    assert klass.query("SELECT status FROM grader_pushes") == [("cancelled",)]
    assert klass.query("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'") == [(0,)]  # not retried
    assert klass.github.states(klass.query("SELECT sha FROM grader_pushes")[0][0].strip())[-1] == "error"
    klass.stop_workers()
    drain(engine)
    assert engine_changes(before, engine_counts(engine)) == {}
