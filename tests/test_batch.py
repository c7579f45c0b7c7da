"""Grading a class, with a stand-in for `grader grade` (tests/integration/test_batch.py runs the
real one on the engine): sources, resume, --only, shards and merge, one failure among many."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.classroom import batch
from grader.classroom.batch import BatchOptions, run
from grader.classroom.roster import entries
from grader.classroom.shards import merge
from grader.errors import BadInput
from grader.reports.document import to_dict
from grader.run.runner import not_graded
from tests.conftest import ROOT, english_words, git

GOLDEN = ROOT / "tests" / "golden"


class FakeGrade:
    """Writes the golden report the submission names in its `verdict` file (complete,
    invalid-compose, listen-localhost; `incomplete` or `crash` to play a run that could not grade)."""

    def __init__(self) -> None:
        self.graded: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, root: Path, folder: Path, options: BatchOptions, on_phase: Callable[[str], None]) -> int:
        on_phase("Image builds")
        verdict = (root / "verdict").read_text().strip()
        with self.lock:
            self.graded.append(folder.name)
        if verdict == "crash":
            raise RuntimeError("the stand-in fell over")
        if verdict == "several-projects":  # `grader grade` refusing to choose a project folder: exit 2
            doc = to_dict(not_graded(root, "this repository holds several projects (`a/`, `b/`)"))
            (folder / "report.json").write_text(json.dumps(doc))
            return 2
        doc = json.loads((GOLDEN / f"{'complete' if verdict == 'incomplete' else verdict}.report.json").read_text())
        if verdict == "incomplete":
            doc |= {"status": "incomplete", "ungraded": {"points": 10, "checks": ["startup.up"]}}
        (folder / "report.json").write_text(json.dumps(doc))
        return 0


def _class(folder: Path, verdicts: dict[str, str]) -> Path:
    for student, verdict in verdicts.items():
        (folder / student).mkdir(parents=True, exist_ok=True)
        (folder / student / "verdict").write_text(verdict)
    return folder


def _gradebook(out: Path) -> list[dict[str, str]]:
    """gradebook.csv without the columns that differ between two runs of the same work."""
    rows = list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text())))
    return [{k: v for k, v in r.items() if k not in ("duration_s", "graded_at")} for r in rows]


CLASS = {"ana": "complete", "bea": "invalid-compose", "ciro": "listen-localhost", "dani": "complete", "eva": "complete"}


def test_a_class_from_a_folder_gets_a_report_each_and_a_gradebook(tmp_path: Path) -> None:
    source, out, fake = _class(tmp_path / "class", CLASS), tmp_path / "out", FakeGrade()
    summary = run(entries([source]), BatchOptions(out, jobs=2), fake)
    assert sorted(fake.graded) == sorted(CLASS)
    assert [(r["student"], r["score"], r["status"]) for r in _gradebook(out)] == [
        ("ana", "100", "graded"),
        ("bea", "17", "graded"),
        ("ciro", "85", "graded"),
        ("dani", "100", "graded"),
        ("eva", "100", "graded"),
    ]
    meta = json.loads((out / "ana" / "batch.json").read_text())
    assert meta["source"] == str(source / "ana") and meta["content_hash"].startswith("sha256:")
    assert summary.html == out / "gradebook.html" and "ana" in summary.table()


def test_resume_regrades_only_what_changed_and_what_did_not_finish(tmp_path: Path) -> None:
    source = _class(tmp_path / "class", CLASS | {"fede": "incomplete"})
    out = tmp_path / "out"
    run(entries([source]), BatchOptions(out), FakeGrade())
    before = _gradebook(out)

    again = FakeGrade()
    run(entries([source]), BatchOptions(out, resume=True), again)
    assert again.graded == ["fede"]  # an incomplete run is retried; the rest is unchanged
    assert _gradebook(out) == before

    (source / "bea" / "verdict").write_text("complete")  # bea pushed a fix
    third = FakeGrade()
    run(entries([source]), BatchOptions(out, resume=True), third)
    assert sorted(third.graded) == ["bea", "fede"]
    assert {r["student"]: r["score"] for r in _gradebook(out)}["bea"] == "100"

    rubric = tmp_path / "grader.yml"
    rubric.write_text("lang: es\n")  # another rubric: every report is stale
    fourth = FakeGrade()
    run(entries([source]), BatchOptions(out, resume=True, rubric=rubric), fourth)
    assert sorted(fourth.graded) == sorted(CLASS | {"fede": ""})


def test_only_regrades_the_named_students_and_keeps_the_rest_of_the_gradebook(tmp_path: Path) -> None:
    source, out = _class(tmp_path / "class", CLASS), tmp_path / "out"
    run(entries([source]), BatchOptions(out), FakeGrade())
    again = FakeGrade()
    run(entries([source]), BatchOptions(out, resume=True, only=frozenset({"bea"})), again)
    assert again.graded == ["bea"]  # named: regraded although unchanged
    assert len(_gradebook(out)) == len(CLASS)
    with pytest.raises(BadInput, match="no such student in the sources: zoe"):
        run(entries([source]), BatchOptions(out, only=frozenset({"zoe"})), FakeGrade())


def test_two_shards_merged_equal_one_run(tmp_path: Path) -> None:
    source = _class(tmp_path / "class", CLASS)
    run(entries([source]), BatchOptions(tmp_path / "all"), FakeGrade())
    for i in (1, 2):
        run(entries([source]), BatchOptions(tmp_path / f"shard{i}", shard=(i, 2)), FakeGrade())
    parts = [{r["student"] for r in _gradebook(tmp_path / f"shard{i}")} for i in (1, 2)]
    assert parts[0] and parts[1] and not parts[0] & parts[1]  # both did work, none twice
    merge([tmp_path / "shard1", tmp_path / "shard2"], tmp_path / "merged")
    assert _gradebook(tmp_path / "merged") == _gradebook(tmp_path / "all")
    assert (tmp_path / "merged" / "gradebook.html").is_file()


def test_a_student_in_two_shards_with_different_work_is_an_error(tmp_path: Path) -> None:
    run(entries([_class(tmp_path / "a", {"ana": "complete"})]), BatchOptions(tmp_path / "one"), FakeGrade())
    run(entries([_class(tmp_path / "b", {"ana": "listen-localhost"})]), BatchOptions(tmp_path / "two"), FakeGrade())
    with pytest.raises(BadInput, match="ana is in two outputs with different work"):
        merge([tmp_path / "one", tmp_path / "two"], tmp_path / "merged")


def test_one_student_s_failure_never_stops_the_others(tmp_path: Path) -> None:
    source = _class(tmp_path / "class", {"ana": "complete", "bea": "crash", "ciro": "complete"})
    (source / "dani.zip").write_bytes(b"not a zip")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo\neva,\nfede,/no/such/repository\n")
    out = tmp_path / "out"
    run(entries([source, roster]), BatchOptions(out, jobs=2), FakeGrade())
    rows = {r["student"]: r for r in _gradebook(out)}
    assert [rows[s]["status"] for s in ("ana", "bea", "ciro", "dani", "eva", "fede")] == [
        "graded",
        "error",
        "graded",
        "error",
        "error",
        "error",
    ]
    reasons = {s: json.loads((out / s / "report.json").read_text())["error"] for s in ("bea", "dani", "eva", "fede")}
    assert "the batch crashed on this student (RuntimeError: the stand-in fell over)" in reasons["bea"]
    assert "not a readable archive" in reasons["dani"]
    assert "no repository" in reasons["eva"]
    assert "no such repository" in reasons["fede"]


def test_a_failed_fetch_is_told_in_the_class_s_language(tmp_path: Path) -> None:
    """`--lang es`: the student whose work could not be had reads why in Spanish, in JSON and Markdown."""
    source = _class(tmp_path / "class", {"ana": "crash"})
    (source / "dani.zip").write_bytes(b"not a zip")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo\neva,\nfede,/no/such/repository\ngabi,ftp://127.0.0.1/ana.git\n")
    out = tmp_path / "out"
    run(entries([source, roster]), BatchOptions(out, jobs=2, lang="es"), FakeGrade())
    reasons = {s: json.loads((out / s / "report.json").read_text()) for s in ("ana", "dani", "eva", "fede", "gabi")}
    assert {doc["lang"] for doc in reasons.values()} == {"es"}
    assert "el lote falló con este estudiante (RuntimeError" in reasons["ana"]["error"]
    assert "no se pudo obtener la entrega" in reasons["dani"]["error"]
    assert "no es un archivo comprimido legible" in reasons["dani"]["error"]  # said by the extracting child
    assert "la lista no indica ningún repositorio" in reasons["eva"]["error"]
    assert "no existe ese repositorio en esta máquina" in reasons["fede"]["error"]
    assert "no está permitido" in reasons["gabi"]["error"]
    assert "no se pudo obtener la entrega" in (out / "fede" / "report.md").read_text()


def test_a_roster_of_git_repositories_at_a_deadline(tmp_path: Path) -> None:
    """Each repository graded at its last commit before the deadline; one with none says so."""
    repos = {}
    for student, history in {"ana": ["listen-localhost", "complete"], "bea": ["complete"]}.items():
        repo = tmp_path / "repos" / student
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        for verdict, when in zip(history, ["2026-12-01T10:00:00Z", "2026-12-03T10:00:00Z"], strict=False):
            if student == "bea":
                when = "2026-12-05T10:00:00Z"  # only after the deadline
            (repo / "verdict").write_text(verdict)
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", verdict, when=when)
        repos[student] = repo
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo\nana,repos/ana\nbea,repos/bea\n")
    out = tmp_path / "out"
    from datetime import datetime

    run(entries([roster]), BatchOptions(out, deadline=datetime.fromisoformat("2026-12-02T00:00:00+00:00")), FakeGrade())
    rows = {r["student"]: r for r in _gradebook(out)}
    assert rows["ana"]["score"] == "85"  # listen-localhost, the commit before the deadline
    assert rows["ana"]["commit"] == git(repos["ana"], "rev-parse", "HEAD~1")
    assert rows["bea"]["status"] == "error"
    assert "no commit at or before the deadline" in json.loads((out / "bea" / "report.json").read_text())["error"]


def test_default_jobs_follow_the_machine() -> None:
    assert batch.default_jobs() >= 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream", [pytest.param(io.StringIO, id="ci-log"), pytest.param(_Terminal, id="terminal")])
def test_progress_says_who_is_done_how_many_are_left_and_how_long(tmp_path: Path, stream: type[io.StringIO]) -> None:
    progress = stream()
    run(entries([_class(tmp_path / "class", CLASS)]), BatchOptions(tmp_path / "out"), FakeGrade(), progress=progress)
    text = progress.getvalue()
    # Two run at once (--jobs defaults to the cores): who finishes first is not fixed, the counts are.
    done = dict((name, n) for n, name in re.findall(r"\[(\d)/5\] (\w+): ", text))
    assert sorted(done.values()) == ["1", "2", "3", "4", "5"] and sorted(done) == sorted(CLASS)
    assert re.search(r"\[\d/5\] ana: graded 100/100", text) and re.search(r"\[\d/5\] eva: graded 100/100", text)
    assert "s left" in text  # the time left, from the students done so far
    assert ("\x1b[" in text) is (stream is _Terminal)  # live (rich) on a terminal only


def test_credentials_in_a_repository_url_are_never_recorded(tmp_path: Path) -> None:
    assert batch.public("fatal: https://x-access-token:s3cr3t@github.com/c/r.git not found") == (
        "fatal: https://github.com/c/r.git not found"
    )
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo\nana,https://x-access-token:s3cr3t@127.0.0.1:9/course/ana.git\n")  # refused at once
    out = tmp_path / "out"
    run(entries([roster]), BatchOptions(out), FakeGrade())
    written = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "s3cr3t" not in written and "https://127.0.0.1:9/course/ana.git" in written


def test_merge_takes_a_graded_report_over_an_unfinished_one_and_refuses_mixed_settings(tmp_path: Path) -> None:
    source = _class(tmp_path / "class", {"ana": "incomplete"})
    run(entries([source]), BatchOptions(tmp_path / "shard"), FakeGrade())
    merge([tmp_path / "shard"], tmp_path / "merged")
    (source / "ana" / "verdict").write_text("complete")  # the same work, graded again on a retry
    (tmp_path / "shard" / "ana" / "report.json").write_text((GOLDEN / "complete.report.json").read_text())
    (tmp_path / "merged" / "stray").mkdir()
    (tmp_path / "merged" / "stray" / "report.json").write_text("{}")  # not a batch's: no batch.json
    merge([tmp_path / "shard"], tmp_path / "merged")
    assert [(r["student"], r["status"]) for r in _gradebook(tmp_path / "merged")] == [("ana", "graded")]
    spanish = BatchOptions(tmp_path / "other", lang="es")
    run(entries([_class(tmp_path / "es", {"bea": "complete"})]), spanish, FakeGrade())
    with pytest.raises(BadInput, match="graded with other settings"):
        merge([tmp_path / "shard", tmp_path / "other"], tmp_path / "mixed")


def test_the_output_folder_and_the_batch_s_own_names_are_no_students(tmp_path: Path) -> None:
    source = _class(tmp_path / "class", {"ana": "complete", "gradebook.csv": "complete"})
    out = source / "grades"  # inside the source folder
    run(entries([source]), BatchOptions(out), FakeGrade())
    run(entries([source]), BatchOptions(out, resume=True), FakeGrade())
    rows = _gradebook(out)
    assert [r["student"] for r in rows] == ["ana", "gradebook.csv"]  # not `grades`
    assert (out / "gradebook.csv").is_file()  # the file, not a student's folder


def test_each_run_gets_absolute_paths_because_it_starts_in_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`grader batch downloads --out grades --rubric grader.yml`, relative to the TA's folder."""
    started: list[tuple[list[str], str]] = []
    monkeypatch.setattr(batch.CHILDREN, "start", lambda cmd, env, cwd: started.append((cmd, cwd)))
    monkeypatch.chdir(tmp_path)
    Path("grader.yml").write_text("lang: es\n")
    Path("grades/ana").mkdir(parents=True)
    options = BatchOptions(Path("grades"), rubric=Path("grader.yml"))
    assert batch.grade_in_process(Path("downloads/ana"), Path("grades/ana"), options, lambda phase: None) == -1
    ((cmd, cwd),) = started
    paths = [cmd[cmd.index("grade") + 1]] + [cmd[cmd.index(flag) + 1] for flag in ("--json", "--markdown", "--rubric")]
    assert all(Path(p).is_absolute() for p in paths) and Path(cwd).is_absolute()
    assert "-P" in cmd  # the folder it starts in is not on sys.path


