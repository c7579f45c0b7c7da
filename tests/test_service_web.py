"""`grader serve`'s web side on a real PostgreSQL, served by uvicorn on loopback: GitHub's
signed deliveries, the instructor's login and pages, the student's page by their link, the
gradebook's CSV as `grader batch` writes it, /healthz and /metrics. The runs' results are stored
through grader.service.queue as a worker stores them (the worker itself: test_service_worker)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from grader.classroom import gradebook
from grader.reports import formats
from grader.service import queue
from grader.service.assignments import parse
from grader.service.github import signature
from grader.service.queue import Claim, Outcome
from grader.service.status import Poster
from grader.service.store import migrate
from grader.service.web import WebSettings, create_app, hash_password, password_matches
from tests.service_support import SECRET, GitHubStandIn, deliver, fresh_database, postgres_server, push_body, serving

pytestmark = pytest.mark.docker

GOLDEN = Path(__file__).with_name("golden")
TOKEN = "an-instructor-token-for-tests"
SERVICE = """\
assignments:
  - name: m4
    classroom: {organization: curso, prefix: m4}
    lang: es
    deadline: 2030-12-10T23:59:00-03:00
"""


class Service:
    def __init__(self, base: str, database: str, github: GitHubStandIn) -> None:
        self.base, self.database, self.github = base, database, github

    def login(self) -> requests.Session:
        session = requests.Session()
        answer = session.post(f"{self.base}/login", data={"password": TOKEN}, timeout=10)
        assert answer.status_code == 200 and answer.url == f"{self.base}/"
        return session

    def grade(self, student: str, report: str, rubric: str = "") -> None:
        """What a worker does for the student's newest push: claim it, store the report."""
        doc = json.loads((GOLDEN / report).read_text())
        with psycopg.connect(self.database) as conn:
            conn.execute(
                "UPDATE procrastinate_jobs SET status = 'doing' WHERE status = 'todo' AND lock = %s", (f"m4:{student}",)
            )
            claimed = queue.claim(conn, "m4", student, "test-worker", 1, timedelta(0))
            assert isinstance(claimed, Claim)
            queue.finish(conn, claimed, Outcome(doc["status"], doc, formats.markdown(doc), rubric=rubric))
            conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'doing'")


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    github = GitHubStandIn()
    with postgres_server() as server:
        database = fresh_database(server)
        migrate(database)
        settings = WebSettings(
            database=database,
            assignments=parse(SERVICE),
            webhook_secret=SECRET,
            admin_token=TOKEN,
            public_url="http://grader.test",
            poster=Poster(github.url, "gh-token"),
        )
        with serving(create_app(settings)) as base:
            yield Service(base, database, github)
    github.close()


def test_a_delivery_is_trusted_only_with_its_signature(service: Service) -> None:
    body = push_body("curso/m4-ana", "a" * 40)
    assert deliver(service.base, body, secret=b"another-secret-entirely").status_code == 401
    unsigned = requests.post(
        f"{service.base}/hooks/github",
        data=body,
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "x"},
        timeout=10,
    )
    assert unsigned.status_code == 401
    big = requests.post(
        f"{service.base}/hooks/github",
        data=b"x" * (25 * 1024 * 1024 + 1),
        headers={"X-GitHub-Event": "push"},
        timeout=30,
    )
    assert big.status_code == 413  # refused before any HMAC is computed over it
    with psycopg.connect(service.database) as conn:
        assert conn.execute("SELECT count(*) FROM grader_pushes").fetchone() == (0,)


