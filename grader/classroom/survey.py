"""`grader rubric check RUBRIC --against SOURCE...`: before a class is graded, the grading values
each repository expects from files it keeps out of git (grader.intake.values), and which of them the
rubric does not supply. Static: nothing is built or started, no engine is asked for."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from grader.classroom.fetch import FetchError, fetch
from grader.classroom.roster import Entry
from grader.errors import BadInput
from grader.intake import locate, values
from grader.intake.helpers import named
from grader.intake.project import find_compose_files
from grader.intake.rubric import Rubric


class Needs(NamedTuple):
    """One student's repository: what it expects, what nothing would supply, or why it was not read."""

    student: str
    project_dir: str = locate.ROOT
    expected: tuple[values.Expected, ...] = ()
    missing: tuple[values.Expected, ...] = ()
    problem: str = ""  # could not be read: fetch failed, no project, several projects
    # the rubric's host values that name no service of this repository: (variable, value, services)
    strangers: tuple[tuple[str, str, str], ...] = ()


_URL_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^:/?#]+)", re.IGNORECASE)


def _host(variable: str, value: str) -> str | None:
    """The host a grading value names: `DB_HOST=db`, `DATABASE_URL=postgres://u:p@db:5432/x`."""
    match = _URL_HOST.match(value)
    if match:
        return match.group(1)
    if variable.upper().endswith("HOST") and value and "/" not in value:
        return value
    return None


def _strangers(
    rubric: Rubric, expected: Sequence[values.Expected], services: dict[str, Any]
) -> tuple[tuple[str, str, str], ...]:
    """The rubric's hosts this repository reads that name none of its services: one value for a
    class, where one student calls the database `db` and another `postgresdb`."""
    names = set(services)
    for service in services.values():
        names |= {str(service.get(k)) for k in ("hostname", "container_name") if service.get(k)}
        networks = service.get("networks")
        for config in networks.values() if isinstance(networks, dict) else ():
            names |= {str(a) for a in (config or {}).get("aliases") or [] if isinstance(config, dict)}
    read = {e.variable for e in expected}
    found = []
    for variable, value in sorted(rubric.environment.items()):
        host = _host(variable, value)
        if variable in read and host and host not in names and host not in ("localhost", "127.0.0.1"):
            found.append((variable, value if "@" not in value else host, ", ".join(sorted(services))))
    return tuple(found)


