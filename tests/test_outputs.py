from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from grader.reports.outputs import Targets, _annotation_prefix, emit
from tests.test_formats import load


@pytest.mark.parametrize(
    ("submission", "workspace", "prefix"),
    [
        pytest.param("/w/repo", "/w/repo", "", id="root"),
        pytest.param("/w/repo/hw1", "/w/repo", "hw1/", id="subfolder"),
        pytest.param("/elsewhere", "/w/repo", "", id="outside"),
        pytest.param("/w/repo", None, "", id="not-in-actions"),
    ],
)
def test_annotation_prefix(submission: str, workspace: str | None, prefix: str) -> None:
    assert _annotation_prefix(submission, workspace) == prefix


def test_outside_actions_nothing_but_the_files(tmp_path: Path) -> None:
    out = io.StringIO()
    emit(load("complete"), Targets(json=tmp_path / "r.json", junit=tmp_path / "j.xml"), {}, out)
    assert out.getvalue() == ""
    assert json.loads((tmp_path / "r.json").read_text())["score"] == 100
    assert (tmp_path / "j.xml").read_text().startswith("<?xml")


def test_in_actions_summary_annotations_and_outputs(tmp_path: Path) -> None:
    summary, outputs = tmp_path / "summary.md", tmp_path / "output"
    summary.write_text("earlier step\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    out = io.StringIO()
    emit(load("listen-localhost"), Targets(classroom=True), env, out)
    assert summary.read_text().startswith("earlier step\n## Docker homework: 85/100 points")
    assert "::error title=API answers HTTP (0/15),file=docker-compose.yml,line=4::" in out.getvalue()
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert written["score"] == "85" and written["max-score"] == "100" and written["result"]
    assert "report" not in written  # no --json, no report path
    assert written["status"] == "graded"


def test_an_incomplete_run_outputs_no_score(tmp_path: Path) -> None:
    outputs = tmp_path / "output"
    emit(load("build-error"), Targets(), {"GITHUB_OUTPUT": str(outputs)}, io.StringIO())
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert written["score"] == "" and written["status"] == "incomplete" and written["max-score"] == "100"
