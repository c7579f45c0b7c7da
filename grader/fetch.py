"""A student's work on this machine, in a folder of the batch's: a git repository cloned at the
commit to grade, an archive extracted safely, or a folder as it is. Every way in is untrusted:
git runs with its dangerous transports off and no prompt, archives are read member by member.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO

from grader.roster import Entry, Kind

GIT_TIMEOUT_S = 300.0
# Caps for one student's archive: the homework is a small API (a NestJS repository is a few hundred
# files without node_modules); these leave room for a committed node_modules and stop a bomb.
MAX_FILES = 20_000
MAX_BYTES = 500 * 1024 * 1024
_CHUNK = 1024 * 1024
# git's own protocols that run nothing on this machine; `ext::` runs a command, `fd::` reads a descriptor.
GIT_PROTOCOLS = "https:http:ssh:git:file"
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")


class FetchError(Exception):
    """The student's work cannot be had: the reason, for their report."""


@dataclass(frozen=True)
class Fetched:
    root: Path  # the folder to grade
    commit: str = ""  # git: the commit graded
    content_hash: str = ""  # folders and archives: what was graded (grader.fetch.tree_hash)
    notes: tuple[str, ...] = ()  # what the TA should know (links left out of an archive, ...)


def fetch(entry: Entry, into: Path, deadline: datetime | None = None) -> Fetched:
    """Put `entry`'s work under `into` (an empty folder the caller removes) and say what it is."""
    if entry.kind is Kind.MISSING:
        raise FetchError("the roster names no repository for this student")
    if entry.kind is Kind.FOLDER:
        return Fetched(Path(entry.location), content_hash=tree_hash(Path(entry.location)))
    if entry.kind is Kind.ARCHIVE:
        root, notes = extract(Path(entry.location), into / "archive")
        return Fetched(root, content_hash=tree_hash(root), notes=notes)
    return clone(entry.location, entry.ref, into / "repo", deadline)


