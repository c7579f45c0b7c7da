"""Who is in the class: folders, archives and rosters (plain and GitHub Classroom's export)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.classroom.roster import Entry, Kind, entries, in_shard, parse_shard, safe_name
from grader.errors import BadInput

CLASSROOM_HEADER = (
    "assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,"
    "student_repository_name,student_repository_url,submission_timestamp,points_awarded,points_available"
)


def test_a_folder_gives_its_subfolders_and_archives(tmp_path: Path) -> None:
    for name in ("bob", "alice", ".git"):
        (tmp_path / name).mkdir()
    (tmp_path / "carol.zip").write_bytes(b"")
    (tmp_path / "dave.tar.gz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a submission")
    assert [(e.key, e.kind) for e in entries([tmp_path])] == [
        ("alice", Kind.FOLDER),
        ("bob", Kind.FOLDER),
        ("carol", Kind.ARCHIVE),
        ("dave", Kind.ARCHIVE),
    ]


def test_a_plain_roster_with_relative_paths_refs_and_a_spreadsheet_bom(tmp_path: Path) -> None:
    roster = tmp_path / "class" / "roster.csv"
    roster.parent.mkdir()
    roster.write_text(
        "\ufeffStudent,Repo,Ref\n"
        "alice,https://example.invalid/alice/api.git,main\n"
        "bob,../repos/bob,\n"
        "carol,,\n"
        ",,\n",  # a blank row a spreadsheet leaves: ignored
        encoding="utf-8",
    )
    assert entries([roster]) == [
        Entry("alice", "alice", Kind.GIT, "https://example.invalid/alice/api.git", "main"),
        Entry("bob", "bob", Kind.GIT, str((tmp_path / "repos" / "bob").resolve()), ""),
        Entry("carol", "carol", Kind.MISSING, "", ""),
    ]


def test_github_classroom_s_export_as_it_is(tmp_path: Path) -> None:
    roster = tmp_path / "grades.csv"
    roster.write_text(
        CLASSROOM_HEADER + "\n"
        '"Docker M4","https://classroom.github.com/a/x","",ana-dev,"Ana Pérez","m4-ana-dev",'
        '"git@github.com:course/m4-ana-dev.git","2026-12-01 10:00:00 UTC","0","100"\n'
        '"Docker M4","https://classroom.github.com/a/x","",luis99,"","m4-luis99",'
        '"https://github.com/course/m4-luis99","","0","100"\n'
    )
    found = entries([roster])
    assert [(e.student, e.kind, e.location) for e in found] == [
        ("Ana Pérez", Kind.GIT, "git@github.com:course/m4-ana-dev.git"),  # the roster's identifier wins
        ("luis99", Kind.GIT, "https://github.com/course/m4-luis99"),  # else the login
    ]
    assert found[0].key.startswith("Ana_P")


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("name,email\nalice,a@x\n", "a repository column", id="no-repository-column"),
        pytest.param("repo\nhttps://x\n", "a student column", id="no-student-column"),
        pytest.param("", "empty", id="empty"),
        pytest.param("student,repo\nalice,https://a\nalice,https://b\n", "appears twice", id="a-student-twice"),
    ],
)
def test_a_roster_that_cannot_be_read_says_why(tmp_path: Path, text: str, message: str) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(text)
    with pytest.raises(BadInput, match=message):
        entries([roster])


def test_an_unknown_source_is_refused(tmp_path: Path) -> None:
    (tmp_path / "grades.xlsx").write_bytes(b"")
    with pytest.raises(BadInput, match="not a folder of submissions"):
        entries([tmp_path / "grades.xlsx"])


@pytest.mark.parametrize(
    "student, key",
    [
        pytest.param("alice", "alice", id="kept"),
        pytest.param("../../etc", "etc-", id="no-climbing"),
        pytest.param(".hidden", "hidden-", id="never-hidden"),
        pytest.param("", "student-", id="empty"),
    ],
)
def test_a_student_s_folder_name_is_safe(student: str, key: str) -> None:
    name = safe_name(student)
    assert name.startswith(key) and "/" not in name and not name.startswith(".")


def test_names_that_differ_only_in_what_was_replaced_get_two_folders() -> None:
    assert safe_name("josé") != safe_name("jos_") != safe_name("jos")


def test_shards_split_the_class_once_and_always_the_same_way() -> None:
    keys = [f"student{i}" for i in range(200)]
    parts = [{k for k in keys if in_shard(k, (i, 3))} for i in (1, 2, 3)]
    assert set().union(*parts) == set(keys)
    assert sum(len(p) for p in parts) == len(keys)  # disjoint
    assert all(40 < len(p) < 90 for p in parts)  # and not all in one
    assert parts[1] == {k for k in keys if in_shard(k, (2, 3))}


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_a_shard_is_i_of_n(text: str) -> None:
    with pytest.raises(BadInput):
        parse_shard(text)


def test_a_roster_may_say_where_the_project_is(tmp_path: Path) -> None:
    roster = tmp_path / "class.csv"
    roster.write_text(
        "student,repo,path\nana,https://x.invalid/ana.git,ecommerce-ana/\nbea,https://x.invalid/bea.git,\n"
    )
    found = {e.student: e.path for e in entries([roster])}
    assert found == {"ana": "ecommerce-ana", "bea": ""}
    roster.write_text("student,repo,path\nana,https://x.invalid/ana.git,../../etc\n")
    with pytest.raises(BadInput, match="inside the repository"):
        entries([roster])