def test_what_is_worth_running_again(tmp_path: Path) -> None:
    """--resume and the exit code: the machine's or the grader's trouble, not the student's."""
    verdicts = {"ana": "complete", "bea": "incomplete", "ciro": "crash", "eva": "several-projects"}
    source = _class(tmp_path / "class", verdicts)
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo\ndani,\n")  # never accepted the assignment
    summary = run(entries([source, roster]), BatchOptions(tmp_path / "out"), FakeGrade())
    assert {o.entry.student: (o.fault, o.retry) for o in summary.outcomes} == {
        "ana": ("", False),
        "bea": ("", True),  # incomplete
        "ciro": ("grader", True),
        "dani": ("fetch", False),  # a re-run cannot give a repository that is not there
        "eva": ("input", False),  # nor choose its project folder: the roster's `path` does
    }


def test_a_folder_of_links_is_refused_and_an_empty_class_never_empties_a_gradebook(tmp_path: Path) -> None:
    repos = _class(tmp_path / "repos", {"ana": "complete", "bea": "invalid-compose"})
    out = tmp_path / "out"
    run(entries([repos]), BatchOptions(out), FakeGrade())
    assert sorted(r["student"] for r in _gradebook(out)) == ["ana", "bea"]
    written = (out / "gradebook.csv").read_text()
    links = tmp_path / "links"
    links.mkdir()
    for student in ("ana", "bea"):
        (links / student).symlink_to(repos / student)
    (links / "mallory").symlink_to("/etc")  # what an unzipped class download can bring
    with pytest.raises(BadInput, match=r"ana, bea, mallory: links to folders are not followed"):
        entries([links])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInput, match="no student in the sources"):
        run(entries([empty]), BatchOptions(out), FakeGrade())
    assert (out / "gradebook.csv").read_text() == written


