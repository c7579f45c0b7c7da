"""`--lang es`: a real run's feedback, titles and student summary in Spanish."""

from __future__ import annotations

import pytest

from grader.reports import formats
from grader.reports.document import to_dict, to_table
from grader.run.context import Options
from grader.run.runner import grade
from tests.conftest import SUBMISSIONS, english_words

pytestmark = pytest.mark.docker


def test_spanish_feedback_for_the_listen_localhost_mistake() -> None:
    report = grade(SUBMISSIONS / "listen-localhost", Options(lang="es"))
    by_id = {c.id: c for c in report.checks}
    assert report.lang == "es" and report.score == 85
    api = by_id["api.reachable"]
    assert api.title == "La API responde por HTTP"
    assert "Tu app escucha en 127.0.0.1:3000 dentro del contenedor" in api.feedback
    assert "escuchando dentro de `api`" in api.evidence
    assert by_id["persistence.data"].feedback.startswith("Los datos sobrevivieron")
    doc = to_dict(report)
    assert formats.markdown(doc).startswith("## Tarea de Docker: 85/100 puntos")
    assert "Qué corregir" in formats.markdown(doc)
    assert "Comprobación" in to_table(report)
    # no English sentence anywhere a Spanish-speaking student or instructor reads
    assert english_words(formats.markdown(doc)) == []
    assert english_words(to_table(report)) == []
