"""A student's work on this machine, in a folder of the batch's: a git repository cloned at the
commit to grade, an archive extracted safely, or a folder as it is. Every way in is untrusted:
git runs with its dangerous transports off and no prompt, archives are read member by member.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO

from grader.classroom.roster import Entry, Kind, is_local
from grader.messages import current_language, language, msg

GIT_TIMEOUT_S = 300.0
# Caps for one student's archive: the homework is a small API (a NestJS repository is a few hundred
# files without node_modules); these leave room for a committed node_modules and stop a bomb.
MAX_FILES = 20_000
MAX_BYTES = 500 * 1024 * 1024
EXTRACT_MEMORY = 1024 * 1024 * 1024  # address space of the process that extracts one archive
_CHUNK = 1024 * 1024
# git's own protocols that run nothing on this machine; `ext::` runs a command, `fd::` reads a descriptor.
GIT_PROTOCOLS = "https:http:ssh:git:file"
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")


class FetchError(Exception):
    """The student's work cannot be had: the reason, for their report."""


@dataclass(frozen=True)
class Fetched:
    root: Path  # the folder to grade
    commit: str = ""  # git: the commit graded
    content_hash: str = ""  # folders and archives: what was graded (grader.classroom.fetch.tree_hash)
    notes: tuple[str, ...] = ()  # what the TA should know (links left out of an archive, ...)


def fetch(entry: Entry, into: Path, deadline: datetime | None = None) -> Fetched:
    """Put `entry`'s work under `into` (an empty folder the caller removes) and say what it is."""
    if entry.kind is Kind.MISSING:
        raise FetchError(msg("fetch.no_repository"))
    if entry.kind is Kind.FOLDER:
        return Fetched(Path(entry.location), content_hash=tree_hash(Path(entry.location)))
    if entry.kind is Kind.ARCHIVE:
        root, notes = extract_bounded(Path(entry.location), into / "archive")
        return Fetched(root, content_hash=tree_hash(root), notes=notes)
    return clone(entry.location, entry.ref, into / "repo", deadline)


