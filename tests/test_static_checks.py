"""Every fixture's static verdicts without an engine: the static checks (dockerfile.*, compose.*,
security.policy) read files and run `docker compose config`, which needs the compose binary, not
a running engine. The same expected files as the Docker tests, so the two cannot drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from checks import CHECKS
from grader.intake.locate import locate
from grader.intake.rubric import parse
from grader.intake.submission import copy_submission
from grader.model import Stage
from grader.run.context import Options
from grader.run.execute import run_checks
from grader.run.prepare import prepare
from tests.conftest import EXPECTED, SUBMISSIONS, fixture_rubric

STATIC = {k: v for k, v in CHECKS.items() if v.stage is Stage.STATIC}
FIXTURES = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in FIXTURES])
def test_static_verdicts_without_an_engine(name: str, tmp_path: Path) -> None:
    expected = json.loads((EXPECTED / f"{name}.json").read_text())
    rubric = fixture_rubric(expected)
    root = tmp_path / "submission"
    located = locate(SUBMISSIONS / name, rubric.project)  # as grader.run.runner.grade does
    assert located.path == expected.get("project_dir", ".")
    dropped = copy_submission(SUBMISSIONS / name / located.path, root)
    ctx = prepare(root, Options(), None, "grader-static-test", rubric, (), dropped, project_dir=located.path)
    results = run_checks(ctx, STATIC)
    assert {r.id: {"status": r.status.value, "points": r.points} for r in results} == {
        k: v for k, v in expected["checks"].items() if k in STATIC
    }
    for result in results:
        for needle in [expected.get("feedback_contains", {}).get(result.id) or []]:
            for text in [needle] if isinstance(needle, str) else needle:
                assert text in result.feedback, result.feedback
        # a static check never needs the machine; its only `error` is the instructor's missing grading values
        assert result.status.value != "error" or "`environment:`" in result.feedback, result.evidence


@pytest.mark.parametrize(
    "dockerfile, needle",
    [
        pytest.param("RUN npm install\n", "RUN before the first FROM", id="no-from"),
        pytest.param("# only a comment\n", "no FROM instruction", id="empty"),
        pytest.param("FROM node:18\n" + "# padding\n" * 40_000, "KB", id="too-large"),
    ],
)
def test_a_dockerfile_the_builder_would_refuse(tmp_path: Path, dockerfile: str, needle: str) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    ctx = prepare(tmp_path, Options(), None, "grader-static-test")
    (result,) = run_checks(ctx, {"dockerfile.present": CHECKS["dockerfile.present"]})
    assert result.status.value == "failed" and needle in result.feedback, result.feedback


def test_an_unreadable_file_fails_its_check_not_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the grader may not read (mode 000 in the repository, graded by a non-root user)
    fails its check saying so; the run goes on."""
    shutil.copytree(SUBMISSIONS / "complete", tmp_path / "s")
    refused = {tmp_path / "s" / "Dockerfile", tmp_path / "s" / "docker-compose.yml"}
    read_text, read_bytes = Path.read_text, Path.read_bytes

    def guarded(reader: Any) -> Any:
        def read(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self in refused:
                raise PermissionError(13, "Permission denied", str(self))
            return reader(self, *args, **kwargs)

        return read

    monkeypatch.setattr(Path, "read_text", guarded(read_text))
    monkeypatch.setattr(Path, "read_bytes", guarded(read_bytes))
    ctx = prepare(tmp_path / "s", Options(), None, "grader-static-test")
    results = {r.id: r for r in run_checks(ctx, STATIC)}
    for check, path in (("dockerfile.present", "Dockerfile"), ("compose.file", "docker-compose.yml")):
        assert results[check].status.value == "failed", results[check]
        assert f"{path} cannot be read (Permission denied)" in results[check].feedback


def test_a_grader_fault_while_preparing_is_that_check_s_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The steps before the checks give values: a bug in resolving the model errs compose.file (and
    skips what needs it, naming it), the Dockerfile checks are still graded."""
    shutil.copytree(SUBMISSIONS / "complete", tmp_path / "s")

    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr("grader.intake.resolve.resolve", broken)
    results = {r.id: r for r in run_checks(prepare(tmp_path / "s", Options(), None, "grader-static-test"), STATIC)}
    assert results["compose.file"].status.value == "error"
    assert "failed while preparing compose (KeyError" in results["compose.file"].feedback
    assert results["compose.services"].status.value == "skipped" and results["compose.services"].cause == "compose.file"
    assert results["dockerfile.present"].status.value == results["dockerfile.practices"].status.value == "passed"


def test_a_folder_where_an_env_file_goes_is_the_student_s_not_a_crash(tmp_path: Path) -> None:
    shutil.copytree(SUBMISSIONS / "complete", tmp_path / "s")
    (tmp_path / "s" / ".env").unlink()
    (tmp_path / "s" / ".env").mkdir()
    rubric = parse("environment:\n  variables: {POSTGRES_PASSWORD: postgres}\n")
    ctx = prepare(tmp_path / "s", Options(), None, "grader-static-test", rubric)
    (result,) = run_checks(ctx, {"compose.file": CHECKS["compose.file"]})
    assert result.status.value == "failed" and ".env" in result.evidence, result


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in FIXTURES])
def test_every_expected_file_follows_its_schema(name: str) -> None:
    """fixtures/expected.schema.json documents every key a fixture's expected file may hold; a
    misspelled key (`feedback_contain`) would otherwise assert nothing."""
    import jsonschema

    schema = json.loads((EXPECTED.parent / "expected.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    expected = json.loads((EXPECTED / f"{name}.json").read_text())
    jsonschema.validate(expected, schema)
    misspelled = {**expected, "feedback_contain": {}}
    assert not jsonschema.Draft202012Validator(schema).is_valid(misspelled)