def test_the_gradebook_is_rebuilt_from_every_report_in_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(entries([_class(tmp_path / "a", {"ana": "complete", "bea": "complete"})]), BatchOptions(out), FakeGrade())
    run(entries([_class(tmp_path / "b", {"ciro": "invalid-compose"})]), BatchOptions(out), FakeGrade())
    assert sorted(r["student"] for r in _gradebook(out)) == ["ana", "bea", "ciro"]


def test_grades_from_two_rubrics_are_flagged_everywhere(tmp_path: Path) -> None:
    """A rubric changed, then `--only` regraded one student: the CSV says which rubric each row
    was graded with, and the page and the summary say the grades do not compare."""
    source, out = _class(tmp_path / "class", {"ana": "complete", "bea": "complete"}), tmp_path / "out"
    first, second = tmp_path / "first.yml", tmp_path / "second.yml"
    first.write_text("lang: en\n")
    second.write_text("lang: es\n")
    summary = run(entries([source]), BatchOptions(out, rubric=first), FakeGrade())
    assert "different rubrics" not in summary.table()
    summary = run(entries([source]), BatchOptions(out, rubric=second, only=frozenset({"bea"})), FakeGrade())
    rubrics = {r["student"]: r["rubric"] for r in _gradebook(out)}
    assert rubrics["ana"] != rubrics["bea"] and all(len(v) == 12 for v in rubrics.values())
    assert "warning: Graded with 2 different rubrics" in summary.table()  # the summary speaks the CLI's English
    page = (out / "gradebook.html").read_text()  # in the language of the last batch's rubric (lang: es)
    assert '<html lang="es">' in page and "Calificado con 2 rúbricas distintas" in page


def test_a_spanish_error_report_holds_no_english_sentence(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repo\neva,\nfede,/no/such/repository\n")
    out = tmp_path / "out"
    run(entries([roster]), BatchOptions(out, jobs=1, lang="es"), FakeGrade())
    for student in ("eva", "fede"):
        markdown = (out / student / "report.md").read_text()
        assert english_words(markdown.replace(str(tmp_path), "")) == [], markdown
