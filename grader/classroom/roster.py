"""Who is in a class and where their work is: the sources `grader batch` reads, turned into one
`Entry` per student, in a stable order. Nothing is fetched here (grader.classroom.fetch does that).

A source is one of:
- a folder: each subfolder is a submission (the student is its name), each `.zip`, `.tar.gz` or
  `.tgz` in it an archive (the student is its name without the extension);
- an archive file itself (`grader batch downloads/*.zip`);
- a roster CSV: `student,repo[,ref][,path]`, or GitHub Classroom's grades export as it is
  (`roster_identifier` or else `github_username`; `student_repository_url`). `path` is the
  project's folder inside the repository, when it is not the root and grader.intake.locate cannot tell.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import NamedTuple

from grader.errors import BadInput
from grader.intake.project import COMPOSE_FILES

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
ROSTER_SUFFIXES = (".csv",)
# Roster headers, lower-cased: the plain form first, then GitHub Classroom's export.
STUDENT_COLUMNS = ("student", "roster_identifier", "github_username", "name")
REPO_COLUMNS = ("repo", "repository", "student_repository_url", "url")
REF_COLUMNS = ("ref", "branch", "commit")
PATH_COLUMNS = ("path", "folder", "project", "subfolder")
MAX_NAME = 64


class Kind(str, Enum):
    FOLDER = "folder"
    ARCHIVE = "archive"
    GIT = "git"
    MISSING = "missing"  # a roster row without a repository (the student never accepted the assignment)


class Entry(NamedTuple):
    student: str  # as the source names them (a roster's identifier, a folder's name)
    key: str  # the folder name under --out: safe on every file system, unique in the class
    kind: Kind
    location: str  # a folder or archive path, or a git URL / path; "" for MISSING
    ref: str = ""  # a branch, tag or commit to grade (git), "" for the default branch
    path: str = ""  # the project's folder in the repository (the roster's `path`), "" to let the grader find it


# Names a student folder cannot take: the batch's own files, and what Windows reserves.
RESERVED = {"gradebook.csv", "gradebook.html", "con", "prn", "aux", "nul"} | {
    f"{d}{n}" for d in ("com", "lpt") for n in range(1, 10)
}


def _hashed(cleaned: str, student: str) -> str:
    return f"{cleaned}-{hashlib.sha256(student.encode()).hexdigest()[:6]}"


def safe_name(student: str) -> str:
    """A folder name for `student`: letters, digits, `.`, `_`, `-`; never hidden, never `..`,
    never a name the batch or Windows keeps for itself. A name that had to change gets a short
    hash of the original, so that two students whose names differ only in what was replaced
    (`josé`, `jos_`) still get two folders."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", student.strip()).strip("._-")[:MAX_NAME] or "student"
    reserved = cleaned.lower() in RESERVED or cleaned.lower().split(".")[0] in RESERVED
    return cleaned if cleaned == student and not reserved else _hashed(cleaned, student)


