"""What a run says while it grades, as values. Two renderers read them: the human progress
(grader.run.progress: a live line on a terminal, plain lines in a CI log) and the machine-readable
stream (`grader grade --events FILE|-`: one JSON object per line), which `grader batch` reads
from each child, and a grading service's workers will, instead of parsing translated lines.

The stream's objects (`v` is EVENTS_VERSION; `t`, seconds since the stream started):
    {"v": 1, "t": 0.4, "event": "check.started", "check": "dockerfile.build", "title": "Image builds",
     "stage": "build"}
    {"v": 1, "t": 0.4, "event": "phase.started", "phase": "build"}
    {"v": 1, "t": 31.9, "event": "phase.ended", "phase": "build", "seconds": 31.5}
    {"v": 1, "t": 31.9, "event": "check.finished", "check": "dockerfile.build", "status": "passed",
     "points": 10, "max_points": 10, "seconds": 31.5}
    {"v": 1, "t": 95.0, "event": "run.finished", "status": "graded", "score": 85, "max_score": 100,
     "seconds": 95.0}
A check's `stage` is which of the run's timeouts bounds it (static, build, start, cycle); a
`phase` is one of the report's timing phases (copy, config, build, up, settle, api, persistence,
teardown). No event
carries feedback or evidence: those are the reports' (and a submission's words).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from grader.model import CheckResult, Stage

EVENTS_VERSION = 1


@dataclass(frozen=True)
class CheckStarted:
    check: str
    title: str  # as the report shows it, in the run's language
    stage: Stage  # which of the run's timeouts bounds the check


@dataclass(frozen=True)
class CheckFinished:
    result: CheckResult


@dataclass(frozen=True)
class PhaseStarted:
    phase: str  # one of grader.run.timing.PHASES


@dataclass(frozen=True)
class PhaseEnded:
    phase: str
    seconds: float


@dataclass(frozen=True)
class RunFinished:
    status: str  # the report's: graded, incomplete, error
    score: float
    max_score: float
    seconds: float


Event = CheckStarted | CheckFinished | PhaseStarted | PhaseEnded | RunFinished


def as_json(event: Event) -> dict[str, Any]:
    """The event's object in the stream, without `v` and `t`."""
    if isinstance(event, CheckStarted):
        return {"event": "check.started", "check": event.check, "title": event.title, "stage": event.stage.value}
    if isinstance(event, CheckFinished):
        r = event.result
        return {
            "event": "check.finished",
            "check": r.id,
            "status": r.status.value,
            "points": r.points,
            "max_points": r.max_points,
            "seconds": r.duration_s,
        }
    if isinstance(event, PhaseStarted):
        return {"event": "phase.started", "phase": event.phase}
    if isinstance(event, PhaseEnded):
        return {"event": "phase.ended", "phase": event.phase, "seconds": round(event.seconds, 2)}
    return {
        "event": "run.finished",
        "status": event.status,
        "score": event.score,
        "max_score": event.max_score,
        "seconds": round(event.seconds, 2),
    }


class JsonLines:
    """The machine-readable renderer: one JSON object per event, flushed at once (a reader acts
    on each as it comes). Thread-safe. It never raises: a reader gone (a broken pipe, a full
    disk) must not stop the run before its teardown; the stream just stops (`broken`)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self.broken: OSError | None = None

    def emit(self, event: Event) -> None:
        line = json.dumps({"v": EVENTS_VERSION, "t": round(time.monotonic() - self.t0, 2), **as_json(event)})
        with self._lock:
            if self.broken is not None:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError) as exc:  # ValueError: the stream was closed
                self.broken = exc if isinstance(exc, OSError) else OSError(str(exc))

    def close(self) -> None:
        pass


def read(line: str) -> dict[str, Any] | None:
    """One line of a stream as its object; None for anything else (a reader skips it)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("v") == EVENTS_VERSION and "event" in value else None
