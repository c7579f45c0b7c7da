"""The assignments a grading service grades (`service.yml`), and which of them a push belongs to.

    assignments:
      - name: docker-m4
        classroom: {organization: curso-docker, prefix: modulo-4-docker}   # org/prefix-<username>
        # or: roster: roster.csv      (the roster `grader batch` reads: student,repo[,ref][,path])
        branch: main                  # the branch graded (default main)
        rubric: grader.yml            # relative to service.yml
        lang: es
        deadline: 2026-12-10T23:59:00-03:00
        extensions: {ana: 2026-12-12T23:59:00-03:00}
        fail_under: 60                # the commit's status fails below this score (default: none)

A push to a repository of an assignment, on its branch, is graded; one after the student's
deadline (the assignment's, or their extension) is graded and flagged late. The time that counts
is when the service received the push, never the commit's date (a student sets that).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from grader.classroom import roster
from grader.errors import BadInput
from grader.intake.project import yaml_line
from grader.intake.rubric import load_yaml
from grader.messages import LANGUAGES
from grader.service.github import Push

KEYS = ("name", "classroom", "roster", "branch", "rubric", "lang", "deadline", "extensions", "fail_under")
_GITHUB = re.compile(
    r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([^/\s]+/[^/\s]+?)(?:\.git)?/?$"
)


@dataclass(frozen=True)
class Assignment:
    name: str
    branch: str = "main"
    rubric: Path | None = None
    lang: str | None = None
    deadline: datetime | None = None
    extensions: Mapping[str, datetime] = field(default_factory=dict)
    organization: str = ""  # GitHub Classroom: the organization and the repositories' prefix
    prefix: str = ""
    students: Mapping[str, str] = field(default_factory=dict)  # a roster: owner/name (lower case) -> student
    fail_under: float | None = None

    def student(self, repository: str) -> str | None:
        """The student whose repository `owner/name` is, or None when it is not this assignment's."""
        if self.prefix:
            owner, _, name = repository.partition("/")
            start = f"{self.prefix}-".lower()
            if owner.lower() == self.organization.lower() and name.lower().startswith(start) and len(name) > len(start):
                return name[len(start) :].lower()  # GitHub's names ignore case: one student, however spelt
            return None
        return self.students.get(repository.lower())

    def deadline_of(self, student: str) -> datetime | None:
        # GitHub's user names are case-insensitive: Ana's repository may be modulo-4-docker-ANA.
        return self.extensions.get(student.lower(), self.deadline)

    def late(self, student: str, received: datetime) -> bool:
        deadline = self.deadline_of(student)
        return deadline is not None and received > deadline


class Routed(NamedTuple):
    """A push to grade: for which assignment and student, and whether it came after the deadline."""

    assignment: Assignment
    student: str
    late: bool


class Routing(NamedTuple):
    """What a push asks for: the gradings (one per assignment the repository belongs to), or,
    when there is none, why (`ignored`, recorded with the delivery)."""

    gradings: tuple[Routed, ...] = ()
    ignored: str = ""


def route(push: Push, assignments: Sequence[Assignment], received: datetime) -> Routing:
    """The gradings a push asks for, late or not by when the service `received` it."""
    mine = [(a, s) for a in assignments if (s := a.student(push.repository)) is not None]
    if not mine:
        return Routing(ignored=f"{push.repository} is no assignment's repository")
    graded = [(a, s) for a, s in mine if a.branch == push.branch]
    if not graded:
        branches = ", ".join(sorted({a.branch for a, _ in mine}))
        return Routing(ignored=f"branch {push.branch} is not graded ({branches} is)")
    return Routing(tuple(Routed(a, s, a.late(s, received)) for a, s in graded))


def repository_of(url: str) -> str | None:
    """`owner/name` of a GitHub repository URL as a roster writes it, lower case; None otherwise."""
    match = _GITHUB.match(url.strip())
    return match.group(1).lower() if match else None


