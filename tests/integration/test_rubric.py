"""The course rubric (fixtures/rubrics/products.yml) on the real engine: scenarios, grading
environment, hidden checks."""

from __future__ import annotations

import json

import docker
import pytest

from grader.intake.rubric import load
from grader.reports import formats
from grader.reports.document import to_dict
from grader.run.runner import grade
from tests.conftest import ROOT, SUBMISSIONS, engine_counts, tree_digest

pytestmark = pytest.mark.docker
RUBRIC = ROOT / "fixtures" / "rubrics" / "products.yml"
SECRET = "grading-secret-pw"


@pytest.mark.parametrize(
    ("fixture", "score", "failed"),
    [
        pytest.param("complete", 120, set(), id="complete"),
        # The instructor's grading.env stands in for the .env the student never committed.
        pytest.param("missing-env-file", 120, set(), id="missing-env-file"),
        pytest.param("no-volume", 80, {"compose.volume", "persistence.data", "persistence.scenario"}, id="no-volume"),
    ],
)
def test_course_rubric(engine: docker.DockerClient, fixture: str, score: float, failed: set[str]) -> None:
    submission = SUBMISSIONS / fixture
    digest, before = tree_digest(submission), engine_counts(engine)

    report = grade(submission, rubric=load(RUBRIC))

    statuses = {c.id: c.status.value for c in report.checks}
    assert {k for k, v in statuses.items() if v != "passed"} == failed, statuses
    assert (report.score, report.max_score) == (score, 120)
    assert statuses["api.scenario_create_and_list_products"] == "passed"
    doc = to_dict(report)
    for text in (json.dumps(doc), formats.markdown(doc), formats.junit(doc)):
        assert SECRET not in text
    assert engine_counts(engine) == before
    assert tree_digest(submission) == digest  # the grading values went into the copy only
    if "compose.volume" in failed:
        volume = next(c for c in doc["checks"] if c["id"] == "compose.volume")
        assert "has no volume" in volume["feedback"]  # the instructor's JSON keeps it
        assert "has no volume" not in formats.markdown(doc)  # the student's summary does not
        scenario = next(c for c in doc["checks"] if c["id"] == "persistence.scenario")
        # One cause, one deduction: the scenario saw the data lost for the mount compose.volume deducts.
        assert scenario["status"] == "skipped" and scenario["cause"] == "compose.volume"
        assert "the data was lost after `docker compose down` and `up`" in scenario["feedback"]