# -- git -------------------------------------------------------------------------------------------
def _git(args: list[str], cwd: Path | None = None, timeout: float = GIT_TIMEOUT_S) -> str:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",  # a private repository fails; it does not wait for a password
        "GIT_ASKPASS": "true",
        "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        "GIT_ALLOW_PROTOCOL": GIT_PROTOCOLS,
        "GIT_LFS_SKIP_SMUDGE": "1",
    }
    try:
        result = subprocess.run(
            ["git", "-c", "core.hooksPath=/dev/null", "-c", "protocol.file.allow=always", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"git {args[0]} took longer than {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise FetchError("git is not installed on this machine") from exc
    if result.returncode != 0:
        raise FetchError(f"git {args[0]} failed: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()


def _url(location: str) -> str:
    """A URL git clones shallowly: a local path becomes file:// (a plain path ignores --depth).
    git's `<transport>::<address>` form is refused: `ext::` runs a command on this machine."""
    helper = re.match(r"^([A-Za-z][\w+.-]*)::", location)
    if helper:
        raise FetchError(f"{location}: git transport {helper[1]!r} is not allowed (use https, ssh or a path)")
    if "://" in location or re.match(r"^[\w.-]+@[\w.-]+:", location):
        return location
    path = Path(location)
    if not path.exists():
        raise FetchError(f"{location}: no such repository on this machine")
    return path.resolve().as_uri()


def clone(location: str, ref: str, dest: Path, deadline: datetime | None = None) -> Fetched:
    """Clone `location` at `ref` (default branch when empty) into `dest`. Without a deadline: the
    tip, shallow. With one: the last commit on the branch's first-parent line at or before it
    (history without file contents where the server allows it, then that commit's files)."""
    url = _url(location)
    scheme = url.split("://", 1)[0] if "://" in url else "ssh"
    if scheme not in GIT_PROTOCOLS.split(":"):
        raise FetchError(f"{location}: git transport {scheme!r} is not allowed (use https, ssh or a path)")
    is_sha = bool(_SHA.fullmatch(ref))
    branch = ["--branch", ref] if ref and not is_sha else []
    if deadline is None and not is_sha:
        _git(["clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags", *branch, url, str(dest)])
    else:
        _git(["clone", "--quiet", "--filter=blob:none", "--no-checkout", "--no-tags", *branch, url, str(dest)])
    target = ref if is_sha else "HEAD"
    if deadline is not None:
        found = _git(["rev-list", "-n", "1", "--first-parent", f"--before={deadline.isoformat()}", target], dest)
        if not found:
            first = _git(["log", "--reverse", "--format=%cI", target], dest).splitlines()[:1]
            since = f" (the first is from {first[0]})" if first else ""
            raise FetchError(f"no commit at or before the deadline {deadline.isoformat()}{since}")
        target = found
    if deadline is not None or is_sha:
        _git(["checkout", "--quiet", "--detach", target], dest)
    commit = _git(["rev-parse", "HEAD"], dest)
    shutil.rmtree(dest / ".git", ignore_errors=True)  # never graded (the copy skips it), and large
    return Fetched(dest, commit=commit)


# -- archives --------------------------------------------------------------------------------------
def _member_path(name: str) -> PurePosixPath | None:
    """The member's path inside the extraction folder, or None when it would land outside it or
    names nothing (absolute, `..`, a drive, empty); macOS's `__MACOSX` metadata is skipped."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if not name or path.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in path.parts:
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts or parts[0] == "__MACOSX":
        return None
    return PurePosixPath(*parts)


class _Budget:
    def __init__(self, archive: Path) -> None:
        self.archive, self.files, self.bytes = archive, 0, 0

    def file(self) -> None:
        self.files += 1
        if self.files > MAX_FILES:
            raise FetchError(f"{self.archive.name}: more than {MAX_FILES} files; not extracted")

    def copy(self, source: IO[bytes], target: Path) -> None:
        with target.open("wb") as out:
            while chunk := source.read(_CHUNK):
                self.bytes += len(chunk)
                if self.bytes > MAX_BYTES:
                    raise FetchError(
                        f"{self.archive.name}: more than {MAX_BYTES // 2**20} MiB once extracted; not extracted"
                    )
                out.write(chunk)


def _zip_members(archive: Path) -> Iterator[tuple[str, str, IO[bytes] | None]]:
    """(name, kind: file|dir|other, stream) for each member of a zip."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip stores no unix type
            if info.is_dir():
                yield info.filename, "dir", None
            elif kind and kind != stat.S_IFREG:
                yield info.filename, "other", None  # a symlink (unix mode in the zip), a device
            else:
                with zipped.open(info) as stream:
                    yield info.filename, "file", stream


def _tar_members(archive: Path) -> Iterator[tuple[str, str, IO[bytes] | None]]:
    with tarfile.open(archive, mode="r:*") as tarred:
        for member in tarred:
            if member.isdir():
                yield member.name, "dir", None
            elif member.isfile():
                yield member.name, "file", tarred.extractfile(member)
            else:
                yield member.name, "other", None  # links (symbolic or hard), devices, FIFOs


def extract(archive: Path, dest: Path) -> tuple[Path, tuple[str, ...]]:
    """Extract `archive` into `dest` member by member: regular files and folders only, never a
    path outside `dest`, at most MAX_FILES files and MAX_BYTES bytes. A single top folder (what
    zipping a folder gives) is unwrapped. Returns (the folder to grade, notes for the TA)."""
    dest.mkdir(parents=True)
    budget, skipped = _Budget(archive), []
    members = _zip_members if archive.name.lower().endswith(".zip") else _tar_members
    try:
        for name, kind, stream in members(archive):
            path = _member_path(name)
            if path is None or kind == "other":
                if not name.replace("\\", "/").startswith("__MACOSX"):
                    skipped.append(name)
                continue
            target = dest.joinpath(*path.parts)
            if kind == "dir":
                target.mkdir(parents=True, exist_ok=True)
                continue
            budget.file()
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.is_dir():
                skipped.append(name)
                continue
            assert stream is not None
            budget.copy(stream, target)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError) as exc:
        # RuntimeError: zipfile's answer to an encrypted member
        raise FetchError(f"{archive.name}: not a readable archive ({exc})") from exc
    entries = [p for p in dest.iterdir()]
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
    notes = tuple(f"left out of {archive.name} (a link, a device or a path outside it): {n}" for n in skipped[:20])
    if len(skipped) > 20:
        notes += (f"... and {len(skipped) - 20} more left out of {archive.name}",)
    return root, notes


# -- what was graded --------------------------------------------------------------------------------
def tree_hash(root: Path) -> str:
    """sha256 over the files a run grades (paths and contents, .git left out, links by target):
    the same folder or archive gives the same hash on any machine, whatever the timestamps."""
    digest = hashlib.sha256()
    for directory, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if f != ".git")
        for name in sorted(files):
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            digest.update(relative.encode() + b"\0")
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                digest.update(b"link\0" + os.readlink(path).encode() + b"\0")
            elif not stat.S_ISREG(mode):
                digest.update(b"special\0")  # never opened: a FIFO would block (the copy skips them)
            else:
                try:
                    with path.open("rb") as handle:
                        while chunk := handle.read(_CHUNK):
                            digest.update(chunk)
                except OSError:
                    digest.update(b"unreadable")
                digest.update(b"\0")
    return "sha256:" + digest.hexdigest()
