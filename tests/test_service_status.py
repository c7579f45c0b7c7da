"""The grade back on the commit: a commit status posted to a stand-in of GitHub's API (a local
HTTP server recording what it gets), tried again when GitHub fails, never raising."""

from __future__ import annotations

from typing import Any

import pytest

from grader.service import status
from grader.service.status import Poster, state_of
from tests.service_support import GitHubStandIn

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "PAUSE_S", 0.01)


def test_a_status_is_posted_with_the_token_to_the_configured_api() -> None:
    github = GitHubStandIn()
    try:
        assert Poster(f"{github.url}/api/v3", "tok").post("curso/m4-ana", SHA, "success", "85/100", "https://g/s/x")
    finally:
        github.close()
    ((path, body, auth),) = github.posted
    assert path == f"/api/v3/repos/curso/m4-ana/statuses/{SHA}"  # GitHub Enterprise's base URL kept
    assert body == {
        "state": "success",
        "description": "85/100",
        "context": "compose-grader",
        "target_url": "https://g/s/x",
    }
    assert auth == "Bearer tok"


def test_a_failing_api_is_tried_again_then_given_up_without_raising() -> None:
    github = GitHubStandIn(failing=2)
    try:
        assert Poster(github.url, "tok").post("curso/m4-ana", SHA, "pending", "queued")  # third time lucky
        github.failing = 10
        assert not Poster(github.url, "tok").post("curso/m4-ana", SHA, "pending", "queued")
    finally:
        github.close()
    assert len(github.posted) == 1 and github.failing == 10 - status.ATTEMPTS
    assert not Poster("http://127.0.0.1:9", "tok").post("curso/m4-ana", SHA, "pending", "x")  # nothing listens
    assert not Poster(github.url, "").post("curso/m4-ana", SHA, "pending", "x")  # no token: nothing posted


@pytest.mark.parametrize(
    ("run", "score", "fail_under", "state"),
    [
        pytest.param("graded", 40.0, None, "success", id="graded"),
        pytest.param("graded", 40.0, 60.0, "failure", id="below-fail-under"),
        pytest.param("graded", 60.0, 60.0, "success", id="at-fail-under"),
        pytest.param("incomplete", 90.0, None, "error", id="incomplete"),
        pytest.param("error", None, None, "error", id="error"),
    ],
)
def test_the_commit_state_follows_grader_grade_s_exit_code(
    run: str, score: float | None, fail_under: float | None, state: str
) -> None:
    assert state_of(run, score, fail_under) == state


def test_a_students_grading_inherits_none_of_the_services_secrets() -> None:
    from grader.classroom.batch import child_environment

    environ = {
        "PATH": "/usr/bin",
        "GRADER_REAP": "now",
        "GRADER_DATABASE_URL": "postgresql://grader:pw@db/grader",
        "GRADER_GITHUB_TOKEN": "t",
        "GRADER_GIT_TOKEN": "t",
        "GRADER_WEBHOOK_SECRET": "s",
        "GRADER_ADMIN_PASSWORD_HASH": "h",
        "GRADER_SESSION_SECRET": "s",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_VALUE_0": "Authorization: Basic x",
        "GITHUB_STEP_SUMMARY": "/x",
    }
    assert child_environment(environ) == {"PATH": "/usr/bin", "GRADER_REAP": "now"}


def test_the_git_token_is_a_header_for_the_git_base_never_in_the_url() -> None:
    import base64

    from grader.service.worker import Settings

    settings = Settings("postgresql://x/y", (), git_base="https://github.com", git_token="s3cret")
    assert settings.clone_url("curso/m4-ana") == "https://github.com/curso/m4-ana.git"
    auth = settings.git_auth()
    assert auth["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraHeader"
    assert base64.b64decode(auth["GIT_CONFIG_VALUE_0"].split()[-1]) == b"x-access-token:s3cret"
    assert Settings("postgresql://x/y", (), git_base="file:///remotes/", git_token="s3cret").git_auth() == {}


def test_check_runs_as_a_github_app_go_queued_in_progress_completed() -> None:
    from grader.service.status import CheckRuns, Step
    from tests.service_support import app_keys

    private, public = app_keys()
    github = GitHubStandIn(app_key=public, app_id="1234")
    try:
        runs = CheckRuns("1234", private, github.url)
        made = runs.say("curso/m4-ana", SHA, (), Step("queued", title="queued"))
        assert made is not None
        assert runs.say("curso/m4-ana", SHA, (made,), Step("in_progress", link="https://g/s/x")) is None
        done = Step("completed", "failure", "17/100", "# Report\nfix it", "https://g/s/x")
        runs.say("curso/m4-ana", SHA, (made, 555), done)  # two recorded (the webhook's and a worker's): both
        text = "not graded: the newer push 0123456 is"
        runs.say("curso/m4-ana", "f" * 40, (), Step("completed", "skipped", text, text))
        impostor = CheckRuns("4321", app_keys()[0], github.url)  # another App, another key: no token
        assert impostor.say("curso/m4-ana", SHA, (), Step("queued")) is None
    finally:
        github.close()
    methods = [(m, p.split("/check-runs")[1], b.get("status"), b.get("conclusion")) for m, p, b in github.calls]
    assert methods == [
        ("POST", "", "queued", None),
        ("PATCH", f"/{made}", "in_progress", None),
        ("PATCH", f"/{made}", "completed", "failure"),
        ("PATCH", "/555", "completed", "failure"),
        ("POST", "", "completed", "skipped"),
    ]
    create, _, finish, _, skipped = (b for _, _, b in github.calls)
    assert create["name"] == "compose-grader" and create["head_sha"] == SHA
    assert finish["output"] == {"title": "17/100", "summary": "# Report\nfix it"}
    assert finish["details_url"] == "https://g/s/x" and skipped["head_sha"] == "f" * 40


def test_a_failing_app_api_is_tried_again_and_never_raises() -> None:
    # Another App id: githubkit keeps an App's JWT and installation token per process, by App id.
    from grader.service.status import CheckRuns, Step
    from tests.service_support import app_keys

    private, public = app_keys()
    github = GitHubStandIn(failing=2, app_key=public, app_id="5678")
    try:
        assert CheckRuns("5678", private, github.url).say("curso/m4-ana", SHA, (), Step("queued")) is not None
        github.failing = 100
        assert CheckRuns("5678", private, github.url).say("curso/m4-ana", SHA, (), Step("queued")) is None
    finally:
        github.close()


def test_the_service_reports_as_an_app_when_one_is_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from grader.commands.service import _poster
    from grader.errors import BadInput
    from grader.service.status import CheckRuns
    from tests.service_support import app_keys

    for name in ("GRADER_GITHUB_APP_ID", "GRADER_GITHUB_APP_PRIVATE_KEY", "GRADER_GITHUB_APP_PRIVATE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", "tok")
    assert _poster() == Poster("https://api.github.com", "tok")
    key = tmp_path / "app.pem"
    key.write_text(app_keys()[0])
    monkeypatch.setenv("GRADER_GITHUB_APP_ID", "42")
    with pytest.raises(BadInput, match="both"):
        _poster()
    monkeypatch.setenv("GRADER_GITHUB_APP_PRIVATE_KEY_FILE", str(key))
    found = _poster()
    assert isinstance(found, CheckRuns) and found.app_id == "42"
    key.write_text("not a key")
    with pytest.raises(BadInput, match="pem"):
        _poster()
