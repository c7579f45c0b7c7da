"""grader.service.github: a push delivery is trusted only once its signature over the raw body
matches; then only the fields a grading needs are read, and what is not a push to grade is
ignored with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grader.service.github import Ignored, Malformed, Push, read_push, signature, verified

SECRET = b"webhook-secret"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ref": "refs/heads/main",
        "after": SHA,
        "deleted": False,
        "repository": {
            "id": 4242,
            "full_name": "curso-docker/modulo-4-docker-ana",
            "clone_url": "https://github.com/x/y.git",
        },
        "pusher": {"name": "ana"},
    }
    payload.update(changes)
    return payload


def test_a_signed_body_is_verified_and_any_change_is_not() -> None:
    body = json.dumps(_payload()).encode()
    header = signature(SECRET, body)
    assert header.startswith("sha256=") and len(header) == 71
    assert verified(SECRET, body, header)
    assert verified(SECRET, body, f"  {header}\n")  # as a proxy may pass the header on
    assert not verified(SECRET, body + b" ", header)  # the raw body, byte for byte
    assert not verified(b"another-secret", body, header)
    assert not verified(SECRET, body, header.replace("sha256=", "sha1="))
    assert not verified(SECRET, body, None)
    assert not verified(b"", body, signature(b"", body))  # no secret configured: nothing is trusted


def test_a_push_to_a_branch_is_read() -> None:
    push = read_push("push", "d-1", json.dumps(_payload()).encode())
    assert push == Push(
        "d-1", "curso-docker/modulo-4-docker-ana", "https://github.com/x/y.git", "main", SHA, "ana", 4242
    )


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        pytest.param("ping", _payload(), "event ping", id="ping"),
        pytest.param("push", _payload(deleted=True), "refs/heads/main was deleted", id="deleted-branch"),
        pytest.param("push", _payload(ref="refs/tags/v1"), "refs/tags/v1 is not a branch", id="tag"),
    ],
)
def test_a_signed_delivery_with_nothing_to_grade_is_ignored_with_its_reason(
    event: str, payload: dict[str, Any], reason: str
) -> None:
    ignored = read_push(event, "d-2", json.dumps(payload).encode())
    assert isinstance(ignored, Ignored) and ignored.delivery == "d-2" and reason in ignored.reason


@pytest.mark.parametrize(
    ("delivery", "body", "message"),
    [
        pytest.param(None, json.dumps(_payload()).encode(), "X-GitHub-Delivery", id="no-delivery-id"),
        pytest.param("d", b"{not json", "not JSON", id="not-json"),
        pytest.param("d", b"[1]", "not a JSON object", id="a-list"),
        pytest.param("d", json.dumps(_payload(after="HEAD; rm -rf /")).encode(), "not a commit sha", id="bad-sha"),
        pytest.param(
            "d",
            json.dumps(_payload(repository={"full_name": "../../etc", "clone_url": ""})).encode(),
            "not owner/name",
            id="bad-repository",
        ),
        pytest.param("d", json.dumps(_payload(ref=7)).encode(), "no ref", id="ref-not-text"),
        pytest.param("d", json.dumps(_payload(after="0" * 40)).encode(), "not a commit sha", id="all-zero-sha"),
        pytest.param(
            "d",
            json.dumps(_payload(repository={"full_name": "curso/m4-ana", "id": "4242"})).encode(),
            "repository.id",
            id="repository-id-not-a-number",
        ),
        pytest.param("d", b"[" * 100_000 + b"]" * 100_000, "not JSON", id="nested-past-the-stack"),
        *[
            pytest.param(
                "d",
                json.dumps(_payload(repository={"full_name": name, "clone_url": ""})).encode(),
                "not owner/name",
                id=f"repository-{name}",
            )
            for name in ("org/..", "org/.", "../x", "-o/x", "org/-x")
        ],
    ],
)
def test_what_github_never_sends_is_malformed(delivery: str | None, body: bytes, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        read_push("push", delivery, body)
