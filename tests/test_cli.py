from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from grader.cli import main
from tests.conftest import SUBMISSIONS


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    jsonschema.Draft202012Validator.check_schema(json.loads(capsys.readouterr().out))


@pytest.mark.parametrize(
    "target",
    [pytest.param("missing", id="missing"), pytest.param("file.txt", id="file")],
)
def test_bad_input_exits_2_without_traceback(tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file.txt").write_text("x")
    assert main(["grade", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("grader: ") and "Traceback" not in err and len(err.splitlines()) == 1


def test_no_engine_exits_3_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert main(["grade", str(SUBMISSIONS / "complete")]) == 3
    assert "docker.io" in capsys.readouterr().err


@pytest.mark.docker
def test_fail_under_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # invalid-compose fails before anything starts: a fast end-to-end run of the CLI.
    out = tmp_path / "report.json"
    assert main(["grade", str(SUBMISSIONS / "invalid-compose"), "--json", str(out), "--fail-under", "50"]) == 1
    assert json.loads(out.read_text())["score"] == 17
    assert "TOTAL" in capsys.readouterr().out
    assert main(["grade", str(SUBMISSIONS / "invalid-compose"), "--fail-under", "17"]) == 0


def test_report_renders_formats_from_a_saved_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = Path(__file__).parent / "golden"
    args = ["report", str(golden / "listen-localhost.report.json"), "--junit", str(tmp_path / "j.xml")]
    assert main([*args, "--markdown", str(tmp_path / "s.md"), "--fail-under", "90"]) == 1
    assert (tmp_path / "j.xml").read_text() == (golden / "listen-localhost.junit.xml").read_text()
    assert (tmp_path / "s.md").read_text() == (golden / "listen-localhost.md").read_text()


def test_report_rejects_what_is_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"score": "lots"}')
    assert main(["report", str(bad)]) == 2
    assert "not a compose-grader report" in capsys.readouterr().err
