from __future__ import annotations

from pathlib import Path

import pytest

from checks.compose_file import unknown_key_advice


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            "validating compose.yaml: services.api.enviroment false schema",
            "`enviroment` (in service `api`) is not a compose key. Did you mean `environment`?",
            id="v5-wording",
        ),
        pytest.param(
            "services.web Additional property volumen is not allowed",
            "`volumen` (in service `web`) is not a compose key. Did you mean `volumes`?",
            id="v1-wording",
        ),
        pytest.param(
            "validating docker-compose.yml: services.db additional properties 'port' not allowed",
            "`port` (in service `db`) is not a compose key. Did you mean `ports`?",
            id="older-wording",
        ),
        pytest.param("yaml: line 3: mapping values are not allowed in this context", None, id="yaml-syntax"),
    ],
)
def test_unknown_key_advice(message: str, expected: str | None) -> None:
    assert unknown_key_advice(message) == expected


def test_a_charged_example_says_so_in_the_feedback(tmp_path: Path) -> None:
    """The rubric's `env_examples.deduct`: the check fails for those points, and its feedback
    says why, not only that the file is valid."""
    import shutil

    from checks import CHECKS
    from grader.intake.rubric import parse
    from grader.run.context import Options
    from grader.run.execute import run_checks
    from grader.run.prepare import prepare
    from tests.conftest import SUBMISSIONS

    root = tmp_path / "s"
    shutil.copytree(SUBMISSIONS / "course-subfolder" / "ecommerce-ana", root)
    rubric = parse("env_examples: {use: true, deduct: 2}\n")
    ctx = prepare(root, Options(), None, "grader-charged-test", rubric)
    (result,) = run_checks(ctx, {"compose.file": CHECKS["compose.file"]})
    assert (result.status.value, result.points) == ("failed", 3.0)
    assert "`.env` is not in the repository, and the course's rubric takes 2 points" in result.feedback
