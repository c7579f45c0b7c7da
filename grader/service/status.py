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
from dataclasses import dataclass
from typing import Any, Protocol

import requests

log = logging.getLogger("grader.service")

CONTEXT = "compose-grader"
ATTEMPTS = 3
PAUSE_S = 0.5  # before the second attempt; doubled before each next


SUMMARY_MAX = 65_000  # GitHub refuses a check run's output.summary past 65,535 characters


class Reporter(Protocol):
    """What the service says on a commit, at each step of its grading. Each returns the check
    run's id where there is one (stored with the push, for the next step), else None."""

    def queued(self, repository: str, sha: str, link: str) -> int | None: ...

    def started(self, repository: str, sha: str, check_run: int | None, link: str) -> int | None: ...

    def finished(
        self, repository: str, sha: str, check_run: int | None, state: str, text: str, summary: str, link: str
    ) -> None: ...

    def superseded(self, repository: str, sha: str, check_run: int | None, by: str) -> None: ...


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

    # -- as a Reporter ---------------------------------------------------------------------------
    def queued(self, repository: str, sha: str, link: str) -> int | None:
        self.post(repository, sha, "pending", "queued", link)
        return None

    def started(self, repository: str, sha: str, check_run: int | None, link: str) -> int | None:
        self.post(repository, sha, "pending", "grading", link)
        return None

    def finished(
        self, repository: str, sha: str, check_run: int | None, state: str, text: str, summary: str, link: str
    ) -> None:
        self.post(repository, sha, state, text, link)

    def superseded(self, repository: str, sha: str, check_run: int | None, by: str) -> None:
        # A status has no "skipped": `error` with the reason, rather than `pending` for ever.
        self.post(repository, sha, "error", f"not graded: the newer push {by[:7]} is")


# A commit state -> a check run's conclusion (`error`: the run is no grade, the student's work
# is not at fault).
CONCLUSIONS = {"success": "success", "failure": "failure", "error": "neutral"}


@dataclass(frozen=True)
class CheckRuns:
    """Check runs as a GitHub App: its id and private key (PEM); the API's base URL."""

    app_id: str
    private_key: str
    api: str = "https://api.github.com"
    timeout: float = 10.0

    def _call(self, repository: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """One call as the App's installation on `repository`, tried again on failure; its JSON,
        or None once given up. Never raises."""
        from githubkit import AppAuthStrategy, GitHub
        from githubkit.exception import GitHubException

        owner, name = repository.split("/", 1)
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
            except (GitHubException, ValueError, KeyError, TypeError, OSError) as exc:
                log.warning("check run on %s: %s", repository, type(exc).__name__)
            if attempt + 1 < ATTEMPTS:
                time.sleep(PAUSE_S * 2**attempt)
        return None

    def _create(self, repository: str, sha: str, body: dict[str, Any]) -> int | None:
        found = self._call(repository, "POST", "/check-runs", {"name": CONTEXT, "head_sha": sha, **body})
        return int(found["id"]) if found and isinstance(found.get("id"), int) else None

    def queued(self, repository: str, sha: str, link: str) -> int | None:
        return self._create(repository, sha, {"status": "queued", **({"details_url": link} if link else {})})

    def started(self, repository: str, sha: str, check_run: int | None, link: str) -> int | None:
        body: dict[str, Any] = {"status": "in_progress", **({"details_url": link} if link else {})}
        if check_run is None:
            return self._create(repository, sha, body)
        self._call(repository, "PATCH", f"/check-runs/{check_run}", body)
        return check_run

    def finished(
        self, repository: str, sha: str, check_run: int | None, state: str, text: str, summary: str, link: str
    ) -> None:
        body: dict[str, Any] = {
            "status": "completed",
            "conclusion": CONCLUSIONS.get(state, "neutral"),
            "output": {"title": text[:140], "summary": summary[:SUMMARY_MAX] or text},
            **({"details_url": link} if link else {}),
        }
        if check_run is None:
            self._create(repository, sha, body)
        else:
            self._call(repository, "PATCH", f"/check-runs/{check_run}", body)

    def superseded(self, repository: str, sha: str, check_run: int | None, by: str) -> None:
        text = f"not graded: the newer push {by[:7]} is"
        body = {"status": "completed", "conclusion": "skipped", "output": {"title": text, "summary": text}}
        if check_run is None:
            self._create(repository, sha, body)
        else:
            self._call(repository, "PATCH", f"/check-runs/{check_run}", body)


def state_of(status: str, score: float | None, fail_under: float | None) -> str:
    """A finished run's commit state, as `grader grade`'s exit code: success when graded (and not
    below the assignment's fail_under), failure below it, error when the run is no grade."""
    if status != "graded":
        return "error"
    if fail_under is not None and (score or 0) < fail_under:
        return "failure"
    return "success"
