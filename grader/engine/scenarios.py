"""Running the instructor's HTTP scenarios: requests in order, expected status / JSON subset /
text, values captured from one response and used in later paths, headers and bodies as {name}."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from grader.engine import probe
from grader.intake.rubric import Step
from grader.messages import msg

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class Run:
    captures: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


class StepFailed(Exception):
    pass


def contains(actual: Any, expected: Any) -> bool:
    """`expected` is a subset of `actual`: dict keys recursively, every expected list item
    matched by some actual item, scalars equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and all(any(contains(a, e) for a in actual) for e in expected)
    if isinstance(expected, (int, float)) and isinstance(actual, str):
        return actual == str(expected)  # PostgreSQL NUMERIC comes back from node-postgres as a string
    return bool(actual == expected)


def _fill(value: Any, captures: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in captures:
            return captures[whole.group(1)]  # keep the captured type: {"id": "{id}"} stays a number
        return _PLACEHOLDER.sub(lambda m: str(captures.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: _fill(v, captures) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, captures) for v in value]
    return value


def _dig(document: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(document, list) and part.lstrip("-").isdigit():
            document = document[int(part)]
        elif isinstance(document, dict) and part in document:
            document = document[part]
        else:
            raise KeyError(path)
    return document


# An answer the grader reads whole to judge it (JSON, a text): an API's real answers are a few KB;
# a hostile one may never end, or drip a byte at a time. Both caps end the step as failed.
BODY_BYTES = 1 << 20
BODY_SECONDS = 20.0


class _Answer(NamedTuple):
    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def _send(base_url: str, step: Step, run: Run, request: str, seconds: float) -> _Answer:
    """The step's request, answered within `seconds` and BODY_BYTES (grader.engine.probe), or
    StepFailed saying which cap it hit, or that nothing answered."""
    headers = {str(k): str(v) for k, v in _fill(step.headers, run.captures).items()}
    data: bytes | None = None
    if step.json is not None:
        data = json.dumps(_fill(step.json, run.captures)).encode()
        headers.setdefault("Content-Type", "application/json")
    elif step.body is not None:
        data = str(_fill(step.body, run.captures)).encode()
    path = str(_fill(step.path, run.captures))
    if not path.startswith("/"):  # a captured `@169.254.169.254/…` first would name another host
        raise StepFailed(msg("step.no_answer", request=request, error="the path does not start with /"))
    try:
        reply = probe.request(
            step.method, base_url.rstrip("/") + path, headers=headers, body=data, seconds=seconds, limit=BODY_BYTES
        )
    except probe.NoAnswer as exc:
        raise StepFailed(msg("step.no_answer", request=request, error=str(exc))) from exc
    if reply.truncated or reply.late:
        what = f"{BODY_BYTES // 1024} KB" if reply.truncated else f"{seconds:g} s"
        raise StepFailed(msg("step.too_long", request=request, limit=what))
    return _Answer(reply.status, reply.body.decode(reply.charset, errors="replace"))


def run_step(base_url: str, step: Step, run: Run, number: int, seconds: float | None = None) -> None:
    path = _fill(step.path, run.captures)
    request = f"{step.method} {path}"
    shown = f"{number}. {request}"
    try:
        response = _send(base_url, step, run, request, BODY_SECONDS if seconds is None else seconds)
    except StepFailed as exc:
        run.log.append(f"{shown} -> {exc}")
        raise
    run.log.append(f"{shown} -> HTTP {response.status_code} {response.text[:200]}")
    if step.status is not None and response.status_code != step.status:
        raise StepFailed(msg("step.status", request=request, got=response.status_code, expected=step.status))
    body: Any = None
    if step.expect_json is not None or step.capture:
        try:
            body = response.json()
        except (ValueError, RecursionError) as exc:  # `[[[[…` 200,000 deep is no JSON the grader reads
            raise StepFailed(msg("step.not_json", request=request)) from exc
    if step.expect_json is not None:
        expected = _fill(step.expect_json, run.captures)
        if not contains(body, expected):
            raise StepFailed(msg("step.json", request=request, expected=json.dumps(expected, ensure_ascii=False)))
    if step.expect_text is not None and _fill(step.expect_text, run.captures) not in response.text:
        raise StepFailed(msg("step.text", request=request, text=step.expect_text))
    for name, where in step.capture.items():
        try:
            run.captures[name] = _dig(body, where)
        except (KeyError, IndexError) as exc:
            raise StepFailed(msg("step.capture", request=request, path=where, name=name)) from exc


def run_steps(
    base_url: str, steps: tuple[Step, ...], run: Run, first_number: int = 1, deadline: float | None = None
) -> None:
    """The steps in order; with a `deadline`, all of them end by it (a phase's shared budget)."""
    for number, step in enumerate(steps, first_number):
        left = BODY_SECONDS if deadline is None else min(BODY_SECONDS, deadline - time.monotonic())
        run_step(base_url, step, run, number, max(left, 0.5))
