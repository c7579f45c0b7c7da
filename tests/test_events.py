"""The run's events as values, and their machine-readable stream (`--events`): what the batch
reads from each child, and a grading service's workers will."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from grader.classroom import batch
from grader.cli import main
from grader.model import Category, Outcome, Stage
from grader.run import events
from grader.run.context import Check, StackCheck, StackContext
from grader.run.events import JsonLines, PhaseEnded, PhaseStarted
from grader.run.execute import run_checks
from grader.run.timing import Timings
from tests.conftest import SUBMISSIONS, on_a_stand_in_stack


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_every_check_starts_and_ends_in_order_with_no_feedback(tmp_path: Path) -> None:
    def build(ctx: StackContext) -> Outcome:
        with ctx.timings.phase("build"):
            return Outcome.failed("step 3 failed: the secret is hunter2", "hunter2")

    registry: dict[str, Any] = {
        "compose.file": Check(
            id="compose.file",
            category=Category.COMPOSE,
            title="title.compose.file",
            max_points=5,
            run=lambda _: Outcome.passed("valid"),
        ),
        "dockerfile.build": StackCheck(
            id="dockerfile.build",
            category=Category.DOCKERFILE,
            title="title.dockerfile.build",
            max_points=10,
            run=build,
            stage=Stage.BUILD,
        ),
        "startup.up": StackCheck(
            id="startup.up",
            category=Category.STARTUP,
            title="title.startup.up",
            max_points=10,
            run=lambda _: Outcome.passed("up"),
            requires=("dockerfile.build",),
            stage=Stage.START,
        ),
    }
    out = io.StringIO()
    run_checks(on_a_stand_in_stack(tmp_path), registry, JsonLines(out))
    seen = _lines(out.getvalue())
    assert [(e["event"], e.get("check") or e.get("phase")) for e in seen] == [
        ("check.started", "compose.file"),
        ("check.finished", "compose.file"),
        ("check.started", "dockerfile.build"),
        ("check.finished", "dockerfile.build"),
        ("check.finished", "startup.up"),  # skipped: never started
    ]
    assert seen[2] == {
        "v": 1,
        "t": seen[2]["t"],
        "event": "check.started",
        "check": "dockerfile.build",
        "title": "Image builds",
        "stage": "build",
    }
    assert {e["status"] for e in seen if e["event"] == "check.finished"} == {"passed", "failed", "skipped"}
    assert [e["t"] for e in seen] == sorted(e["t"] for e in seen)
    assert "hunter2" not in out.getvalue()  # feedback and evidence are the reports', never the stream's


@pytest.mark.parametrize("target", [pytest.param("-", id="stdout"), pytest.param("events.jsonl", id="file")])
def test_lint_streams_its_events_and_ends_with_the_report_s_score(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    where = target if target == "-" else str(tmp_path / target)
    code = main(["lint", str(SUBMISSIONS / "complete"), "--json", str(report), f"--events={where}"])
    out, err = capsys.readouterr()
    stream = out if target == "-" else (tmp_path / target).read_text()
    seen = _lines(stream)  # with `-`, standard output holds the events and nothing else
    doc = json.loads(report.read_text())
    assert code == 0 and seen[-1]["event"] == "run.finished"
    assert (seen[-1]["status"], seen[-1]["score"], seen[-1]["max_score"]) == ("graded", doc["score"], doc["max_score"])
    phases = [(e["event"], e["phase"]) for e in seen if e["event"].startswith("phase.")]
    # the report's timing phases, as they happen (a lint builds and starts nothing)
    assert phases == [
        ("phase.started", "copy"),
        ("phase.ended", "copy"),
        ("phase.started", "config"),
        ("phase.ended", "config"),
    ]
    assert seen[4]["event"] == "check.started"  # after them
    finished = {e["check"]: e["status"] for e in seen if e["event"] == "check.finished"}
    assert finished == {c["id"]: c["status"] for c in doc["checks"]}
    assert "TOTAL" in (err if target == "-" else out)  # the table: on standard error when the events own stdout


def test_an_unwritable_events_file_is_bad_input_with_its_error_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    events_file = tmp_path / "no" / "such" / "x.jsonl"
    assert main(["lint", str(SUBMISSIONS / "complete"), f"--events={events_file}", "--json", str(report)]) == 2
    assert "--events" in capsys.readouterr().err
    doc = json.loads(report.read_text())  # a CI job or a batch always finds a report
    assert doc["status"] == "error" and "--events" in doc["error"]


def test_a_reader_that_goes_away_never_stops_the_run_before_its_teardown() -> None:
    """Reviewed: a broken pipe on `--events -` raised from the teardown phase's start event, and
    the body of that phase (the teardown itself) never ran: the student's containers stayed."""
    read, write = os.pipe()
    os.close(read)  # the batch, gone
    stream = os.fdopen(write, "w")
    events = JsonLines(stream)
    events.emit(PhaseStarted("teardown"))  # EPIPE: kept, never raised
    assert isinstance(events.broken, BrokenPipeError)
    events.emit(PhaseEnded("teardown", 1.0))  # and nothing more is written
    torn_down: list[str] = []
    timings = Timings(lambda name, seconds: events.emit(PhaseStarted(name)) or _fail())
    with timings.phase("teardown"):
        torn_down.append("stack")
    assert torn_down == ["stack"] and dict(timings.spent())["teardown"] >= 0
    with contextlib.suppress(OSError):
        stream.close()


def _fail() -> None:
    raise OSError("any renderer failing")


def test_a_reader_takes_only_the_stream_s_objects() -> None:
    started = '{"v": 1, "t": 3.0, "event": "check.started", "check": "dockerfile.build", "title": "Image builds", '
    assert batch._phase(started + '"stage": "build"}') == "Image builds"
    for other in [
        started + '"stage": "static"}',  # well under a second: not worth the board's line
        '{"v": 1, "t": 9.0, "event": "check.finished", "check": "dockerfile.build", "status": "passed"}',
        "[  12.3 s] Image builds: building the images ...",  # a human line is no event
        '{"v": 2, "event": "check.started", "title": "x"}',  # another version of the stream
        "[1, 2]",
        "",
    ]:
        assert batch._phase(other) is None
    assert events.read("not json") is None