# -- git -------------------------------------------------------------------------------------------
def _git(args: list[str], cwd: Path | None = None, timeout: float = GIT_TIMEOUT_S, bounded: Path | None = None) -> str:
    """git, without a prompt, hooks or other transports; with `bounded`, git is stopped once that
    folder holds more than MAX_BYTES or MAX_FILES (as an archive is): a repository with a huge
    history or a small pack that checks out gigabytes would otherwise fill the batch's disk. Each
    file git writes is capped at MAX_BYTES too (RLIMIT_FSIZE), so it cannot overshoot between two
    looks by more than that."""
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",  # a private repository fails; it does not wait for a password
        "GIT_ASKPASS": "true",
        "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        "GIT_ALLOW_PROTOCOL": GIT_PROTOCOLS,
        "GIT_LFS_SKIP_SMUDGE": "1",
    }
    command = ["git", "-c", "core.hooksPath=/dev/null", "-c", "protocol.file.allow=always", *args]
    prlimit = shutil.which("prlimit") if bounded is not None else None
    if prlimit:
        command = [prlimit, f"--fsize={MAX_BYTES}", "--", *command]
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise FetchError(msg("fetch.no_git")) from exc
    until, too_large = time.monotonic() + timeout, ""
    try:
        while True:
            try:
                stdout, stderr = process.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > until:
                    raise FetchError(msg("fetch.git_slow", command=args[0], seconds=f"{timeout:.0f}")) from None
                too_large = _over_caps(bounded) if bounded is not None else ""
                if too_large:
                    raise FetchError(msg("fetch.too_large", why=too_large)) from None
    finally:
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    if bounded is not None:
        too_large = _over_caps(bounded) or (
            msg("fetch.over_file", mib=MAX_BYTES // 2**20) if process.returncode == -signal.SIGXFSZ else ""
        )
        if too_large:
            raise FetchError(msg("fetch.too_large", why=too_large))
    if process.returncode != 0:
        raise FetchError(msg("fetch.git_failed", command=args[0], stderr=stderr.strip()[-500:]))
    return stdout.strip()


def _over_caps(folder: Path) -> str:
    """ "more than … MiB" / "more than … files" when `folder` is past the caps archives have."""
    files = size = 0
    for top, dirs, names in os.walk(folder):
        files += len(dirs) + len(names)
        for name in names:
            with suppress(OSError):
                size += os.lstat(os.path.join(top, name)).st_size
        if files > MAX_FILES:
            return msg("fetch.over_files", files=MAX_FILES)
        if size > MAX_BYTES:
            return msg("fetch.over_bytes", mib=MAX_BYTES // 2**20)
    return ""


def _url(location: str) -> str:
    """A URL git clones shallowly: a local path becomes file:// (a plain path ignores --depth).
    git's `<transport>::<address>` form is refused: `ext::` runs a command on this machine."""
    helper = re.match(r"^([A-Za-z][\w+.-]*)::", location)
    if helper:
        raise FetchError(msg("fetch.transport", location=location, transport=helper[1]))
    if not is_local(location):
        return location
    path = Path(location)
    if not path.exists():
        raise FetchError(msg("fetch.no_such_repository", location=location))
    return path.resolve().as_uri()


def clone(location: str, ref: str, dest: Path, deadline: datetime | None = None) -> Fetched:
    """Clone `location` at `ref` (default branch when empty) into `dest`. Without a deadline: the
    tip, shallow. With one: the last commit on the branch's first-parent line at or before it
    (history without file contents where the server allows it, then that commit's files). A ref
    that is no branch or tag but looks like a commit is checked out as one."""
    if location.startswith("-") or ref.startswith("-"):
        raise FetchError(msg("fetch.dash", location=location, ref=ref))
    url = _url(location)
    scheme = url.split("://", 1)[0] if "://" in url else "ssh"
    if scheme not in GIT_PROTOCOLS.split(":"):
        raise FetchError(msg("fetch.transport", location=location, transport=scheme))
    history = ["--filter=blob:none", "--no-checkout"] if deadline is not None else ["--depth", "1", "--single-branch"]
    try:
        if _FULL_SHA.fullmatch(ref):
            # A full commit id is that commit, never a branch or tag some server lets be named so.
            raise FetchError(ref)
        _git(
            ["clone", "--quiet", "--no-tags", *history, *(["--branch", ref] if ref else []), "--", url, str(dest)],
            bounded=dest,
        )
        target = "HEAD"
    except FetchError:
        if not _SHA.fullmatch(ref):
            raise
        shutil.rmtree(dest, ignore_errors=True)  # not a branch or a tag: a commit
        _git(
            ["clone", "--quiet", "--no-tags", "--filter=blob:none", "--no-checkout", "--", url, str(dest)], bounded=dest
        )
        target = ref
    if deadline is not None:
        found = _git(["rev-list", "-n", "1", "--first-parent", f"--before={deadline.isoformat()}", target, "--"], dest)
        if not found:
            first = _git(["log", "--reverse", "--format=%cI", target, "--"], dest).splitlines()[:1]
            since = msg("fetch.first_commit", when=first[0]) if first else ""
            raise FetchError(msg("fetch.after_deadline", deadline=deadline.isoformat(), since=since))
        target = found
    if target != "HEAD" or deadline is not None:
        _git(["checkout", "--quiet", "--detach", target, "--"], dest, bounded=dest)
    commit = _git(["rev-parse", "HEAD"], dest)
    if _FULL_SHA.fullmatch(ref) and deadline is None and commit != ref.lower():
        raise FetchError(msg("fetch.git_failed", command="checkout", stderr=f"{ref} resolved to {commit}"))
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
        self.archive, self.entries, self.bytes = archive, 0, 0
        self.skipped: list[str] = []
        self.more_skipped = 0

    def entry(self) -> None:
        """A file or a folder: both cost the file system, both count."""
        self.entries += 1
        if self.entries > MAX_FILES:
            raise FetchError(msg("fetch.archive_files", archive=self.archive.name, files=MAX_FILES))

    def skip(self, name: str) -> None:
        if len(self.skipped) < 20:
            self.skipped.append(name)
        else:
            self.more_skipped += 1

    def copy(self, source: IO[bytes], target: Path, mode: int) -> None:
        with target.open("wb") as out:
            while chunk := source.read(_CHUNK):
                self.bytes += len(chunk)
                if self.bytes > MAX_BYTES:
                    raise FetchError(msg("fetch.archive_bytes", archive=self.archive.name, mib=MAX_BYTES // 2**20))
                out.write(chunk)
        # Executable bits kept (an `ENTRYPOINT ["./entrypoint.sh"]` works as from git); nothing else.
        target.chmod(0o644 | (mode & 0o111))


def _zip_members(archive: Path) -> Iterator[tuple[str, str, IO[bytes] | None, int]]:
    """(name, kind: file|dir|other, stream, unix mode) for each member of a zip."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            mode = info.external_attr >> 16 if info.create_system == 3 else 0  # 3: made on unix
            kind = stat.S_IFMT(mode)  # 0 when the zip stores no unix type
            if info.is_dir():
                yield info.filename, "dir", None, 0
            elif kind and kind != stat.S_IFREG:
                yield info.filename, "other", None, 0  # a symlink (unix mode in the zip), a device
            elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                # bzip2 and lzma decode without an output limit: a 2 KB member can take gigabytes
                # of memory before the byte cap sees a byte. Students' zips are deflated.
                raise FetchError(msg("fetch.compression", archive=archive.name, name=info.filename))
            else:
                with zipped.open(info) as stream:
                    yield info.filename, "file", stream, mode


def _tar_members(archive: Path) -> Iterator[tuple[str, str, IO[bytes] | None, int]]:
    with tarfile.open(archive, mode="r:*") as tarred:
        for member in tarred:
            if member.isdir():
                yield member.name, "dir", None, 0
            elif member.isfile():
                yield member.name, "file", tarred.extractfile(member), member.mode
            else:
                yield member.name, "other", None, 0  # links (symbolic or hard), devices, FIFOs


def extract(archive: Path, dest: Path) -> tuple[Path, tuple[str, ...]]:
    """Extract `archive` into `dest` member by member: regular files and folders only, never a
    path outside `dest`, at most MAX_FILES files and folders and MAX_BYTES bytes. A single top
    folder (what zipping a folder gives) is unwrapped. Returns (the folder to grade, notes for
    the TA). Run it through extract_bounded() for an archive nobody checked: a decoder can take
    memory this process cannot bound (tar's long-name headers are read whole)."""
    dest.mkdir(parents=True)
    budget = _Budget(archive)
    members = _zip_members if archive.name.lower().endswith(".zip") else _tar_members
    try:
        for name, kind, stream, mode in members(archive):
            path = _member_path(name)
            if path is None or kind == "other":
                if not name.replace("\\", "/").startswith("__MACOSX"):
                    budget.skip(name)
                continue
            budget.entry()
            target = dest.joinpath(*path.parts)
            if kind == "dir":
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.is_dir():
                budget.skip(name)
                continue
            assert stream is not None
            budget.copy(stream, target, mode)
    except (FetchError, MemoryError):
        raise  # MemoryError: extract_bounded's child says so by its exit
    except Exception as exc:  # whatever a damaged or hostile archive makes a decoder raise
        raise FetchError(msg("fetch.unreadable", archive=archive.name, error=f"{type(exc).__name__}: {exc}")) from exc
    entries = list(dest.iterdir())
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
    notes = tuple(msg("fetch.left_out", archive=archive.name, name=n) for n in budget.skipped)
    if budget.more_skipped:
        notes += (msg("fetch.left_out_more", archive=archive.name, count=budget.more_skipped),)
    return root, notes


def extract_bounded(
    archive: Path, dest: Path, memory: int = EXTRACT_MEMORY, timeout: float = 300
) -> tuple[Path, tuple[str, ...]]:
    """extract() in a child process that may use `memory` bytes of address space and `timeout`
    seconds: a decompression bomb ends that process, never the batch grading the class."""

    try:
        done = subprocess.run(
            # -P: the working directory (perhaps a folder of submissions) is not on sys.path
            [
                sys.executable,
                "-P",
                "-m",
                "grader.classroom.fetch",
                str(archive),
                str(dest),
                str(memory),
                current_language(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise FetchError(msg("fetch.extract_slow", archive=archive.name, seconds=f"{timeout:.0f}")) from exc
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = {"error": msg("fetch.extract_memory", archive=archive.name, mib=memory // 2**20)}
    if "error" in answer:
        raise FetchError(str(answer["error"]))
    return Path(answer["root"]), tuple(answer["notes"])


def _main(argv: list[str]) -> int:
    """`python -m grader.classroom.fetch ARCHIVE DEST MEMORY [LANG]`: extract() for extract_bounded(), in at
    most MEMORY bytes of address space (set here: a preexec_fn is unsafe in the threaded batch)."""
    memory = int(argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        with language(argv[3] if len(argv) > 3 else "en"):
            root, notes = extract(Path(argv[0]), Path(argv[1]))
    except FetchError as exc:
        print(json.dumps({"error": str(exc)}))
    except MemoryError:
        return 1  # no JSON: the caller names the memory cap
    else:
        print(json.dumps({"root": str(root), "notes": list(notes)}))
    return 0


# -- what was graded --------------------------------------------------------------------------------
def tree_hash(root: Path) -> str:
    """sha256 over what a run grades: every path (folders too, empty ones included), each file's
    contents and whether it is executable, each link's target; .git left out. The same folder or
    archive gives the same hash on any machine, whatever the timestamps; names are hashed as the
    file system's bytes (a Latin-1 name from an old zip is no error)."""
    digest = hashlib.sha256()
    for directory, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if f != ".git")
        for name in [*folders, *sorted(files)]:
            path = Path(directory, name)
            digest.update(os.fsencode(path.relative_to(root).as_posix()) + b"\0")
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                digest.update(b"link\0" + os.fsencode(os.readlink(path)) + b"\0")
            elif stat.S_ISDIR(mode):
                digest.update(b"folder\0")
            elif not stat.S_ISREG(mode):
                digest.update(b"special\0")  # never opened: a FIFO would block (the copy skips them)
            else:
                digest.update(b"executable\0" if mode & 0o111 else b"file\0")
                try:
                    with path.open("rb") as handle:
                        while chunk := handle.read(_CHUNK):
                            digest.update(chunk)
                except OSError:
                    digest.update(b"unreadable")
                digest.update(b"\0")
    return "sha256:" + digest.hexdigest()


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
