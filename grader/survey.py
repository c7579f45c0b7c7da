"""`grader rubric check RUBRIC --against SOURCE...`: before a class is graded, the grading values
each repository expects from files it keeps out of git (grader.values), and which of them the
rubric does not supply. Static: nothing is built or started, no engine is asked for."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from grader import locate, values
from grader.environment import EXAMPLE_NAMES, EXAMPLE_SUFFIXES, parse_env
from grader.errors import BadInput
from grader.fetch import FetchError, fetch
from grader.project import find_compose_files
from grader.roster import Entry
from grader.rubric import Rubric
from grader.untrusted import load_compose


class Needs(NamedTuple):
    """One student's repository: what it expects, what nothing would supply, or why it was not read."""

    student: str
    project_dir: str = locate.ROOT
    expected: tuple[values.Expected, ...] = ()
    missing: tuple[values.Expected, ...] = ()
    problem: str = ""  # could not be read: fetch failed, no project, several projects


def _literal_environment(compose_text: str) -> dict[str, set[str]]:
    """Per service, the `environment:` keys the compose file writes with a value of its own (no
    `${...}`): they win over any env file, so the rubric need not give them."""
    try:
        data = load_compose(compose_text, "compose file")
    except Exception:
        return {}
    services = data.get("services") if isinstance(data, dict) else None
    found: dict[str, set[str]] = {}
    for name, service in services.items() if isinstance(services, dict) else ():
        env = service.get("environment") if isinstance(service, dict) else None
        pairs: list[tuple[str, object]] = []
        if isinstance(env, dict):
            pairs = [(str(k), v) for k, v in env.items()]
        elif isinstance(env, list):
            pairs = [(str(e).partition("=")[0], str(e).partition("=")[2] or None) for e in env]
        found[str(name)] = {k for k, v in pairs if v not in (None, "") and "$" not in str(v)}
    return found


def _example_values(root: Path, name: str) -> dict[str, str]:
    """The example that would stand in for env file `name` (grader.environment), its non-empty values."""
    folder = root / Path(name).parent
    base = Path(name).name
    for candidate in [base + s for s in EXAMPLE_SUFFIXES] + list(EXAMPLE_NAMES):
        path = folder / candidate
        if candidate != base and values.regular(path):
            return {k: v for k, v in parse_env(path.read_text(errors="replace")[: 256 << 10]).items() if v}
    return {}


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
    expected = values.expected(folder, text, missing_files)
    literal = _literal_environment(text)
    supplied = {k for k, v in rubric.environment.items() if v}
    stand_ins = not rubric.environment and rubric.env_examples
    missing = []
    for e in expected:
        if e.variable in supplied or (not e.interpolated and e.variable in literal.get(e.service, set())):
            continue
        if stand_ins and e.variable in _example_values(folder, e.source):
            continue  # the student's example stands in (grader.environment.stand_in_examples)
        missing.append(e)
    return Needs(root.name, located.path, tuple(expected), tuple(missing))


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
                found.append(Needs(entry.student, problem=str(exc)))
    return found


def _listed(items: Sequence[values.Expected]) -> str:
    return values.listed(items).replace("`", "")


def render(found: Sequence[Needs], rubric_name: str) -> str:
    """Per student, then for the class: plain lines a TA reads in a terminal."""
    lines: list[str] = []
    width = max((len(n.student) for n in found), default=0)
    for n in found:
        where = f" ({n.project_dir}/)" if n.project_dir != locate.ROOT else ""
        label = f"{n.student.ljust(width)}{where}"
        if n.problem:
            lines.append(f"{label}: not read: {n.problem}")
        elif n.missing:
            lines.append(f"{label}: missing from the rubric: {_listed(n.missing)}")
        elif n.expected:
            lines.append(f"{label}: the rubric supplies all {len({e.variable for e in n.expected})} values it expects")
        else:
            lines.append(f"{label}: expects no value from files it keeps out of git")
    counts: dict[str, set[str]] = {}
    for n in found:
        for e in n.missing:
            counts.setdefault(e.variable, set()).add(n.student)
    read = sum(1 for n in found if not n.problem)
    if counts:
        lines.append("")
        lines.append(f"the class needs values {rubric_name} does not give (add them under `environment: variables:`):")
        for variable, students in sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            lines.append(f"  {variable}: {len(students)} of {read} repositories")
    else:
        lines.append("")
        lines.append(f"{rubric_name} supplies every value the {read} repositories read expect")
    return "\n".join(lines) + "\n"
