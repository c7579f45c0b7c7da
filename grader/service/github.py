"""GitHub's push deliveries, read without trusting them: the signature over the raw body first
(`X-Hub-Signature-256`, compared in constant time), then only the fields a grading needs.

A delivery is refused (the web layer answers 401) unless its HMAC-SHA256 with the webhook's
secret matches; one that is signed but not a push to grade is *ignored*, with the reason the
service records (a ping, a deleted branch, a tag).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, NamedTuple

MAX_BODY = 25 << 20  # GitHub caps a delivery's payload at 25 MB
_SHA = re.compile(r"^(?!0{40}$)[0-9a-f]{40}$")  # not the all-zero sha of a deleted ref
# owner/repository as GitHub spells them; no part that is `.`, `..` or starts with `-` (a path, an option)
_NAME = re.compile(r"^(?!-)(?!\.\.?/)[A-Za-z0-9_.-]{1,100}/(?!-)(?!\.\.?$)[A-Za-z0-9_.-]{1,100}$")


def signature(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` GitHub sends for `body`: what a test signs a payload with."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def repository_secret(secret: bytes, repository: str) -> bytes:
    """The webhook secret of one repository, derived from the service's: what a student adds to
    their own repository's webhook (a roster's repositories). It verifies pushes of that
    repository only, so knowing it forges nobody else's."""
    return hmac.new(secret, f"repository:{repository.lower()}".encode(), hashlib.sha256).hexdigest().encode()


def verified(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of the raw `body` with `secret`, compared in constant
    time. No secret configured verifies nothing: a service must never accept unsigned pushes."""
    if not secret or not header or len(body) > MAX_BODY:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())


class Push(NamedTuple):
    """A push to a branch, as far as grading needs it."""

    delivery: str  # X-GitHub-Delivery: a redelivery carries the same, and is stored once
    repository: str  # owner/name
    clone_url: str
    branch: str
    sha: str  # the commit the branch points to now
    pusher: str
    # GitHub's number for the repository: it stays when a repository is renamed, and a new one
    # under an old name gets another (0: not known, a push `grader enqueue` made).
    repository_id: int = 0


class Ignored(NamedTuple):
    """A signed delivery with nothing to grade, and why (recorded, never an error)."""

    delivery: str
    reason: str


class Malformed(ValueError):
    """A signed delivery that is not what GitHub sends (the web layer answers 400)."""


def read_push(event: str | None, delivery: str | None, body: bytes) -> Push | Ignored:
    """The push in a *verified* delivery's body, or why there is none to grade. Malformed when
    the body is not a push GitHub would send (a missing field, a sha that is no sha)."""
    if not delivery or len(delivery) > 100:
        raise Malformed("no X-GitHub-Delivery")
    if event != "push":
        return Ignored(delivery, f"event {event or 'none'}: only pushes are graded")
    try:
        payload: Any = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested past Python's stack
        raise Malformed(f"the body is not JSON ({type(exc).__name__})") from exc
    if not isinstance(payload, dict):
        raise Malformed("the body is not a JSON object")
    ref = _text(payload, "ref")
    if payload.get("deleted") is True:
        return Ignored(delivery, f"{ref} was deleted")
    if not ref.startswith("refs/heads/"):
        return Ignored(delivery, f"{ref} is not a branch")
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        raise Malformed("no repository")
    name, sha = _text(repository, "full_name"), _text(payload, "after")
    if not _NAME.match(name):
        raise Malformed(f"repository {name!r} is not owner/name")
    if not _SHA.match(sha):
        raise Malformed(f"after {sha!r} is not a commit sha")
    number = repository.get("id")
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise Malformed("repository.id is not GitHub's number for it")
    pusher = payload.get("pusher")
    return Push(
        delivery=delivery,
        repository=name,
        clone_url=_text(repository, "clone_url"),
        branch=ref.removeprefix("refs/heads/"),
        sha=sha,
        pusher=_text(pusher, "name") if isinstance(pusher, dict) and pusher.get("name") else "",
        repository_id=number,
    )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise Malformed(f"no {key}")
    return value
