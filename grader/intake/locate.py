"""Where a repository keeps its project: the root, or the one folder below it that holds a compose
file and the Dockerfile it builds (`ecommerce-ana/` is how a cohort commits it more often than
not). Read-only, bounded, never following a link: the repository is a stranger's."""

from __future__ import annotations

import fnmatch
import os
from collections import deque
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from grader.errors import BadInput
from grader.intake.project import COMPOSE_FILES, find_compose_files

MAX_DEPTH = 3  # `ecommerce-ana/`, `entregas/m4/app/`: deeper is not a homework's layout
MAX_ENTRIES = 20_000  # a repository that commits node_modules somewhere we do not skip
# Folders no project lives in: dependencies, build output, tools' own.
SKIPPED = frozenset(
    {"node_modules", "dist", "build", "coverage", "vendor", "venv", "__pycache__", "target", "bower_components"}
)
ROOT = "."


class Located(NamedTuple):
    path: str  # the project's folder, relative and POSIX (`ecommerce-ana`), "." for the root
    how: str  # "root" | "found" (the one candidate below) | "chosen" (--project, roster path, rubric glob)
    candidates: tuple[str, ...] = ()  # every folder below the root with a compose file (searched only)

    @property
    def below(self) -> bool:
        return self.path != ROOT


def _is_dockerfile(name: str) -> bool:
    lowered = name.lower()
    return lowered == "dockerfile" or lowered.startswith("dockerfile.") or lowered.endswith(".dockerfile")


def _walk(root: Path) -> tuple[list[str], set[str]]:
    """(folders with a compose file, folders with a Dockerfile), breadth first, MAX_DEPTH deep;
    hidden folders (.git, .github, .idea) and SKIPPED are not entered, links never followed."""
    composed: list[str] = []
    dockerfiles: set[str] = set()
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    seen = 0
    while queue:
        folder, depth = queue.popleft()
        entries: list[os.DirEntry[str]] = []
        try:
            with os.scandir(folder) as listing:
                for entry in listing:  # counted as read: a folder of a million files is never held whole
                    seen += 1
                    if seen > MAX_ENTRIES:
                        raise BadInput(
                            f"the repository has more than {MAX_ENTRIES} files and folders within {MAX_DEPTH} levels "
                            "and no compose file at its root: name the project's folder (`--project FOLDER`, a "
                            "`path` column in the roster, or `project: <glob>` in the rubric)"
                        )
                    entries.append(entry)
        except OSError:
            continue
        relative = PurePosixPath(folder.relative_to(root)).as_posix()
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_file(follow_symlinks=False):
                if entry.name in COMPOSE_FILES and relative not in composed:
                    composed.append(relative)
                elif _is_dockerfile(entry.name):
                    dockerfiles.add(relative)
            elif (
                entry.is_dir(follow_symlinks=False)
                and depth < MAX_DEPTH
                and not entry.name.startswith(".")
                and entry.name not in SKIPPED
            ):
                queue.append((Path(entry.path), depth + 1))
    return composed, dockerfiles


def _builds(folder: str, dockerfiles: set[str]) -> bool:
    """A Dockerfile in the folder or in one below it (`build: ./api`)."""
    return any(d == folder or folder == ROOT or d.startswith(folder + "/") for d in dockerfiles)


def given(root: Path, path: str) -> Located:
    """The folder the TA named (`--project`, the roster's `path`): inside the repository, a real
    folder (not a link), or BadInput naming it."""
    text = path.strip().replace("\\", "/").strip("/") or ROOT
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts:
        raise BadInput(f"project folder {path!r}: give a folder inside the repository, like `ecommerce-ana`")
    folder = root / pure
    current = root
    for part in pure.parts:  # every step a real folder: a link could lead out of the repository
        current = current / part
        if current.is_symlink() or not current.is_dir():
            raise BadInput(f"project folder {path!r}: not a folder of the repository {root.name}")
    if not find_compose_files(folder):
        # A TA's typo must not become a student's 0 for "no compose file at the root".
        raise BadInput(f"project folder {path!r}: it holds no compose file ({', '.join(COMPOSE_FILES)})")
    return Located(pure.as_posix() if folder != root else ROOT, "chosen")


def locate(root: Path, pattern: str | None = None) -> Located:
    """The project's folder. A compose file at the root is the project (and `pattern: "."` looks
    nowhere else). Otherwise the folders below holding one: the only one that also holds the
    Dockerfile it builds, else the only one; `pattern` (the rubric's `project:` glob) picks among
    several. Several and nothing to pick with: BadInput listing them (a TA's choice, not a grade).
    None anywhere: the root, where compose.file says what is missing."""
    if pattern is not None and pattern.strip("/ ") in ("", ROOT):
        return Located(ROOT, "root")
    if find_compose_files(root) and (pattern is None or fnmatch.fnmatch(ROOT, pattern)):
        return Located(ROOT, "root")
    composed, dockerfiles = _walk(root)
    below = tuple(c for c in composed if c != ROOT)
    if not below:
        return Located(ROOT, "root")
    if pattern is not None:
        matching = [c for c in below if fnmatch.fnmatchcase(c, pattern.strip("/"))]
        if len(matching) == 1:
            return Located(matching[0], "chosen", below)
        listed = ", ".join(f"`{c}/`" for c in below)
        raise BadInput(
            f"the rubric's `project: {pattern}` matches {len(matching) or 'none'} of the project folders "
            f"of this repository ({listed}): make it match one"
        )
    building = [c for c in below if _builds(c, dockerfiles)]
    if len(building) == 1:
        return Located(building[0], "found", below)
    if len(below) == 1:
        return Located(below[0], "found", below)
    listed = ", ".join(f"`{c}/`" for c in (building or below))
    raise BadInput(
        f"this repository holds several projects ({listed}) and none at its root: name the one to grade "
        "(`--project FOLDER`, a `path` column in the roster, or `project: <glob>` in the rubric)"
    )
