"""Run the GitHub Action's steps locally, as a runner would: each `run:` with its rendered
inputs, GITHUB_* files pointed at temp files, on a copy of a fixture as the checked-out repo."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from junitparser import JUnitXml

from tests.conftest import ROOT, SUBMISSIONS
from tests.test_formats import GRADESCOPE

pytestmark = pytest.mark.docker

_EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _render(text: str, context: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return context[match.group(1)]  # KeyError: an expression this harness does not know

    return _EXPR.sub(value, text)


def run_action(workspace: Path, runner_temp: Path, with_inputs: dict[str, str]) -> dict[str, Any]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    context = {"github.action_path": str(ROOT)}
    for name, spec in action["inputs"].items():
        context[f"inputs.{name}"] = with_inputs.get(name, str(spec.get("default", "")))
    summary = runner_temp / "step_summary.md"
    env_base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_"))}
    env_base |= {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(runner_temp),
    }
    steps: dict[str, dict[str, Any]] = {}
    for index, step in enumerate(action["runs"]["steps"]):
        output_file = runner_temp / f"output-{index}"
        output_file.touch()
        env = env_base | {k: _render(str(v), context) for k, v in (step.get("env") or {}).items()}
        env["GITHUB_OUTPUT"] = str(output_file)
        proc = subprocess.run(
            [step["shell"], "-e", "-c", _render(step["run"], context)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        steps[step.get("id", str(index))] = {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
        for key, val in outputs.items():
            context[f"steps.{step.get('id', index)}.outputs.{key}"] = val
        if proc.returncode != 0:
            break
    action_outputs = {
        name: _render(spec["value"], context)
        for name, spec in action["outputs"].items()
        if all(m in context for m in _EXPR.findall(spec["value"]))
    }
    return {"steps": steps, "outputs": action_outputs, "summary": summary.read_text() if summary.exists() else ""}


def workspace_for(fixture: str, tmp_path: Path) -> tuple[Path, Path]:
    workspace = tmp_path / "workspace"
    shutil.copytree(SUBMISSIONS / fixture, workspace)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    return workspace, runner_temp


def test_action_grades_a_failing_repo(tmp_path: Path) -> None:
    workspace, runner_temp = workspace_for("listen-localhost", tmp_path)
    run = run_action(workspace, runner_temp, {"formats": "markdown, junit, gradescope, classroom", "fail-under": "90"})
    grade = run["steps"]["grade"]
    assert grade["rc"] == 1, grade["stderr"]  # 85 < fail-under 90: the step fails, reports still written
    assert "::error title=API answers HTTP (0/15),file=docker-compose.yml,line=4::" in grade["stdout"]
    assert "::notice title=Autograding::Points 85/100" in grade["stdout"]
    assert run["summary"].startswith("## Docker homework: 85/100 points")
    assert run["outputs"]["score"] == "85" and run["outputs"]["max-score"] == "100"
    report = json.loads((workspace / run["outputs"]["report"]).read_text())
    assert report["score"] == 85
    decoded = json.loads(base64.b64decode(run["outputs"]["result"]))
    assert sum(t["score"] for t in decoded["tests"]) == 85 and decoded["status"] == "fail"
    reports = workspace / "grader-report"
    assert JUnitXml.fromfile(str(reports / "junit.xml")).failures == 1
    jsonschema.validate(json.loads((reports / "results.json").read_text()), GRADESCOPE)
    assert (reports / "summary.md").read_text() == run["summary"]


def test_action_full_marks_and_subfolder_paths(tmp_path: Path) -> None:
    # The graded folder is a subfolder of the checked-out repository: annotations and outputs
    # must still be right, and a passing repo gets no ::error at all.
    workspace, runner_temp = workspace_for("complete", tmp_path)
    (workspace / "homework").mkdir()
    for item in list(workspace.iterdir()):
        if item.name != "homework":
            item.rename(workspace / "homework" / item.name)
    run = run_action(workspace, runner_temp, {"path": "homework", "formats": "markdown,junit,gradescope,classroom"})
    grade = run["steps"]["grade"]
    assert grade["rc"] == 0, grade["stderr"]
    assert "::error" not in grade["stdout"]
    assert "::notice title=Autograding::Points 100/100" in grade["stdout"]
    assert run["outputs"]["score"] == "100"
    assert json.loads(base64.b64decode(run["outputs"]["result"]))["status"] == "pass"
    reports = workspace / "grader-report"
    xml = JUnitXml.fromfile(str(reports / "junit.xml"))
    assert (xml.failures, xml.errors, xml.skipped) == (0, 0, 0)
    assert run["summary"].startswith("## Docker homework: 100/100 points")
    assert "What to fix" not in run["summary"]
    assert (reports / "summary.md").read_text() == run["summary"]
    jsonschema.validate(json.loads((reports / "results.json").read_text()), GRADESCOPE)


def test_action_rubric_and_lang(tmp_path: Path) -> None:
    """The instructor's rubric from the repository and the feedback's language, as inputs."""
    workspace, runner_temp = workspace_for("listen-localhost", tmp_path)
    (workspace / "grader.yml").write_text("checks:\n  api.reachable: {points: 30}\n")
    run = run_action(workspace, runner_temp, {"rubric": "grader.yml", "lang": "es"})
    assert run["steps"]["grade"]["rc"] == 0, run["steps"]["grade"]["stderr"]
    assert run["outputs"]["max-score"] == "115" and run["outputs"]["score"] == "85"
    assert run["summary"].startswith("## Tarea de Docker: 85/115 puntos")
