"""grader.service.assignments: which assignment and student a push is for, and whether it came
late; a wrong service.yml is refused naming the key and the line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.errors import BadInput
from grader.service.assignments import Assignment, Routed, parse, repository_of, route
from grader.service.github import Push

SHA = "0123456789abcdef0123456789abcdef01234567"
AR = timezone(timedelta(hours=-3))
SERVICE = """\
assignments:
  - name: docker-m4
    classroom: {organization: curso-docker, prefix: modulo-4-docker}
    lang: es
    deadline: 2026-12-10T23:59:00-03:00
    extensions: {ana: 2026-12-12T23:59:00-03:00}
  - name: docker-m4-roster
    roster: roster.csv
    branch: entrega
"""


def _push(repository: str, branch: str = "main") -> Push:
    return Push("d", repository, "", branch, SHA, "someone")


@pytest.fixture
def assignments(tmp_path: Path) -> tuple[Assignment, ...]:
    (tmp_path / "roster.csv").write_text(
        "student,repo\nbeto,https://github.com/escuela/docker-beto.git\ncarla,git@github.com:Escuela/Docker-Carla.git\n"
        "dani,/srv/repos/dani\n"
    )
    return parse(SERVICE, base=tmp_path)


def test_a_classroom_repository_is_its_student_s_and_the_deadline_is_theirs(
    assignments: tuple[Assignment, ...],
) -> None:
    on_time = datetime(2026, 12, 10, 23, 0, tzinfo=AR)
    after = datetime(2026, 12, 11, 10, 0, tzinfo=AR)
    routed = route(_push("Curso-Docker/modulo-4-docker-beto"), assignments, on_time).gradings
    assert [(r.assignment.name, r.student, r.late) for r in routed] == [("docker-m4", "beto", False)]
    assert [r.late for r in route(_push("curso-docker/modulo-4-docker-beto"), assignments, after).gradings] == [True]
    extended = route(_push("curso-docker/modulo-4-docker-ana"), assignments, after).gradings
    assert [r.late for r in extended] == [False]


def test_a_roster_names_the_student_of_each_github_repository(assignments: tuple[Assignment, ...]) -> None:
    when = datetime(2026, 12, 1, tzinfo=timezone.utc)
    result = route(_push("escuela/docker-carla", "entrega"), assignments, when)
    assert result.ignored == "" and result.gradings == (Routed(result.gradings[0].assignment, "carla", False),)
    assert result.gradings[0].assignment.name == "docker-m4-roster"  # no deadline: never late


@pytest.mark.parametrize(
    ("push", "reason"),
    [
        pytest.param(_push("escuela/docker-beto", "main"), "branch main is not graded (entrega is)", id="branch"),
        pytest.param(_push("curso-docker/modulo-4-docker-"), "no assignment's repository", id="prefix-alone"),
        pytest.param(_push("otra-org/modulo-4-docker-ana"), "no assignment's repository", id="other-org"),
        pytest.param(_push("escuela/docker-dani", "entrega"), "no assignment's repository", id="local-roster-row"),
    ],
)
def test_a_push_for_nothing_graded_says_why(assignments: tuple[Assignment, ...], push: Push, reason: str) -> None:
    result = route(push, assignments, datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert result.gradings == () and reason in result.ignored


@pytest.mark.parametrize(
    ("url", "repository"),
    [
        ("https://github.com/Escuela/docker-ana.git", "escuela/docker-ana"),
        ("https://github.com/escuela/docker-ana", "escuela/docker-ana"),
        ("git@github.com:escuela/docker-ana.git", "escuela/docker-ana"),
        ("https://gitlab.example/escuela/docker-ana.git", None),
        ("/srv/repos/ana", None),
    ],
)
def test_a_roster_url_as_a_repository_name(url: str, repository: str | None) -> None:
    assert repository_of(url) == repository


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("assignments: []\n", "expected `assignments:`", id="none"),
        pytest.param(
            "assignments:\n  - name: a\n    classroom: {organization: o, prefix: p}\n    brnach: main\n",
            "line 4: assignments[0].brnach: unknown key",
            id="misspelled-key",
        ),
        pytest.param("assignments:\n  - name: a\n", "either `classroom:` or `roster:`", id="no-source"),
        pytest.param(
            "assignments:\n  - name: a\n    classroom: {organization: o, prefix: p}\n    deadline: 2026-12-10 23:59\n",
            "line 4: assignments[0].deadline",
            id="deadline-without-offset",
        ),
        pytest.param(
            "assignments:\n  - name: a b\n    classroom: {organization: o, prefix: p}\n",
            "assignments[0].name",
            id="name-with-a-space",
        ),
        pytest.param(
            "assignments:\n  - {name: a, classroom: {organization: o, prefix: p}}\n"
            "  - {name: a, classroom: {organization: o, prefix: q}}\n",
            "two assignments are named 'a'",
            id="same-name",
        ),
        pytest.param(
            "assignments:\n  - name: a\n    classroom: {organization: o, prefix: p}\n    rubric: missing.yml\n",
            "no such file",
            id="rubric-missing",
        ),
    ],
)
def test_a_wrong_service_file_names_the_key_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        parse(text, base=tmp_path)


def test_grader_migrate_needs_a_postgresql_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from grader.cli import main

    monkeypatch.delenv("GRADER_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 2
    assert "GRADER_DATABASE_URL" in capsys.readouterr().err
    assert main(["migrate", "--database", "mysql://x"]) == 2
    monkeypatch.setenv("GRADER_DATABASE_URL", "postgresql://grader@127.0.0.1:1/none")
    assert main(["migrate"]) == 3  # nothing listens there: the machine's fault, not bad input
    assert "cannot reach the database" in capsys.readouterr().err


def test_overlapping_classroom_prefixes_are_refused() -> None:
    """`m4` and `m4-db` in one organization: m4-db-ana would also be m4's student `db-ana`."""
    text = (
        "assignments:\n"
        "  - {name: a, classroom: {organization: curso, prefix: m4}}\n"
        "  - {name: b, classroom: {organization: Curso, prefix: m4-db}}\n"
    )
    with pytest.raises(BadInput, match="overlap"):
        parse(text)
    same = text.replace("prefix: m4-db", "prefix: m4")  # one repository graded by two assignments
    assert len(parse(same)) == 2
    other_org = text.replace("organization: Curso", "organization: otro")
    assert len(parse(other_org)) == 2


