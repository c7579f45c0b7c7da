"""Every writer against golden files rendered from real fixture reports (tests/golden/*.report.json,
written by `grader grade --json`), plus each format's own validation. After an intended change to a
writer, regenerate with `UPDATE_GOLDEN=1 pytest tests/test_formats.py` and review the diff."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from grader.reports import formats

GOLDEN = Path(__file__).parent / "golden"
REPORTS = ["complete", "listen-localhost", "invalid-compose", "build-error"]


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GOLDEN / f"{name}.report.json").read_text())
    return doc


WRITERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "junit.xml": formats.junit,
    "md": formats.markdown,
    "gradescope.json": lambda r: json.dumps(formats.gradescope(r), indent=2, ensure_ascii=False) + "\n",
    "classroom.json": lambda r: json.dumps(formats.classroom_result(r), indent=2, ensure_ascii=False) + "\n",
    "annotations.txt": lambda r: "\n".join(formats.github_annotations(r)) + "\n",
}


@pytest.mark.parametrize("name", REPORTS)
@pytest.mark.parametrize("ext", list(WRITERS))
def test_matches_golden(name: str, ext: str) -> None:
    rendered = WRITERS[ext](load(name))
    golden = GOLDEN / f"{name}.{ext}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
        pytest.skip(f"{golden.name} regenerated: review `git diff tests/golden`")  # not compared with itself
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", REPORTS)
def test_junit_is_read_by_a_junit_library(name: str, tmp_path: Path) -> None:
    report = load(name)
    path = tmp_path / "junit.xml"
    path.write_text(formats.junit(report), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    # an incomplete run adds a suite of the grader's own: one error, "not graded"
    extra = ["grader"] if report["status"] in ("incomplete", "error") else []
    assert list(suites) == list(dict.fromkeys(c["category"] for c in report["checks"])) + extra
    by_name = {case.name: case for suite in xml if suite.name != "grader" for case in suite}
    assert len(by_name) == len(report["checks"])
    for check in report["checks"]:
        case = by_name[f"{check['title']} ({check['id']})"]
        kinds = {type(r) for r in case.result}
        expected = {"passed": set(), "failed": {Failure}, "error": {Error}, "skipped": {Skipped}}[check["status"]]
        assert kinds == expected
        if check["status"] == "failed":
            assert case.result[0].message == check["feedback"]
            assert case.result[0].text == (check["evidence"] or None)
    assert xml.failures == sum(c["status"] == "failed" for c in report["checks"])
    assert xml.skipped == sum(c["status"] == "skipped" for c in report["checks"])


# Gradescope's results.json, as its autograder specification describes it.
GRADESCOPE = {
    "type": "object",
    "required": ["tests"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "stdout_visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "score", "max_score", "status", "output", "visibility"],
                "properties": {
                    "name": {"type": "string"},
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "output": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
                },
                "additionalProperties": False,
            },
        },
    },
}


@pytest.mark.parametrize("name", REPORTS)
def test_gradescope_follows_the_spec(name: str) -> None:
    report = load(name)
    result = formats.gradescope(report)
    jsonschema.validate(result, GRADESCOPE)
    assert sum(t["score"] for t in result["tests"]) == report["score"]
    if report["status"] == "incomplete":
        # No partial score that looks final: 0 as a placeholder, and the output says why.
        assert result["score"] == 0 and report["score"] > 0
        assert "Incomplete, not a grade" in result["output"] and "placeholder" in result["output"]
        assert result["extra_data"]["ungraded"] == report["ungraded"]
    else:
        assert result["score"] == report["score"]


@pytest.mark.parametrize("name", REPORTS)
def test_classroom_result_adds_up(name: str) -> None:
    report = load(name)
    decoded = json.loads(base64.b64decode(formats.classroom(report)))
    assert decoded["version"] == 1 and decoded["max_score"] == report["max_score"]
    # The classroom reporter adds up `score` of every test against `max_score`; an incomplete run
    # gives it 0 to add up (a placeholder), never a partial score, and says `error`.
    if report["status"] == "incomplete":
        assert sum(t["score"] for t in decoded["tests"]) == 0 and decoded["status"] == "error"
        return
    assert sum(t["score"] for t in decoded["tests"]) == report["score"]
    assert {t["status"] for t in decoded["tests"]} <= {"pass", "fail", "error"}
    assert decoded["status"] == ("pass" if report["score"] == report["max_score"] else "fail")


def test_annotations_point_at_the_line_and_escape_newlines() -> None:
    lines = formats.github_annotations(load("listen-localhost"), path_prefix="hw/")
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == 1
    assert errors[0].startswith("::error title=API answers HTTP (0/15),file=hw/docker-compose.yml,line=4::")
    assert lines[-1] == "::notice title=Autograding::Points 85/100"
    assert all("\n" not in line for line in lines)
    assert formats._escape_data("a\nb%") == "a%0Ab%25"


def test_an_incomplete_run_is_no_grade_in_any_format() -> None:
    report = load("build-error")
    assert report["status"] == "incomplete" and report["ungraded"]["points"] == 58
    lines = formats.github_annotations(report)
    assert not any("Points" in line for line in lines)  # GitHub Classroom records that line
    assert lines[-1].startswith("::error title=Not graded::") and "58 points could not be graded" in lines[-1]
    assert "Incomplete, not a grade" in formats.markdown(report)
    xml = JUnitXml.fromstring(formats.junit(report).encode())
    assert xml.errors == 2  # the build's error and the run's own "not graded"
    assert "`postgres`" in formats.markdown(report) and "`postgres:16`" in formats.markdown(report)


def test_markdown_lists_every_check_and_what_to_fix() -> None:
    report = load("invalid-compose")
    text = formats.markdown(report)
    assert text.startswith("## Docker homework: 17/100 points")
    assert sum(line.startswith("| ") for line in text.splitlines()) == len(report["checks"]) + 1
    assert "### What to fix" in text and "Did you mean `environment`?" in text
    assert "(`docker-compose.yml` line 6)" in text


def test_markdown_says_where_the_time_went_in_the_report_s_language() -> None:
    doc = load("complete") | {"kind": "grade", "timings": {"copy": 0.01, "build": 0.25, "settle": 5.2}}
    assert formats.markdown(doc).endswith(
        "<sub>Time: copy 0.01 s · build 0.25 s · services settling 5.2 s (total 14.02 s)</sub>\n"
    )
    spanish = formats.markdown(doc | {"lang": "es"})
    assert "Tiempo: copia 0.01 s · build 0.25 s · servicios estabilizándose 5.2 s (total 14.02 s)" in spanish
    assert "Static checks only" not in formats.markdown(doc)
    assert "Static checks only" in formats.markdown(doc | {"kind": "lint"})


def test_markdown_fence_is_longer_than_any_backtick_run_in_the_evidence() -> None:
    report = load("listen-localhost")
    failed = next(c for c in report["checks"] if c["status"] == "failed")
    failed["evidence"] = "before\n`````\n# Points 100/100\n`````\nafter"
    text = formats.markdown(report)
    fence_lines = [line for line in text.splitlines() if line.startswith("`")]
    assert fence_lines[0] == "``````text" and "``````" in fence_lines[-1]
    inside = text.split("``````text\n", 1)[1].split("\n``````", 1)[0]
    assert "# Points 100/100" in inside and "after" in inside  # the fence was never closed early