def parse(text: str, name: str = "service.yml", base: Path | None = None) -> tuple[Assignment, ...]:
    """The assignments of a service.yml; BadInput naming the file, line and key when it is wrong."""
    data = load_yaml(text, name)
    items = data.get("assignments") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise BadInput(f"{name}: expected `assignments:`, a list of assignments")
    found: list[Assignment] = []
    for index, item in enumerate(items):

        def wrong(key: str, why: str, index: int = index) -> BadInput:
            line = yaml_line(text, "assignments", index, key) if key else yaml_line(text, "assignments", index)
            return BadInput(f"{name}{f' line {line}' if line else ''}: assignments[{index}].{key}: {why}")

        if not isinstance(item, dict):
            raise wrong("", "expected a mapping (name, classroom or roster, branch, ...)")
        unknown = sorted(str(k) for k in item if k not in KEYS)
        if unknown:
            raise wrong(unknown[0], f"unknown key (the keys: {', '.join(KEYS)})")
        found.append(_assignment(item, base or Path("."), wrong))
    _no_overlap(found, name)
    names = [a.name for a in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInput(f"{name}: two assignments are named {twice[0]!r}")
    return tuple(found)


def _no_overlap(found: Sequence[Assignment], name: str) -> None:
    """Two Classroom prefixes of one organization where one starts the other (`m4` and `m4-db`)
    would read modulo `m4-db-ana` as student `db-ana` of `m4`: another GitHub user's name, graded
    in their place. The same prefix twice (one repository, two assignments) is fine."""
    for a in found:
        for b in found:
            same = a.organization.lower() == b.organization.lower()
            if a.prefix and b.prefix and same and b.prefix.lower().startswith(f"{a.prefix}-".lower()):
                raise BadInput(
                    f"{name}: the prefixes {a.prefix!r} ({a.name}) and {b.prefix!r} ({b.name}) overlap: "
                    f"{b.prefix}-USER would also be {a.prefix}'s student {b.prefix[len(a.prefix) + 1 :]}-USER"
                )


def load(path: Path) -> tuple[Assignment, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the service's assignments ({exc})") from exc
    return parse(text, path.name, path.parent)


def _assignment(item: dict[str, Any], base: Path, wrong: Any) -> Assignment:
    name = item.get("name")
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", name):
        raise wrong("name", "a name of letters, digits, `-`, `_` or `.` (it goes in URLs)")
    branch = item.get("branch", "main")
    if not isinstance(branch, str) or not branch or branch.startswith("refs/"):
        raise wrong("branch", "a branch name, such as main")
    lang = item.get("lang")
    if lang is not None and lang not in LANGUAGES:
        raise wrong("lang", f"one of {', '.join(LANGUAGES)}")
    rubric = None
    if item.get("rubric") is not None:
        rubric = base / str(item["rubric"])
        if not rubric.is_file():
            raise wrong("rubric", f"{rubric}: no such file")
    deadline = _when(item.get("deadline"), wrong, "deadline")
    extensions = item.get("extensions") or {}
    if not isinstance(extensions, dict):
        raise wrong("extensions", "a mapping of student: deadline")
    if not all(isinstance(student, str) for student in extensions):
        # YAML reads `yes:` as True and `007:` as 7: never a student's name as written
        raise wrong("extensions", "each student's name as a string (quote names YAML reads as numbers or yes/no)")
    late = {student.lower(): _moment(when, wrong, "extensions") for student, when in extensions.items()}
    fail_under = item.get("fail_under")
    if fail_under is not None and (isinstance(fail_under, bool) or not isinstance(fail_under, (int, float))):
        raise wrong("fail_under", "a number of points")
    classroom, listed = item.get("classroom"), item.get("roster")
    if (classroom is None) == (listed is None):
        raise wrong("classroom" if classroom is not None else "", "give either `classroom:` or `roster:`, one of them")
    if classroom is not None:
        if not isinstance(classroom, dict) or not all(
            isinstance(classroom.get(k), str) for k in ("organization", "prefix")
        ):
            raise wrong("classroom", "{organization: ..., prefix: ...}, GitHub Classroom's organization and prefix")
        return Assignment(
            name,
            branch,
            rubric,
            lang,
            deadline,
            late,
            str(classroom["organization"]),
            str(classroom["prefix"]),
            fail_under=fail_under,
        )
    students: dict[str, str] = {}
    for entry in roster.entries([base / str(listed)]):
        repository = repository_of(entry.location) if entry.kind is roster.Kind.GIT else None
        if repository is not None:
            students[repository] = entry.student
    return Assignment(name, branch, rubric, lang, deadline, late, students=students, fail_under=fail_under)


def _when(value: Any, wrong: Any, key: str) -> datetime | None:
    return None if value is None else _moment(value, wrong, key)


def _moment(value: Any, wrong: Any, key: str) -> datetime:
    when = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
    if when is None or when.tzinfo is None:
        raise wrong(key, f"{value!r}: a date and time with its offset, such as 2026-12-10T23:59:00-03:00")
    return when