def _literal_environment(services: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Per service, the `environment:` keys the compose file writes with a value of its own (no
    `${...}`): they win over any env file, so the rubric need not give them."""
    return {
        name: {k for k, v in values.written_environment(service).items() if v and "$" not in v}
        for name, service in services.items()
    }


def needs(root: Path, rubric: Rubric, project: str = "") -> Needs:
    """What the repository at `root` expects and the rubric leaves missing."""
    located = locate.given(root, project) if project else locate.locate(root, rubric.project)
    folder = root / located.path if located.below else root
    files = find_compose_files(folder)
    if not files:
        return Needs(root.name, located.path, problem="no compose file")
    if not values.regular(files[0]) or files[0].stat().st_size > values.MAX_COMPOSE_SCAN:
        # the grader never reads a link (it may lead outside) nor a file past the screen's size
        return Needs(root.name, located.path, problem=f"{files[0].name} is a link or too large; `grader lint` says why")
    text = files[0].read_text(errors="replace")
    missing_files = values.absent(folder, text)
    services = values.services(text)
    helpers_named = named(services, rubric.helpers)  # never started: they need nothing
    expected = [e for e in values.expected(folder, text, missing_files) if e.service not in helpers_named]
    literal = _literal_environment(services)
    supplied = {k for k, v in rubric.environment.items() if v}
    stand_ins = not rubric.environment and rubric.env_examples
    missing = []
    for e in expected:
        if e.variable in supplied or (not e.interpolated and e.variable in literal.get(e.service, set())):
            continue
        if stand_ins and (values.example_values(folder, e.source).get(e.variable) or ""):
            continue  # the student's example stands in (grader.intake.environment.stand_in_examples)
        missing.append(e)
    strangers = _strangers(rubric, expected, {n: s for n, s in services.items() if n not in helpers_named})
    return Needs(root.name, located.path, tuple(expected), tuple(missing), strangers=strangers)


def survey(
    entries: Sequence[Entry], rubric: Rubric, on_student: Callable[[Entry], None] = lambda entry: None
) -> list[Needs]:
    """`needs` for every student of a class, fetched as `grader batch` fetches them."""
    found: list[Needs] = []
    for entry in entries:
        on_student(entry)
        with tempfile.TemporaryDirectory(prefix="grader-survey-", ignore_cleanup_errors=True) as tmp:
            try:
                fetched = fetch(entry, Path(tmp))
                found.append(needs(fetched.root, rubric, entry.path)._replace(student=entry.student))
            except (FetchError, BadInput, OSError) as exc:  # one student's work never stops the class
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                found.append(Needs(entry.student, problem=first))
    return found


def _listed(items: Sequence[values.Expected]) -> str:
    """`DB_PORT (read by api, migrate from .env.development, not in git)`, once per variable."""
    by_variable: dict[str, list[values.Expected]] = {}
    for item in items:
        by_variable.setdefault(item.variable, []).append(item)
    parts = []
    for variable, found in by_variable.items():
        services = ", ".join(dict.fromkeys(i.service for i in found))
        sources = ", ".join(dict.fromkeys(i.source for i in found))
        parts.append(f"{variable} (read by {services} from {sources}, not in git)")
    return "; ".join(parts)


def render(found: Sequence[Needs], rubric: Rubric, rubric_name: str) -> str:
    """Per student, then for the class: plain lines a TA reads in a terminal."""
    lines: list[str] = []
    width = max((len(n.student) for n in found), default=0)
    for n in found:
        where = f" ({n.project_dir}/)" if n.project_dir != locate.ROOT else ""
        label = f"{n.student.ljust(width)}{where}"
        if n.problem:
            lines.append(f"{label}: not read: {n.problem}")
            continue
        if n.missing:
            lines.append(f"{label}: missing from the rubric: {_listed(n.missing)}")
        elif n.expected:
            lines.append(f"{label}: the rubric gives all {len({e.variable for e in n.expected})} values it expects")
        else:
            lines.append(f"{label}: expects no value from files it keeps out of git")
        for variable, value, services in n.strangers:
            lines.append(f"{' ' * width}  {variable}={value} names no service of this repository ({services})")
    read = [n for n in found if not n.problem]
    lines += [
        "",
        f"{len(read)} of {len(found)} repositories read"
        + (f", {len(found) - len(read)} not read" if len(read) < len(found) else ""),
    ]
    if rubric.environment:
        lines.append(
            f"{rubric_name} gives `environment:`, so no student's `.env.example` stands in: the rubric's values are "
            "used alone, and must hold every key"
        )
    students: dict[str, list[str]] = {}
    for n in read:
        for variable in dict.fromkeys(e.variable for e in n.missing):
            students.setdefault(variable, []).append(n.student)
    if students:
        lines.append(f"values {rubric_name} does not give (add them under `environment: variables:`):")
        for variable, who in sorted(students.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            names = ", ".join(who[:8]) + (f" and {len(who) - 8} more" if len(who) > 8 else "")
            lines.append(f"  {variable}: {len(who)} of {len(read)} ({names})")
    elif read:
        lines.append(f"{rubric_name} gives every value the {len(read)} repositories read expect")
    if any(n.strangers for n in read):
        lines.append("a host the rubric gives names no service in some repositories: one value cannot fit them all")
    return "\n".join(lines) + "\n"


def complete(found: Sequence[Needs]) -> bool:
    """Every repository read, nothing missing, every host named: `rubric check --against` exits 0."""
    return bool(found) and not any(n.problem or n.missing or n.strangers for n in found)