def test_a_push_is_stored_and_queued_and_a_redelivery_is_not(service: Service) -> None:
    body = push_body("curso/m4-ana", "1" * 40)
    first = deliver(service.base, body, delivery="delivery-ana-1")
    again = deliver(service.base, body, delivery="delivery-ana-1")
    replay = deliver(service.base, body, delivery="another-id")  # the same signed body: the same commit
    assert (first.status_code, first.json()) == (202, {"queued": 1, "duplicate": False, "ignored": ""})
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert (replay.status_code, replay.json()["queued"]) == (200, 0)
    ping = deliver(service.base, b"{}", event="ping")
    assert ping.status_code == 200 and ping.json()["ignored"].startswith("event ping")
    other = deliver(service.base, push_body("someone/else", "2" * 40))
    assert other.json()["ignored"] == "someone/else is no assignment's repository"
    with psycopg.connect(service.database) as conn:
        jobs = conn.execute("SELECT status, lock FROM procrastinate_jobs").fetchall()
    assert jobs == [("todo", "m4:ana")]


def test_a_queued_push_gets_a_pending_status_on_its_commit(service: Service) -> None:
    deliver(service.base, push_body("curso/m4-bea", "3" * 40))
    for _ in range(50):
        if service.github.states("3" * 40):
            break
        import time

        time.sleep(0.1)
    path, body, auth = next(p for p in service.github.posted if p[0].endswith("3" * 40))
    assert path == f"/repos/curso/m4-bea/statuses/{'3' * 40}"
    assert body["state"] == "pending" and body["context"] == "compose-grader" and auth == "Bearer gh-token"


def test_the_instructors_pages_need_the_login(service: Service) -> None:
    for page in ("/", "/a/m4", "/a/m4/gradebook.csv", "/a/m4/students/ana"):
        answer = requests.get(f"{service.base}{page}", allow_redirects=False, timeout=10)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", page
    wrong = requests.post(f"{service.base}/login", data={"password": "guess"}, timeout=10)
    assert wrong.status_code == 401 and "Wrong password" in wrong.text
    forged = requests.get(
        f"{service.base}/", cookies={"grader_session": "9999999999.x.y"}, allow_redirects=False, timeout=10
    )
    assert forged.status_code == 303


def test_the_grid_and_the_gradebook_as_grader_batch_writes_it(service: Service, tmp_path: Path) -> None:
    deliver(service.base, push_body("curso/m4-cris", "4" * 40))
    deliver(service.base, push_body("curso/m4-dani", "5" * 40))
    service.grade("cris", "complete.report.json")
    service.grade("dani", "listen-localhost.report.json")
    session = service.login()
    grid = session.get(f"{service.base}/a/m4", timeout=10).text
    assert re.search(r'data-student="cris">.*?100/100.*?graded', grid, re.S)
    assert "api.reachable" in grid and 'http-equiv="refresh"' in grid
    got = session.get(f"{service.base}/a/m4/gradebook.csv", timeout=10)
    assert got.headers["content-type"].startswith("text/csv")
    # grader batch's CSV of the same two reports
    for student, report in (("cris", "complete.report.json"), ("dani", "listen-localhost.report.json")):
        folder = tmp_path / student
        folder.mkdir()
        (folder / "report.json").write_text((GOLDEN / report).read_text())
        (folder / "batch.json").write_text(json.dumps({"student": student}))
    batch = list(csv.reader(io.StringIO(gradebook.to_csv(gradebook.read_rows(tmp_path)))))
    served = list(csv.reader(io.StringIO(got.text)))
    assert served[0] == batch[0]  # the same columns, in the same order
    columns = batch[0].index("source")
    assert [row[:columns] for row in served] == [row[:columns] for row in batch]  # the same grades
    assert [row[batch[0].index("commit")] for row in served[1:]] == ["4" * 40, "5" * 40]
    page = session.get(f"{service.base}/a/m4/gradebook.html", timeout=10).text
    assert "cris" in page and "dani" in page


