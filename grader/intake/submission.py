"""The submission before anything reads it: a folder that exists and can be read, its copy (the
submission itself is never touched; links leaving it and special files are left out), and the run's
project name."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import BadInput
from grader.intake.untrusted import inside
from grader.model import bound

if TYPE_CHECKING:  # the engine's libraries load only for a run that uses the engine
    pass


def validate_submission(path: Path) -> Path:
    if not path.exists():
        raise BadInput(f"{path}: no such file or directory")
    if not path.is_dir():
        raise BadInput(f"{path}: not a directory (give the folder of the student's repository)")
    if not os.access(path, os.R_OK | os.X_OK):
        raise BadInput(f"{path}: cannot read this directory (permission denied)")
    return path.resolve()


def copy_submission(source: Path, destination: Path) -> list[str]:
    """Copy the submission to `destination` and return the links left out, as `link -> target`.

    Skipped: .git; FIFOs, sockets and devices (opening a FIFO would hang the grader); symlinks
    that resolve outside the submission (`secret -> /etc/passwd`: compose, the Dockerfile
    checks and a bind mount would otherwise read the grading machine's files)."""
    dropped: list[str] = []

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {".git"} & set(names)
        for name in names:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode) and not inside(path, source):
                dropped.append(f"{os.path.relpath(path, source)} -> {os.readlink(path)}")
                skipped.add(name)
            elif not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                skipped.add(name)
        return skipped

    try:
        shutil.copytree(source, destination, symlinks=True, ignore=ignore)
    except (shutil.Error, OSError) as exc:
        raise BadInput(f"{source}: cannot copy the submission ({bound(str(exc), 500)})") from exc
    return dropped


def project_name(submission: Path) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", submission.name.lower()).strip("-")[:24] or "submission"
    return f"grader-{slug}-{secrets.token_hex(3)}"
