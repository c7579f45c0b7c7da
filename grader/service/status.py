"""The grade back on the student's commit, one of two ways (a `Reporter`):

- `CheckRuns`, as a GitHub App (githubkit signs its JWT and gets the installation's token): a
  check run `compose-grader` queued -> in_progress -> completed, its conclusion from the score
  and `fail_under`, the report's Markdown as its summary, `details_url` the student's page; a
  push superseded before it was graded is completed `skipped`.
- `Poster`, with a token: a commit status (pending while queued and graded, then success,
  failure or error with the score and the link).

The API's URL is configurable (GitHub Enterprise: `https://HOST/api/v3`; the tests' stand-in). A
failed call is tried again a few times and then given up: it never changes a grade, and never
stops a run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import requests

log = logging.getLogger("grader.service")

CONTEXT = "compose-grader"
ATTEMPTS = 3
PAUSE_S = 0.5  # before the second attempt; doubled before each next


SUMMARY_MAX = 65_000  # GitHub refuses a check run's output.summary past 65,535 characters


@dataclass(frozen=True)
class Step:
    """What the commit says at one step of a grading: `queued`, `in_progress`, or `completed`
    with its outcome (`state`: success, failure, error, skipped, cancelled), a title, the report's
    Markdown and the student's page."""

    status: str
    state: str = ""
    title: str = ""
    summary: str = ""
    link: str = ""


class Reporter(Protocol):
    """How the service speaks on a commit. `say` tells the commit's check runs (`check_runs`,
    as recorded with the push) about a step, or makes one when none is recorded: its id, to be
    recorded; None otherwise (and always for commit statuses, which have no id)."""

    def say(self, repository: str, sha: str, check_runs: Sequence[int], step: Step) -> int | None: ...


@dataclass(frozen=True)
class Poster:
    """Commit statuses: the API's base URL and the token; an empty token posts nothing."""

    api: str = "https://api.github.com"
    token: str = ""
    timeout: float = 10.0

    def post(self, repository: str, sha: str, state: str, description: str, target_url: str = "") -> bool:
        """POST /repos/{owner}/{name}/statuses/{sha}; whether GitHub took it. Never raises."""
        if not self.token:
            return False
        body: dict[str, Any] = {"state": state, "description": description[:140], "context": CONTEXT}
        if target_url:
            body["target_url"] = target_url
        url = f"{self.api.rstrip('/')}/repos/{repository}/statuses/{sha}"
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        for attempt in range(ATTEMPTS):
            try:
                answer = requests.post(url, json=body, headers=headers, timeout=self.timeout)
                if answer.status_code < 300:
                    return True
                if answer.status_code < 500 and answer.status_code not in (403, 429):
                    log.warning("commit status for %s@%s refused: HTTP %s", repository, sha[:12], answer.status_code)
                    return False  # a wrong token or repository: trying again changes nothing
            except requests.RequestException as exc:
                log.warning("commit status for %s@%s: %s", repository, sha[:12], type(exc).__name__)
            if attempt + 1 < ATTEMPTS:
                time.sleep(PAUSE_S * 2**attempt)
        return False

    def say(self, repository: str, sha: str, check_runs: Sequence[int], step: Step) -> int | None:
        # A status has no "skipped" or "cancelled": `error` with the reason, not `pending` for ever.
        state = "pending" if step.status != "completed" else STATES.get(step.state, "error")
        self.post(repository, sha, state, step.title, step.link)
        return None


STATES = {"success": "success", "failure": "failure"}
# A step's outcome -> a check run's conclusion (`error`: the run is no grade, the student's work
# is not at fault).
CONCLUSIONS = {"success": "success", "failure": "failure", "skipped": "skipped", "cancelled": "cancelled"}


@dataclass(frozen=True)
class CheckRuns:
    """Check runs as a GitHub App: its id and private key (PEM); the API's base URL."""

    app_id: str
    private_key: str
    api: str = "https://api.github.com"
    timeout: float = 10.0

    def _call(self, repository: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """One call as the App's installation on `repository`, tried again when GitHub or the
        network fails (not when GitHub refuses: the App not installed, a wrong body); its JSON, or
        None once given up. Never raises."""
        from githubkit import AppAuthStrategy, GitHub
        from githubkit.exception import GitHubException, RequestFailed

        owner, _, name = repository.partition("/")
        for attempt in range(ATTEMPTS):
            try:
                app = GitHub(
                    AppAuthStrategy(self.app_id, self.private_key),
                    base_url=self.api,
                    timeout=self.timeout,
                    auto_retry=False,
                )  # our own tries: one policy for statuses and check runs
                installation = app.request("GET", f"/repos/{owner}/{name}/installation").json()["id"]
                github = app.with_auth(app.auth.as_installation(int(installation)))
                answer: dict[str, Any] = github.request(method, f"/repos/{owner}/{name}{path}", json=body).json()
                return answer
            except RequestFailed as exc:
                code = exc.response.status_code
                log.warning("check run on %s: HTTP %s", repository, code)
                if code < 500 and code not in (403, 429):
                    return None
            except (GitHubException, ValueError, KeyError, TypeError, OSError) as exc:
                log.warning("check run on %s: %s", repository, type(exc).__name__)
            if attempt + 1 < ATTEMPTS:
                time.sleep(PAUSE_S * 2**attempt)
        return None

    def say(self, repository: str, sha: str, check_runs: Sequence[int], step: Step) -> int | None:
        body: dict[str, Any] = {"status": step.status, **({"details_url": step.link} if step.link else {})}
        if step.status == "completed":
            body["conclusion"] = CONCLUSIONS.get(step.state, "neutral")
            body["output"] = {"title": step.title[:140], "summary": step.summary[:SUMMARY_MAX] or step.title}
        if not check_runs:
            made = self._call(repository, "POST", "/check-runs", {"name": CONTEXT, "head_sha": sha, **body})
            return int(made["id"]) if made and isinstance(made.get("id"), int) else None
        for check_run in check_runs:  # more than one when the webhook and a worker each made one at once
            self._call(repository, "PATCH", f"/check-runs/{check_run}", body)
        return None


def state_of(status: str, score: float | None, fail_under: float | None) -> str:
    """A finished run's commit state, as `grader grade`'s exit code: success when graded (and not
    below the assignment's fail_under), failure below it, error when the run is no grade."""
    if status != "graded":
        return "error"
    if fail_under is not None and (score or 0) < fail_under:
        return "failure"
    return "success"
