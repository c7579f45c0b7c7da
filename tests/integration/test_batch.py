"""`grader batch` on the engine, end to end: a folder, a roster of git repositories at a deadline,
GitHub Classroom's export and archives (one hostile) into one gradebook, two runs at a time; then
`--resume` grades nothing that is unchanged. Each student is a real `grader grade` in a process
of its own."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import docker
import pytest

from grader.cli import main
from tests.conftest import EXPECTED, ROOT, SUBMISSIONS, engine_counts, git, tree_digest

pytestmark = pytest.mark.docker
COURSE_RUBRIC = ROOT / "examples" / "course-rubric.yml"


def _expected(name: str) -> float:
    return float(json.loads((EXPECTED / f"{name}.json").read_text())["score"])


def _rows(out: Path) -> dict[str, dict[str, str]]:
    return {r["student"]: r for r in csv.DictReader(io.StringIO((out / "gradebook.csv").read_text()))}


def test_a_class_from_every_kind_of_source(engine: docker.DockerClient, tmp_path: Path) -> None:
    # A folder of two students.
    folder = tmp_path / "class"
    shutil.copytree(SUBMISSIONS / "complete", folder / "ana")
    shutil.copytree(SUBMISSIONS / "invalid-compose", folder / "bea")
    # A repository whose fix came after the deadline: the commit before it is graded.
    repo = tmp_path / "repos" / "ciro"
    shutil.copytree(SUBMISSIONS / "no-dockerfile", repo)
    git(repo, "init", "-q", "-b", "main", when="2026-12-01T10:00:00Z")
    git(repo, "add", "-A", when="2026-12-01T10:00:00Z")
    git(repo, "commit", "-qm", "entrega", when="2026-12-01T10:00:00Z")
    shutil.copy(SUBMISSIONS / "complete" / "Dockerfile", repo / "Dockerfile")
    git(repo, "add", "-A", when="2026-12-03T10:00:00Z")
    git(repo, "commit", "-qm", "late fix", when="2026-12-03T10:00:00Z")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo\nciro,repos/ciro\n")
    # GitHub Classroom's grades export, as downloaded (its URL column pointing at a local copy).
    fede = tmp_path / "repos" / "m4-fede99"
    shutil.copytree(SUBMISSIONS / "invalid-compose", fede)
    git(fede, "init", "-q", "-b", "main", when="2026-12-01T09:00:00Z")
    git(fede, "add", "-A", when="2026-12-01T09:00:00Z")
    git(fede, "commit", "-qm", "entrega", when="2026-12-01T09:00:00Z")
    classroom = tmp_path / "classroom.csv"
    classroom.write_text(
        "assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,"
        "student_repository_name,student_repository_url,submission_timestamp,points_awarded,points_available\n"
        f'"Docker M4","https://classroom.github.com/a/x","",fede99,"fede","m4-fede99","{fede}","","0","100"\n'
    )
    # An LMS download: a zip with the folder inside it, and a hostile tarball.
    zipped = tmp_path / "downloads" / "dani.zip"
    zipped.parent.mkdir()
    with zipfile.ZipFile(zipped, "w") as archive:
        for path in sorted((SUBMISSIONS / "invalid-compose").rglob("*")):
            archive.write(path, Path("entrega") / path.relative_to(SUBMISSIONS / "invalid-compose"))
    hostile = tmp_path / "downloads" / "eve.tar.gz"
    with tarfile.open(hostile, "w:gz") as archive:
        archive.add(SUBMISSIONS / "no-dockerfile", arcname="eve")
        link = tarfile.TarInfo("eve/Dockerfile")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
        climb = tarfile.TarInfo("../../escaped")
        climb.size = 1
        archive.addfile(climb, io.BytesIO(b"x"))
    sources = [folder, roster, classroom, zipped, hostile]
    digests = {p: tree_digest(p) if p.is_dir() else p.read_bytes() for p in [folder, repo, fede, zipped, hostile]}
    before = engine_counts(engine)
    out = tmp_path / "out"

    code = main(["batch", *map(str, sources), "--out", str(out), "--jobs", "2", "--deadline", "2026-12-02T00:00:00Z"])

    rows = _rows(out)
    assert code == 0
    assert {s: (float(r["score"]), r["status"]) for s, r in rows.items()} == {
        "ana": (_expected("complete"), "graded"),
        "bea": (_expected("invalid-compose"), "graded"),
        "ciro": (_expected("no-dockerfile"), "graded"),  # graded before its late fix
        "dani": (_expected("invalid-compose"), "graded"),
        "eve": (_expected("no-dockerfile"), "graded"),  # its Dockerfile was a link out: left out
        "fede": (_expected("invalid-compose"), "graded"),  # from the Classroom export
    }
    assert len(rows["ciro"]["commit"]) == 40 and rows["dani"]["commit"].startswith("sha256:")
    for student in rows:
        report = json.loads((out / student / "report.json").read_text())
        assert report["status"] == "graded" and (out / student / "report.md").is_file()
    notes = json.loads((out / "eve" / "batch.json").read_text())["notes"]
    assert any("eve/Dockerfile" in n for n in notes) and any("escaped" in n for n in notes)
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
    assert "<h1>Gradebook" in (out / "gradebook.html").read_text()
    assert engine_counts(engine) == before  # containers, networks, volumes, images: nothing left
    assert digests == {p: tree_digest(p) if p.is_dir() else p.read_bytes() for p in digests}

    graded = {s: (out / s / "report.json").stat().st_mtime_ns for s in rows}
    again = main(["batch", *map(str, sources), "--out", str(out), "--resume", "--deadline", "2026-12-02T00:00:00Z"])
    assert again == 0
    assert {s: (out / s / "report.json").stat().st_mtime_ns for s in rows} == graded  # nothing regraded
    assert {s: r["score"] for s, r in _rows(out).items()} == {s: r["score"] for s, r in rows.items()}


def test_a_cohort_as_committed_grades_with_no_hand_editing(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repositories with the project in a folder, `.env` only as `.env.example`, a pgAdmin service:
    one found by the grader, one named by the roster's `path`; the course rubric; the images each
    run built are removed by reapers, and none is left when the batch reports."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    repos = {"ana": "course-subfolder", "bea": "course-subfolder-two"}
    for student, fixture in repos.items():
        repo = tmp_path / "repos" / student
        shutil.copytree(SUBMISSIONS / fixture, repo)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "entrega")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo,path\nana,repos/ana,\nbea,repos/bea,ecommerce-bea\n")
    before = engine_counts(engine)
    out = tmp_path / "out"
    code = main(["batch", str(roster), "--out", str(out), "--jobs", "2", "--rubric", str(COURSE_RUBRIC)])
    assert code == 0
    rows = _rows(out)
    assert {s: float(r["score"]) for s, r in rows.items()} == {s: _expected(f) for s, f in repos.items()}
    assert rows["ana"]["source"].endswith("(ecommerce-ana/)") and rows["bea"]["source"].endswith("(ecommerce-bea/)")
    reports = {s: json.loads((out / s / "report.json").read_text()) for s in repos}
    assert {s: (r["submission"]["project_found"], r["setup"]["services_left_out"]) for s, r in reports.items()} == {
        "ana": ("found", ["pgadmin"]),
        "bea": ("chosen", ["pgadmin"]),
    }
    assert json.loads((out / "bea" / "batch.json").read_text())["fingerprint"]["path"] == "ecommerce-bea"
    assert engine_counts(engine) == before  # every reaper finished before the batch reported
