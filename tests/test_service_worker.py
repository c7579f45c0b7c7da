"""`grader worker` processes against a real PostgreSQL, real git repositories behind file://
remotes and the real engine: what they grade, that two never grade one student at once, that a
worker killed mid-run (kill -9) is recovered with one result and nothing left on the engine, and
the statuses a stand-in of GitHub's API receives."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import docker
import psycopg
import pytest

from grader.engine.reaper import drain
from grader.service.assignments import parse, route
from grader.service.github import Push
from grader.service.store import migrate, record
from tests.conftest import EXPECTED, ROOT, SUBMISSIONS, engine_changes, engine_counts, git, tree_digest
from tests.service_support import GitHubStandIn, fresh_database, postgres_server

pytestmark = pytest.mark.docker

SERVICE = """\
assignments:
  - name: m4
    classroom: {organization: curso, prefix: m4}
    lang: es
    fail_under: 60
"""


class Class:
    """Students' repositories behind file:// remotes (`remotes/curso/m4-<student>`), the service's
    database, the workers started and the stand-in of GitHub's API."""

    def __init__(self, root: Path, database: str, github: GitHubStandIn) -> None:
        self.root, self.database, self.github = root, database, github
        self.remotes = root / "remotes"
        self.config = root / "service.yml"
        self.config.write_text(SERVICE)
        self.workers: list[subprocess.Popen[bytes]] = []

    def commit(self, student: str, fixture: str, note: str = "") -> str:
        """The fixture's files as the student's next commit (a note in the README tells commits apart)."""
        repo = self.remotes / "curso" / f"m4-{student}"
        if not repo.exists():
            repo.mkdir(parents=True)
            git(repo, "init", "-q", "-b", "main")
        for path in repo.iterdir():
            if path.name != ".git":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        shutil.copytree(SUBMISSIONS / fixture, repo, dirs_exist_ok=True)
        (repo / "README.md").write_text(f"{fixture} {note}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"{fixture} {note}")
        return git(repo, "rev-parse", "HEAD")

    def push(self, student: str, sha: str) -> None:
        """What the webhook stores for GitHub's push (the web side is tested on its own)."""
        p = Push(f"d-{student}-{sha}", f"curso/m4-{student}", "", "main", sha, student)
        now = datetime.now(timezone.utc)
        with psycopg.connect(self.database) as conn:
            assert record(conn, p, route(p, parse(SERVICE), now), now).push_ids

    def start_worker(self, name: str, stalled_after: float = 30) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "GRADER_DATABASE_URL": self.database,
            "GRADER_GIT_BASE": self.remotes.as_uri() + "/",
            "GRADER_GITHUB_API": self.github.url,
            "GRADER_GITHUB_TOKEN": "gh-token",
            "GRADER_PUBLIC_URL": "http://grader.test",
        }
        log = (self.root / f"{name}.log").open("wb")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader.cli",
                "worker",
                "--config",
                str(self.config),
                "--name",
                name,
                "--stalled-after",
                str(stalled_after),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(120)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.workers.clear()

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database) as conn:
            return conn.execute(sql, args).fetchall()  # type: ignore[arg-type]

    def wait_for(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in self.root.glob("*.log"))
                raise AssertionError(f"{what}: not within {timeout:.0f} s\n{logs}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def klass(server: str, tmp_path: Path) -> Iterator[Class]:
    database = fresh_database(server)
    migrate(database)
    github = GitHubStandIn()
    found = Class(tmp_path, database, github)
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