def archive_student(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


Raw = tuple[str, Kind, str, str, str]  # student, kind, location, ref, path


def _from_folder(folder: Path) -> list[Raw]:
    held = next((n for n in COMPOSE_FILES if (folder / n).is_file()), None)
    if held is not None:  # its subfolders (src, scripts) would be taken for students
        raise BadInput(
            f"{folder}: this is one repository (it holds {held}), not a class: give the folder that holds the "
            "students' repositories, or a roster (to grade one repository: `grader grade`)"
        )
    found: list[Raw] = []
    links: list[str] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue  # .git, .DS_Store, an editor's folder: nobody's submission
        if child.is_symlink() and child.is_dir():
            # Refused, never skipped in silence (that emptied a gradebook) nor followed: a link an
            # unzipped class download brings can name any folder of the machine (`/`, `~/.ssh`).
            links.append(child.name)
        elif child.is_dir():
            found.append((child.name, Kind.FOLDER, str(child), "", ""))
        elif child.is_file() and is_archive(child):
            found.append((archive_student(child), Kind.ARCHIVE, str(child), "", ""))
    if links:
        raise BadInput(
            f"{folder}: {', '.join(links[:10])}{' ...' if len(links) > 10 else ''}: links to folders are not "
            "followed (one could name any folder of this machine); give the folders themselves "
            "(`cp -rL` makes a copy), or a roster with their paths"
        )
    return found


def _column(header: Sequence[str], names: Iterable[str]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def _from_roster(path: Path) -> list[Raw]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # utf-8-sig: a spreadsheet's BOM
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"{path}: cannot read the roster ({exc})") from exc
    if not rows:
        raise BadInput(f"{path}: the roster is empty")
    header, body = rows[0], rows[1:]
    columns = [_column(header, names) for names in (STUDENT_COLUMNS, REPO_COLUMNS)]
    student_at, repo_at = columns
    if student_at is None or repo_at is None:
        raise BadInput(
            f"{path}: a roster needs a student column ({', '.join(STUDENT_COLUMNS)}) and a repository "
            f"column ({', '.join(REPO_COLUMNS)}); its header is: {', '.join(header)}"
        )
    ref_at = _column(header, REF_COLUMNS)
    path_at = _column(header, PATH_COLUMNS)
    # Classroom's export has both identifiers: the roster's, when the teacher linked one, else the login.
    login_at = _column(header, ("github_username",))
    found: list[Raw] = []
    for number, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = dict(enumerate(c.strip() for c in row))
        student = cell.get(student_at, "") or (cell.get(login_at, "") if login_at is not None else "")
        if not student:
            raise BadInput(f"{path}:{number}: a row without a student")
        repo = cell.get(repo_at, "")
        ref = cell.get(ref_at, "") if ref_at is not None else ""
        folder = cell.get(path_at, "").replace("\\", "/").strip("/") if path_at is not None else ""
        if ".." in folder.split("/"):
            raise BadInput(f"{path}:{number}: path {folder!r}: give a folder inside the repository, like ecommerce-ana")
        if not repo:
            found.append((student, Kind.MISSING, "", "", ""))
            continue
        if is_local(repo) and not Path(repo).is_absolute():
            repo = str((path.parent / repo).resolve())  # relative to the roster, not to where the TA stands
        found.append((student, Kind.GIT, repo, ref, folder))
    return found


def is_local(repo: str) -> bool:
    """A path on this machine (not a URL, not git's `user@host:path`)."""
    return "://" not in repo and not re.match(r"^[\w.-]+@[\w.-]+:", repo)


def entries(sources: Sequence[Path]) -> list[Entry]:
    """Every student of `sources`, sorted by folder name; BadInput for an unknown source or a
    student named twice (two rows, or a folder and an archive of the same name)."""
    raw: list[Raw] = []
    for source in sources:
        if source.is_dir():
            raw += _from_folder(source)
        elif source.is_file() and source.name.lower().endswith(ROSTER_SUFFIXES):
            raw += _from_roster(source)
        elif source.is_file() and is_archive(source):
            raw.append((archive_student(source), Kind.ARCHIVE, str(source), "", ""))
        else:
            raise BadInput(
                f"{source}: not a folder of submissions, a roster (.csv) or an archive ({', '.join(ARCHIVE_SUFFIXES)})"
            )
    by_student: dict[str, tuple[Kind, str, str, str]] = {}
    for student, kind, location, ref, folder in raw:
        if student in by_student:
            other = by_student[student]
            raise BadInput(f"student {student!r} appears twice: {other[1] or other[0].value} and {location}")
        by_student[student] = (kind, location, ref, folder)
    # `Ana` and `ana` are two students but one folder where names ignore case (macOS, Windows):
    # such names get their hash too.
    keys = {student: safe_name(student) for student in by_student}
    folded: dict[str, int] = {}
    for key in keys.values():
        folded[key.lower()] = folded.get(key.lower(), 0) + 1
    found = [
        Entry(student, key if folded[key.lower()] == 1 else _hashed(key, student), *by_student[student])
        for student, key in keys.items()
    ]
    return sorted(found, key=lambda e: e.key)


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether student `key` belongs to shard I of N (1-based): a hash of the name, so that a
    student stays in their shard when others join or leave the roster, and every machine of a
    CI matrix computes the same partition."""
    if shard is None:
        return True
    index, count = shard
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % count == index - 1


def parse_shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise BadInput(f"--shard {text}: expected I/N with 1 <= I <= N, like 2/4")
    return int(match[1]), int(match[2])