def test_a_student_is_one_however_github_spells_them() -> None:
    (assignment,) = parse(
        "assignments:\n"
        "  - name: m4\n"
        "    classroom: {organization: curso, prefix: m4}\n"
        "    deadline: 2026-12-10T23:59:00-03:00\n"
        "    extensions: {Ana: 2026-12-12T23:59:00-03:00}\n"
    )
    assert assignment.student("curso/m4-ANA") == assignment.student("Curso/M4-ana") == "ana"
    late = datetime(2026, 12, 11, 12, 0, tzinfo=timezone.utc)
    assert not assignment.late("ana", late)  # the extension holds, whatever its key's case


@pytest.mark.parametrize(
    ("line", "why"),
    [
        pytest.param("extensions: {007: 2026-12-12T23:59:00-03:00}", "as a string", id="number-key"),
        pytest.param("extensions: {yes: 2026-12-12T23:59:00-03:00}", "as a string", id="boolean-key"),
        pytest.param("fail_under: sixty", "a number of points", id="fail-under-text"),
        pytest.param("fail_under: true", "a number of points", id="fail-under-boolean"),
    ],
)
def test_values_yaml_would_misread_are_refused(line: str, why: str) -> None:
    with pytest.raises(BadInput, match=why):
        parse(f"assignments:\n  - name: m4\n    classroom: {{organization: c, prefix: m4}}\n    {line}\n")


def test_fail_under_is_read() -> None:
    (a,) = parse("assignments:\n  - name: m4\n    classroom: {organization: c, prefix: m4}\n    fail_under: 60\n")
    assert a.fail_under == 60