def test_the_student_page_shows_that_student_only(service: Service) -> None:
    deliver(service.base, push_body("curso/m4-eva", "6" * 40))
    deliver(service.base, push_body("curso/m4-fede", "7" * 40))
    service.grade("eva", "complete.report.json")
    with psycopg.connect(service.database) as conn:
        tokens = dict(conn.execute("SELECT student, token FROM grader_students").fetchall())
    eva = requests.get(f"{service.base}/s/{tokens['eva']}", timeout=10)
    assert eva.status_code == 200 and eva.headers["referrer-policy"] == "no-referrer"
    assert "6666666" in eva.text and "Tu nota: 100/100" in eva.text  # the assignment's language
    assert "7777777" not in eva.text and "fede" not in eva.text
    fede = requests.get(f"{service.base}/s/{tokens['fede']}", timeout=10).text
    assert "en la cola" in fede and "6666666" not in fede and "eva" not in fede
    assert requests.get(f"{service.base}/s/{tokens['eva'][:-1]}x", timeout=10).status_code == 404


def test_rerun_needs_the_forms_token_and_queues_the_latest_push(service: Service) -> None:
    deliver(service.base, push_body("curso/m4-gabi", "8" * 40))
    service.grade("gabi", "complete.report.json")
    session = service.login()
    refused = session.post(f"{service.base}/a/m4/rerun", data={"student": "gabi", "csrf": "forged"}, timeout=10)
    assert refused.status_code == 403
    page = session.get(f"{service.base}/a/m4", timeout=10).text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None
    done = session.post(
        f"{service.base}/a/m4/rerun", data={"student": "gabi", "csrf": csrf[1]}, allow_redirects=False, timeout=10
    )
    assert done.status_code == 303
    with psycopg.connect(service.database) as conn:
        assert conn.execute("SELECT status FROM grader_pushes WHERE student = 'gabi'").fetchone() == ("queued",)
        assert conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE lock = 'm4:gabi' AND status = 'todo'"
        ).fetchone() == (1,)
    queued = session.get(f"{service.base}/a/m4", timeout=10).text
    assert re.search(r'data-student="gabi">.*?queued', queued, re.S)


def test_health_and_metrics(service: Service) -> None:
    assert requests.get(f"{service.base}/healthz", timeout=10).json() == {"ok": True, "database": True}
    metrics = requests.get(f"{service.base}/metrics", timeout=10).text
    assert re.search(r'^grader_queue_jobs\{state="waiting"\} \d+$', metrics, re.M)
    assert re.search(r'^grader_runs_total\{status="graded"\} [1-9]\d*$', metrics, re.M)
    assert "grader_run_duration_seconds_count" in metrics


def test_a_password_hash_logs_in_and_a_weak_setup_is_refused() -> None:
    stored = hash_password("correct horse battery", iterations=1000)
    assert password_matches("correct horse battery", stored) and not password_matches("wrong", stored)
    base: dict[str, Any] = {"database": "postgresql://x/y", "assignments": ()}
    with pytest.raises(ValueError, match="webhook secret"):
        create_app(WebSettings(webhook_secret=b"short", admin_token=TOKEN, **base))
    with pytest.raises(ValueError, match="no instructor login"):
        create_app(WebSettings(webhook_secret=SECRET, **base))


def test_a_late_push_is_graded_and_flagged_but_the_grade_is_the_last_on_time_one(service: Service) -> None:
    deliver(service.base, push_body("curso/m4-hugo", "9" * 40))
    service.grade("hugo", "complete.report.json")  # on time: 100
    deliver(service.base, push_body("curso/m4-hugo", "a" * 40))
    with psycopg.connect(service.database) as conn:  # as if received after the deadline
        conn.execute("UPDATE grader_pushes SET late = true WHERE sha = %s", ("a" * 40,))
    service.grade("hugo", "listen-localhost.report.json")  # late: 85
    with psycopg.connect(service.database) as conn:
        token = conn.execute("SELECT token FROM grader_students WHERE student = 'hugo'").fetchone()
    assert token is not None
    page = requests.get(f"{service.base}/s/{token[0]}", timeout=10).text
    assert "Tu nota: 100/100" in page and "tarde" in page  # the late push is shown, flagged
    grid = service.login().get(f"{service.base}/a/m4", timeout=10).text
    assert re.search(r'data-student="hugo">.*?100/100.*?<code>9999999</code>', grid, re.S)
    csv_text = service.login().get(f"{service.base}/a/m4/gradebook.csv", timeout=10).text
    hugo = next(row for row in csv.reader(io.StringIO(csv_text)) if row[0] == "hugo")
    assert hugo[1] == "100" and "9" * 40 in hugo


