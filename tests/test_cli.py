from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from checks import CHECKS
from grader.cli import build_parser, main
from grader.reports.document import schema
from grader.run.context import Check
from grader.run.runner import grade
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


def _outputs(tmp_path: Path) -> list[str]:
    return [
        *("--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml")),
        *("--markdown", str(tmp_path / "r.md"), "--gradescope", str(tmp_path / "gs.json"), "--classroom"),
    ]


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("a bug in a check's helper")


@pytest.mark.parametrize(
    "make, code, error",
    [
        pytest.param(lambda p: ["grade", str(p / "missing")], 2, "no such file", id="missing-path"),
        pytest.param(
            lambda p: (p / "g.yml").write_text("a: &a [*a") and ["grade", str(p), "--rubric", str(p / "g.yml")],
            2,
            "not valid YAML",
            id="bad-rubric",
        ),
        pytest.param(lambda p: ["grade", str(p)], 4, "the grader crashed (RuntimeError", id="grader-crash"),
    ],
)
def test_a_run_that_cannot_grade_still_writes_every_report(
    tmp_path: Path,
    make: Any,
    code: int,
    error: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("grader.commands.grade.grade", _boom if code == 4 else grade)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "gh-output"))
    out = tmp_path / "out"
    out.mkdir()
    assert main([*make(tmp_path), *_outputs(out)]) == code
    doc = json.loads((out / "r.json").read_text())
    jsonschema.validate(doc, schema())
    assert (doc["status"], doc["score"], doc["checks"]) == ("error", 0, [])
    assert error in doc["error"]
    assert (doc["traceback"] is not None) == (code == 4)
    if code == 4:
        assert "RuntimeError: a bug in a check's helper" in doc["traceback"]
    markdown = (out / "r.md").read_text()
    assert "could not grade this submission" in markdown and "Traceback" not in markdown
    assert 'errors="1"' in (out / "r.xml").read_text()
    assert error in json.loads((out / "gs.json").read_text())["output"]
    result = (tmp_path / "gh-output").read_text().split("result=")[1]
    assert json.loads(base64.b64decode(result))["status"] == "error"
    capsys.readouterr()


def test_no_engine_exits_3_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert main(["grade", str(SUBMISSIONS / "complete")]) == 3
    assert "docker.io" in capsys.readouterr().err


def test_lint_grades_the_static_checks_without_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`grader lint` never asks for the engine: here there is none to ask."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    out, md = tmp_path / "lint.json", tmp_path / "lint.md"
    assert main(["lint", str(SUBMISSIONS / "invalid-compose"), "--json", str(out), "--markdown", str(md)]) == 0
    report = json.loads(out.read_text())
    jsonschema.validate(report, schema())
    assert report["kind"] == "lint" and report["status"] == "graded"
    # the registry's static checks, in its order, and nothing else (a new static check is one of them)
    assert [c["id"] for c in report["checks"]] == [i for i, c in CHECKS.items() if isinstance(c, Check)]
    assert {"dockerfile.present", "compose.file", "security.policy"} <= {c["id"] for c in report["checks"]}
    assert {c["id"]: c["status"] for c in report["checks"]}["compose.file"] == "failed"
    assert list(report["timings"]) == ["copy", "config"]  # nothing built, started or torn down
    assert "Static checks only (`grader lint`)" in md.read_text() and "Time: copy" in md.read_text()
    assert "Static checks only" in capsys.readouterr().out
    assert main(["lint", str(SUBMISSIONS / "invalid-compose"), "--fail-under", "50"]) == 1
    assert main(["lint", str(tmp_path / "nowhere"), "--json", str(out)]) == 2  # cannot grade: still a lint report
    assert json.loads(out.read_text())["kind"] == "lint" and json.loads(out.read_text())["status"] == "error"


def test_lint_lists_the_pins_a_build_would_use_from_the_repository_s_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rubric's `FROM node` pin too, not only compose's `image:`; a project in a folder is
    named from the repository's root, as the student opens it."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    out = tmp_path / "lint.json"
    rubric = SUBMISSIONS.parent.parent / "examples" / "course-rubric.yml"
    assert main(["lint", str(SUBMISSIONS / "course-subfolder"), "--rubric", str(rubric), "--json", str(out)]) == 0
    images = [(i["where"], i["written"], i["used"]) for i in json.loads(out.read_text())["images"]]
    assert ("ecommerce-ana/Dockerfile línea 1", "node", "node:18") in images  # the rubric says lang: es
    assert ("ecommerce-ana/docker-compose.yml services.postgresdb.image", "postgres", "postgres:16") in images


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


def test_an_incomplete_report_exits_3_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = Path(__file__).parent / "golden" / "build-error.report.json"
    assert main(["report", str(golden), "--markdown", str(tmp_path / "s.md")]) == 3
    assert "incomplete: 58 points could not be graded" in capsys.readouterr().err
    assert "Incomplete, not a grade" in (tmp_path / "s.md").read_text()


