"""The grade back on the student's commit: a GitHub commit status (pending while queued and
graded, then success, failure or error with the score and a link to the student's page).

A commit status needs only a token with `repo:status` (or a fine-grained token's "Commit
statuses: write"); the API's URL is configurable for GitHub Enterprise (`https://HOST/api/v3`)
and for the tests' stand-in. A failed post is tried again a few times and then given up: it
never changes a grade, and never stops a run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

log = logging.getLogger("grader.service")

CONTEXT = "compose-grader"
ATTEMPTS = 3
PAUSE_S = 0.5  # before the second attempt; doubled before each next


@dataclass(frozen=True)
class Poster:
    """Where statuses go: the API's base URL and the token; an empty token posts nothing."""

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


def state_of(status: str, score: float | None, fail_under: float | None) -> str:
    """A finished run's commit state, as `grader grade`'s exit code: success when graded (and not
    below the assignment's fail_under), failure below it, error when the run is no grade."""
    if status != "graded":
        return "error"
    if fail_under is not None and (score or 0) < fail_under:
        return "failure"
    return "success"