def test_guessing_the_login_is_stopped_and_uploads_are_refused(service: Service) -> None:
    settings = WebSettings(
        database=service.database, assignments=parse(SERVICE), webhook_secret=SECRET, admin_token=TOKEN
    )
    with serving(create_app(settings)) as base:  # an app of its own: its guess count starts empty
        codes = [
            requests.post(f"{base}/login", data={"password": f"guess{n}"}, timeout=10).status_code for n in range(11)
        ]
        assert codes == [401] * 10 + [429]
        blocked = requests.post(f"{base}/login", data={"password": TOKEN}, timeout=10)
        assert blocked.status_code == 429  # even the right one, until the window passes
        upload = requests.post(f"{base}/login", files={"password": ("x", b"y" * 1000)}, timeout=10)
        assert upload.status_code == 415


def test_a_repository_renamed_to_another_students_name_is_not_that_student(service: Service) -> None:
    """GitHub's number for a repository stays when it is renamed: the first push pins it."""
    assert deliver(service.base, push_body("curso/m4-ivan", "b" * 40, repository_id=777)).status_code == 202
    renamed = deliver(service.base, push_body("curso/m4-ivan", "c" * 40, repository_id=778))
    assert renamed.status_code == 200 and renamed.json()["queued"] == 0
    assert "not the one ivan pushed from before (777)" in renamed.json()["ignored"]
    with psycopg.connect(service.database) as conn:
        assert conn.execute("SELECT count(*) FROM grader_pushes WHERE student = 'ivan'").fetchone() == (1,)


def test_a_repositorys_own_secret_signs_its_pushes_only(service: Service) -> None:
    from grader.service.github import repository_secret

    own = repository_secret(SECRET, "curso/m4-juan")
    path = f"{service.base}/hooks/github/curso/m4-juan"
    mine = push_body("curso/m4-juan", "d" * 40)
    assert deliver(service.base, mine, secret=own).status_code == 401  # not the service's own secret
    answer = requests.post(
        path,
        data=mine,
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "juan-1", "X-Hub-Signature-256": signature(own, mine)},
        timeout=10,
    )
    assert answer.status_code == 202  # juan's repository, juan's secret
    forged = push_body("curso/m4-cris", "e" * 40)  # juan signs a push of cris's repository
    answer = requests.post(
        path,
        data=forged,
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "juan-2",
            "X-Hub-Signature-256": signature(own, forged),
        },
        timeout=10,
    )
    assert answer.status_code == 401
    elsewhere = requests.post(
        f"{service.base}/hooks/github/curso/m4-cris",
        data=forged,
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "juan-3",
            "X-Hub-Signature-256": signature(own, forged),
        },
        timeout=10,
    )
    assert elsewhere.status_code == 401


def test_a_class_graded_with_two_rubrics_says_so(service: Service) -> None:
    deliver(service.base, push_body("curso/m4-kim", "f1" * 20))
    service.grade("kim", "complete.report.json", rubric="aaaaaaaaaaaa")
    deliver(service.base, push_body("curso/m4-lu", "f2" * 20))
    service.grade("lu", "complete.report.json", rubric="bbbbbbbbbbbb")
    session = service.login()
    grid = session.get(f"{service.base}/a/m4", timeout=10).text
    assert 'id="mixed"' in grid and "aaaaaaaaaaaa" in grid and "bbbbbbbbbbbb" in grid
    rows = {
        r[0]: r for r in csv.reader(io.StringIO(session.get(f"{service.base}/a/m4/gradebook.csv", timeout=10).text))
    }
    header = rows["student"]
    assert rows["kim"][header.index("rubric")] == "aaaaaaaaaaaa"