def test_report_rejects_what_is_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"score": "lots"}')
    assert main(["report", str(bad)]) == 2
    assert "not a compose-grader report" in capsys.readouterr().err


def test_rubric_check_says_why_the_gate_stays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rubric = tmp_path / "grader.yml"
    rubric.write_text("checks:\n  security.policy:\n    enabled: false\n")
    assert main(["rubric", "check", str(rubric)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "the security gate cannot be disabled" in err


def test_rubric_check_against_a_class_lists_the_values_it_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue-21 cohort: the rubric gives the API's values, not the database's password."""
    import shutil

    cohort = tmp_path / "cohort"
    for name in ("missing-grading-value", "no-postgres-password", "complete"):
        shutil.copytree(SUBMISSIONS / name, cohort / name)
    rubric = SUBMISSIONS.parent / "rubrics" / "missing-postgres-password.yml"
    assert main(["rubric", "check", str(rubric), "--against", str(cohort)]) == 1
    out = capsys.readouterr().out
    assert "missing-grading-value: missing from the rubric: POSTGRES_PASSWORD (read by db from .env, not in git)" in out
    # a committed .env is the student's own: what it lacks is theirs, not the rubric's
    assert "no-postgres-password : expects no value from files it keeps out of git" in out
    assert "3 of 3 repositories read" in out
    assert "  POSTGRES_PASSWORD: 1 of 3 (missing-grading-value)" in out
    assert "so no student's `.env.example` stands in" in out
    complete = tmp_path / "complete.yml"
    complete.write_text(rubric.read_text() + "    POSTGRES_PASSWORD: grading-pw\n")
    assert main(["rubric", "check", str(complete), "--against", str(cohort)]) == 0
    assert "missing-grading-value: the rubric gives all 5 values it expects" in capsys.readouterr().out


def test_rubric_check_against_names_a_host_that_fits_not_every_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One `DB_HOST` for a class where one student calls the database `postgresdb`; a helper's
    values are never asked for; a repository that cannot be read is no success."""
    import shutil

    cohort = tmp_path / "cohort"
    shutil.copytree(SUBMISSIONS / "missing-grading-value", cohort / "ana")
    shutil.copytree(SUBMISSIONS / "missing-grading-value", cohort / "bea")
    compose = cohort / "bea" / "docker-compose.yml"
    text = compose.read_text().replace("  db:", "  postgresdb:").replace("- db", "- postgresdb")
    pgadmin = "  pgadmin:\n    image: dpage/pgadmin4\n    env_file: .env.pgadmin\n\nvolumes:\n"
    compose.write_text(text.replace("\nvolumes:\n", "\n" + pgadmin))
    (cohort / "ciro").mkdir()  # no compose file: not read
    rubric = tmp_path / "grader.yml"
    rubric.write_text(
        "helpers: [dpage/pgadmin4]\nenvironment:\n  variables:\n    DB_HOST: db\n    DB_USER: postgres\n"
        "    DB_PASSWORD: pw\n    DB_NAME: products\n    POSTGRES_PASSWORD: pw\n"
    )
    assert main(["rubric", "check", str(rubric), "--against", str(cohort)]) == 1
    out = capsys.readouterr().out
    assert "ana : the rubric gives all 5 values it expects" in out
    assert "DB_HOST=db names no service of this repository (api, postgresdb)" in out
    assert "PGADMIN" not in out  # pgAdmin is left out: it needs nothing
    assert "ciro: not read: " in out and "2 of 3 repositories read, 1 not read" in out


def test_a_single_repository_is_no_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rubric = SUBMISSIONS.parent / "rubrics" / "missing-postgres-password.yml"
    assert main(["rubric", "check", str(rubric), "--against", str(SUBMISSIONS / "course-nestjs")]) == 2
    assert "this is one repository (it holds docker-compose.yml), not a class" in capsys.readouterr().err


def test_rubric_check_against_nobody_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    rubric = SUBMISSIONS.parent / "rubrics" / "missing-postgres-password.yml"
    assert main(["rubric", "check", str(rubric), "--against", str(tmp_path / "empty")]) == 2
    assert "no student found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "deadline, accepted",
    [
        pytest.param("2026-12-01T23:59:59-03:00", True, id="with-zone"),
        pytest.param("2026-12-01 23:59", True, id="local-time"),
        pytest.param("2026-12-01", False, id="a-date-alone-is-ambiguous"),
        pytest.param("next friday", False, id="not-iso"),
    ],
)
def test_a_batch_deadline_names_a_moment(deadline: str, accepted: bool, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    if accepted:
        assert parser.parse_args(["batch", "x", "--out", "o", "--deadline", deadline]).deadline.tzinfo is not None
    else:
        with pytest.raises(SystemExit):
            parser.parse_args(["batch", "x", "--out", "o", "--deadline", deadline])
        assert "deadline" in capsys.readouterr().err


def test_a_wrong_shard_is_bad_input_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["batch", "x", "--out", "o", "--shard", "5/4"])
    assert exit_.value.code == 2 and "I/N with 1 <= I <= N" in capsys.readouterr().err
