"""Every fixture's static verdicts without an engine: the static checks (dockerfile.*, compose.*,
security.policy) read files and run `docker compose config`, which needs the compose binary, not
a running engine. The same expected files as the Docker tests, so the two cannot drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks import CHECKS
from grader.context import Options
from grader.model import Phase
from grader.runner import copy_submission, prepare, run_checks
from tests.conftest import EXPECTED, SUBMISSIONS, fixture_rubric

STATIC = {k: v for k, v in CHECKS.items() if v.phase is Phase.STATIC}
FIXTURES = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in FIXTURES])
def test_static_verdicts_without_an_engine(name: str, tmp_path: Path) -> None:
    expected = json.loads((EXPECTED / f"{name}.json").read_text())
    rubric = fixture_rubric(expected)
    root = tmp_path / "submission"
    dropped = copy_submission(SUBMISSIONS / name, root)
    ctx = prepare(root, SUBMISSIONS / name, Options(), None, "grader-static-test", rubric, (), dropped)  # type: ignore[arg-type]
    results = run_checks(ctx, STATIC)
    assert {r.id: {"status": r.status.value, "points": r.points} for r in results} == {
        k: v for k, v in expected["checks"].items() if k in STATIC
    }
    for result in results:
        for needle in [expected.get("feedback_contains", {}).get(result.id) or []]:
            for text in [needle] if isinstance(needle, str) else needle:
                assert text in result.feedback, result.feedback
        assert result.status.value != "error", result.evidence  # a static check never needs the machine


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
    ctx = prepare(tmp_path, tmp_path, Options(), None, "grader-static-test")  # type: ignore[arg-type]
    (result,) = run_checks(ctx, {"dockerfile.present": CHECKS["dockerfile.present"]})
    assert result.status.value == "failed" and needle in result.feedback, result.feedback
