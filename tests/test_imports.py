"""Imports flow one way: cli -> commands -> (batch ->) runner -> checks -> grader services -> model,
with no cycle. grader.classroom.batch sits above the run: it runs many (each `grader grade` in a process of
its own)."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter

from tests.conftest import ROOT

TOP = {
    "grader.cli",
    "grader.classroom.batch",
    "grader.classroom.supervise",
    "grader.run.runner",
    "grader.service.worker",
}  # supervise: the batch's children; the service's worker grades as the batch does (grader.classroom.batch)


def _top(name: str) -> bool:
    return name in TOP or name == "grader.commands" or name.startswith("grader.commands.")


def _module(path_parts: tuple[str, ...]) -> str:
    parts = list(path_parts)
    parts[-1] = parts[-1].removesuffix(".py")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Each module of grader/ and checks/ and the project modules it imports (at any depth)."""
    modules = {
        _module(p.relative_to(ROOT).parts): p for folder in ("grader", "checks") for p in (ROOT / folder).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name and m not in ("grader", "checks")}
    return graph


def test_there_is_no_import_cycle() -> None:
    try:
        list(TopologicalSorter(_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_services_import_neither_checks_nor_the_run() -> None:
    graph = _graph()
    for name, imports in graph.items():
        if name.startswith("grader.") and not _top(name):
            assert not {m for m in imports if m == "checks" or m.startswith("checks.") or _top(m)}, name


def test_checks_import_services_never_another_check() -> None:
    graph = _graph()
    for name, imports in graph.items():
        if name.startswith("checks."):
            assert not {m for m in imports if m.startswith("checks.") or _top(m)}, name


def test_the_model_imports_nothing_of_the_project() -> None:
    assert _graph()["grader.model"] == set()
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "PROJECT = ('grader', 'checks')\n"
            "import sys, grader.model; print(sorted(m for m in sys.modules if m.split('.')[0] in PROJECT))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert loaded.strip() == "['grader', 'grader.model']"


def test_lint_loads_no_engine_library() -> None:
    """`grader lint` starts in well under a second: docker, testcontainers, requests, psycopg and
    jsonschema (a third of a second to import) load only for what needs them."""
    script = (
        "import sys\n"
        "from grader.cli import main\n"
        "main(['lint', sys.argv[1]])\n"
        "heavy = ('docker', 'testcontainers', 'requests', 'psycopg', 'jsonschema', 'urllib3')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "fixtures" / "submissions" / "complete")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_every_package_is_installed() -> None:
    """pyproject lists its packages: one missing (grader/commands/) leaves the installed grader,
    the image's, without it, while every test run from the checkout still passes."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for folder in ("grader", "checks")
        for p in (ROOT / folder).rglob("__init__.py")
    }
    assert found == listed
