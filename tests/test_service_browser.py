"""The service's pages driven in a real browser (Playwright on Debian's chromium) against the
whole service: GitHub's signed deliveries to `grader serve`'s app, a `grader worker` process
grading real repositories behind file:// remotes, PostgreSQL. An instructor logs in, sees the
grid, presses rerun, watches the run finish, and follows a student's link that shows that
student only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.service.assignments import parse
from grader.service.status import Poster
from grader.service.store import migrate
from grader.service.web import WebSettings, create_app
from tests.conftest import chromium
from tests.service_support import (
    SECRET,
    Class,
    GitHubStandIn,
    deliver,
    fresh_database,
    postgres_server,
    push_body,
    serving,
)

pytestmark = [pytest.mark.docker, pytest.mark.browser]

TOKEN = "an-instructor-token-for-the-browser"
SERVICE = """\
assignments:
  - name: m4
    classroom: {organization: curso, prefix: m4}
"""


@pytest.fixture
def whole_service(tmp_path: Path) -> Iterator[tuple[str, Class]]:
    github = GitHubStandIn()
    with postgres_server() as server:
        database = fresh_database(server)
        migrate(database)
        klass = Class(tmp_path, database, github, SERVICE)
        settings = WebSettings(database, parse(SERVICE), SECRET, admin_token=TOKEN, poster=Poster(github.url, "t"))
        try:
            with serving(create_app(settings)) as base:
                klass.start_worker("w1")
                yield base, klass
        finally:
            klass.stop_workers()
            github.close()


def test_an_instructor_reruns_a_student_and_a_student_sees_only_their_page(
    whole_service: tuple[str, Class], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, klass = whole_service
    for student in ("ana", "bea"):
        sha = klass.commit(student, "invalid-compose")
        assert deliver(base, push_body(f"curso/m4-{student}", sha)).status_code == 202
    klass.wait_for(
        lambda: klass.query("SELECT count(*) FROM grader_pushes WHERE status = 'graded'") == [(2,)], 120, "both graded"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/a/m4")
        expect(page).to_have_url(f"{base}/login")  # the grid needs the login
        page.fill("input[name=password]", TOKEN)
        page.click("button[type=submit]")
        page.click("text=m4")
        ana = page.locator('tr[data-student="ana"]')
        expect(ana.locator("td.status")).to_have_text("graded")
        expect(page.locator('tr[data-student="bea"] td.status')).to_have_text("graded")
        expect(ana).to_contain_text("17/100")
        ana.locator("button", has_text="rerun").click()
        expect(page.locator('tr[data-student="ana"] td.status')).to_have_text(re.compile("queued|running|graded"))
        klass.wait_for(
            lambda: (
                klass.query(
                    "SELECT count(*) FROM grader_runs r JOIN grader_pushes p ON p.id = r.push_id "
                    "WHERE p.student = 'ana' AND r.status = 'graded'"
                )
                == [(2,)]
            ),
            120,
            "the rerun graded",
        )
        page.wait_for_timeout(6000)  # the page refreshes itself every 5 s
        expect(page.locator('tr[data-student="ana"] td.status')).to_have_text("graded")
        page.screenshot(path=str(tmp_path / "grid.png"), full_page=True)
        with page.expect_navigation():
            ana.locator("a", has_text="student's page").click()
        expect(page.locator("h1")).to_contain_text("ana")
        expect(page.locator("#grade")).to_contain_text("17/100")
        expect(page.locator("#report")).to_contain_text("compose")
        assert "bea" not in page.content()
        assert page.locator("#pushes tr").count() == 2  # a header and ana's one push (graded twice)
        browser.close()
    assert (tmp_path / "grid.png").stat().st_size > 10_000
