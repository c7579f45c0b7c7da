"""The class's gradebook: CSV for a spreadsheet, one HTML page for the instructor."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grader.classroom import gradebook
from grader.reports.document import to_dict
from grader.run.runner import not_graded
from tests.conftest import ROOT, chromium, english_words

GOLDEN = ROOT / "tests" / "golden"


def _student(out: Path, key: str, report: dict[str, Any], **meta: Any) -> None:
    (out / key).mkdir(parents=True)
    (out / key / "report.json").write_text(json.dumps(report))
    (out / key / "batch.json").write_text(json.dumps({"student": key, "duration_s": 12.3, **meta}))


def _golden(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GOLDEN / f"{name}.report.json").read_text())
    return doc


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A class of four: full marks, an invalid compose file, an incomplete run, no repository."""
    out = tmp_path / "out"
    _student(out, "alice", _golden("complete"), source="https://example.invalid/alice", commit="a" * 40)
    _student(out, "bob", _golden("invalid-compose"), source="/srv/bob.zip", content_hash="sha256:" + "b" * 64)
    incomplete = _golden("complete") | {"status": "incomplete", "ungraded": {"points": 20, "checks": ["x"]}}
    _student(out, "carol", incomplete)
    _student(out, "=cmd", to_dict(not_graded(Path("dave"), "could not fetch the submission: no repository")))
    (out / "stray").mkdir()  # a folder without a report is nobody's row
    return out


def test_the_csv_has_a_row_per_student_and_a_column_per_check(out: Path) -> None:
    rows = gradebook.read_rows(out)
    table = list(csv.DictReader(io.StringIO(gradebook.to_csv(rows))))
    assert [r["student"] for r in table] == ["'=cmd", "alice", "bob", "carol"]  # a formula stays text
    by = {r["student"]: r for r in table}
    complete = _golden("complete")
    assert by["alice"]["score"] == "100" and by["alice"]["percentage"] == "100"
    assert by["alice"]["commit"] == "a" * 40 and by["alice"]["duration_s"] == "12.3"
    assert by["bob"]["commit"].startswith("sha256:") and by["bob"]["status"] == "graded"
    for check in complete["checks"]:  # points per check, as the report gives them
        assert by["alice"][check["id"]] == f"{check['points']:g}"
    # An incomplete or failed run is no grade: nothing a gradebook import could record.
    assert by["carol"]["status"] == "incomplete" and by["carol"]["score"] == "" and by["carol"]["startup.up"] == ""
    assert by["'=cmd"]["status"] == "error" and by["'=cmd"]["score"] == ""


def test_the_page_shows_the_distribution_the_checks_and_every_student(out: Path) -> None:
    page = gradebook.to_html(gradebook.read_rows(out))
    assert "<script" not in page  # readable without JavaScript
    assert page.count('class="bar"') == gradebook.BUCKETS
    assert '<a href="alice/report.md">alice</a>' in page
    assert "could not fetch the submission: no repository" in page
    assert "20 points could not be graded; re-run" in page
    # pass rates over graded runs only (alice and bob): alice passed startup, bob never got there
    assert "Stack starts" in page and "1 / 2" in page


def test_the_page_escapes_what_students_wrote(tmp_path: Path) -> None:
    report = _golden("complete")
    report["checks"][0]["title"] = "<img src=x onerror=alert(1)>"
    _student(tmp_path, "mallory", report, student="<script>alert(1)</script>")
    page = gradebook.to_html(gradebook.read_rows(tmp_path))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.browser
def test_the_page_renders_in_a_browser(out: Path, tmp_path: Path) -> None:
    """The instructor's page, screenshotted by headless Chromium: it renders (a PNG of the page's
    size, not blank), and the file is self-contained (no request leaves the page's folder)."""
    gradebook.write(out, gradebook.read_rows(out))
    shot = tmp_path / "gradebook.png"
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1280,1400",
            (out / "gradebook.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 1400)
    assert len(data) > 20_000  # text, bars and tables: a blank page compresses to a few KB


def test_a_check_everyone_partly_passes_is_not_an_empty_bar(tmp_path: Path) -> None:
    """8, 10 and 12 of 12 practices: one full mark, and the bar is the mean share (83 %), not 1/3."""
    out = tmp_path / "out"
    for key, points in (("ana", 8.0), ("bea", 10.0), ("ciro", 12.0)):
        report = _golden("complete")
        for check in report["checks"]:
            if check["id"] == "dockerfile.practices":
                check["max_points"], check["points"] = 12, points
                check["status"] = "passed" if points == 12 else "failed"
        report["score"] = sum(c["points"] for c in report["checks"])
        _student(out, key, report)
    page = gradebook.to_html(gradebook.read_rows(out))
    row = page.split("<code class=muted>dockerfile.practices</code>", 1)[1].split("</tr>", 1)[0]
    assert "1 / 3" in row and "83 %" in row and 'style="width:83%"' in row


def test_the_page_speaks_the_class_s_language_and_shows_code_as_code(out: Path) -> None:
    page = gradebook.to_html(gradebook.read_rows(out), lang="es")
    assert '<html lang="es">' in page and "Estudiantes" in page and "calificada" in page
    for english in ("Students", "Score distribution", "full marks", "Scores are of graded runs"):
        assert english not in page
    # Only the page's own words: what the reports say is in their own language, the titles of
    # the checks in this fixture class are English (the reports were written in English).
    rows = gradebook.read_rows(out)
    words = page.split("<body>", 1)[1]
    for row in rows:
        words = words.replace(row.student, " ")
    for row in rows:  # what the reports say, in the language they were written in
        for text in [*row.titles.values(), row.reason, row.source]:
            words = words.replace(text, " ") if text else words
    assert english_words(words) == []
    english = gradebook.to_html(rows).split("<body>", 1)[1]  # the detector sees the page's words
    assert len(english_words(english)) > 5
    rows = gradebook.read_rows(out)
    rows = [dataclasses.replace(r, reason="run `grader batch --resume`") for r in rows]
    assert "<code>grader batch --resume</code>" in gradebook.to_html(rows) and "`grader" not in gradebook.to_html(rows)
