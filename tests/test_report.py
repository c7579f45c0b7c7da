from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from grader.model import Category, CheckResult, Report, Status
from grader.reports.document import schema, to_dict, to_table, write_json


def report() -> Report:
    checks = (
        CheckResult(
            "dockerfile.present", Category.DOCKERFILE, "Dockerfile present", Status.PASSED, 5, 5, "ok", "", (), 0.1
        ),
        CheckResult(
            "api.reachable",
            Category.API,
            "API answers HTTP",
            Status.FAILED,
            5,
            15,
            "The API answers HTTP, but it cannot reach the database.",
            "GET / -> 200",
            ("a tip",),
            3.2,
        ),
        CheckResult(
            "persistence.data",
            Category.PERSISTENCE,
            "Data kept",
            Status.ERROR,
            0,
            20,
            "grader broke",
            "Traceback",
            (),
            0.5,
        ),
    )
    return Report(
        "1.0", "compose-grader", "0.1.0", "/s/juan", "juan", "2026-11-28T10:00:00+00:00", 12.5, "graded", checks=checks
    )


def test_score_is_the_sum_of_points() -> None:
    assert report().score == 10
    assert report().max_score == 40


def test_json_matches_the_published_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(to_dict(report()), schema())


def test_schema_rejects_a_wrong_status() -> None:
    doc = to_dict(report())
    doc["checks"][0]["status"] = "ok"
    try:
        jsonschema.validate(doc, schema())
    except jsonschema.ValidationError:
        return
    raise AssertionError("schema accepted an unknown status")


def test_write_json_is_complete_and_atomic(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    write_json(report(), target)
    assert json.loads(target.read_text())["score"] == 10
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_table_shows_totals_feedback_and_tips() -> None:
    text = to_table(report())
    assert "TOTAL" in text and "10/40" in text
    assert "FAIL" in text and "ERROR" in text
    assert "tip: a tip" in text
    assert "GET / -> 200" in text
