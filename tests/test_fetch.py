"""Getting a student's work: git at a deadline, archives extracted safely, what was graded."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from grader.classroom import fetch
from grader.classroom.fetch import FetchError, clone, extract, tree_hash
from grader.classroom.roster import Entry, Kind
from tests.conftest import git

BEFORE, DEADLINE, AFTER = "2026-12-01T10:00:00+00:00", "2026-12-01T23:59:00+00:00", "2026-12-02T09:00:00+00:00"


def _git(repo: Path, *args: str, when: str = BEFORE) -> str:
    return git(repo, *args, when=when)


def _commit(repo: Path, text: str, when: str) -> str:
    (repo / "Dockerfile").write_text(text)
    _git(repo, "add", "-A", when=when)
    _git(repo, "commit", "-q", "-m", text, when=when)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A student's repository: a commit before the deadline, one after it."""
    path = tmp_path / "student"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    before = _commit(path, "FROM node:18\n", BEFORE)
    after = _commit(path, "FROM node:20\n", AFTER)
    return path, before, after


def test_without_a_deadline_the_tip_is_graded(repo: tuple[Path, str, str], tmp_path: Path) -> None:
    path, _, after = repo
    fetched = clone(str(path), "", tmp_path / "out")
    assert fetched.commit == after
    assert (fetched.root / "Dockerfile").read_text() == "FROM node:20\n"
    assert not (fetched.root / ".git").exists()


def test_with_a_deadline_the_last_commit_before_it_is_graded(repo: tuple[Path, str, str], tmp_path: Path) -> None:
    path, before, _ = repo
    fetched = clone(str(path), "", tmp_path / "out", datetime.fromisoformat(DEADLINE))
    assert fetched.commit == before
    assert (fetched.root / "Dockerfile").read_text() == "FROM node:18\n"


def test_a_repository_with_no_commit_before_the_deadline_says_so(repo: tuple[Path, str, str], tmp_path: Path) -> None:
    path, _, _ = repo
    with pytest.raises(FetchError, match=r"no commit at or before the deadline 2026-11-30.*first is from 2026-12-01"):
        clone(str(path), "", tmp_path / "out", datetime(2026, 11, 30, tzinfo=timezone.utc))


def test_a_branch_and_a_commit_can_be_named(repo: tuple[Path, str, str], tmp_path: Path) -> None:
    path, before, after = repo
    _git(path, "checkout", "-q", "-b", "entrega")
    on_branch = _commit(path, "FROM node:22\n", AFTER)
    _git(path, "checkout", "-q", "main")
    assert clone(str(path), "entrega", tmp_path / "a").commit == on_branch
    assert clone(str(path), before, tmp_path / "b").commit == before
    assert clone(str(path), "main", tmp_path / "c").commit == after


def test_a_full_commit_id_is_that_commit_even_with_a_branch_named_like_it(
    repo: tuple[Path, str, str], tmp_path: Path
) -> None:
    """Some git servers let a branch be named like a commit: the service grades the commit it
    stored, never the branch a student made to point at later work under that name."""
    path, before, after = repo
    _git(path, "branch", before, after)  # a branch named `before`'s id, pointing at `after`
    fetched = clone(str(path), before, tmp_path / "out")
    assert fetched.commit == before
    assert (fetched.root / "Dockerfile").read_text() == "FROM node:18\n"


@pytest.mark.parametrize(
    "location, message",
    [
        pytest.param("ext::sh -c touch% /tmp/pwned", "not allowed", id="ext-runs-a-command"),
        pytest.param("fd::3", "not allowed", id="fd"),
        pytest.param("/no/such/repository", "no such repository", id="missing-path"),
    ],
)
def test_dangerous_or_missing_repositories_are_refused(tmp_path: Path, location: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        clone(location, "", tmp_path / "out")
    assert not Path("/tmp/pwned").exists()


def test_a_roster_row_without_a_repository_is_a_reason(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no repository"):
        fetch.fetch(Entry("carol", "carol", Kind.MISSING, ""), tmp_path)


# -- archives ------------------------------------------------------------------------------------------
def _zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symbolic link, as zip -y stores it
            zipped.writestr(info, target)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tarred:
        for info in members:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            tarred.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def test_a_single_top_folder_is_unwrapped(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ana.zip", {"api-main/Dockerfile": b"FROM node\n", "api-main/src/main.ts": b"x"})
    root, notes = extract(archive, tmp_path / "out")
    assert root == tmp_path / "out" / "api-main"
    assert (root / "src" / "main.ts").read_bytes() == b"x" and notes == ()


def test_macos_metadata_is_left_out_quietly(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ana.zip", {"api/Dockerfile": b"FROM node\n", "__MACOSX/api/._Dockerfile": b"x"})
    root, notes = extract(archive, tmp_path / "out")
    assert root.name == "api" and notes == () and not (tmp_path / "out" / "__MACOSX").exists()


def test_a_zip_cannot_write_outside_its_folder(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "evil.zip",
        {"../escaped.txt": b"x", "/abs.txt": b"x", "ok/Dockerfile": b"FROM node\n", "C:\\win.txt": b"x"},
        links={"ok/passwd": "/etc/passwd"},
    )
    root, notes = extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists() and not Path("/abs.txt").exists()
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["Dockerfile", "ok"]
    assert root == tmp_path / "out" / "ok"
    assert len(notes) == 4 and all("left out" in n for n in notes)


def test_a_tar_s_links_devices_and_climbing_paths_are_left_out(tmp_path: Path) -> None:
    link = tarfile.TarInfo("api/passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("api/shadow")
    hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/shadow"
    fifo = tarfile.TarInfo("api/pipe")
    fifo.type = tarfile.FIFOTYPE
    climb = tarfile.TarInfo("../../escaped")
    archive = _tar(
        tmp_path / "evil.tar.gz",
        [tarfile.TarInfo("api/Dockerfile"), link, hard, fifo, climb],
        {"api/Dockerfile": b"FROM node\n", "../../escaped": b"x"},
    )
    root, notes = extract(archive, tmp_path / "out")
    assert [p.name for p in root.iterdir()] == ["Dockerfile"]
    assert not (tmp_path.parent / "escaped").exists()
    assert len(notes) == 4


def test_a_zip_bomb_stops_at_the_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "MAX_BYTES", 1024 * 1024)
    archive = _zip(tmp_path / "bomb.zip", {"big.bin": b"\0" * (5 * 1024 * 1024)})  # 5 KB compressed
    assert archive.stat().st_size < 64 * 1024
    with pytest.raises(FetchError, match="more than 1 MiB once extracted"):
        extract(archive, tmp_path / "out")


def test_too_many_files_stop_at_the_count_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "MAX_FILES", 10)
    archive = _zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(11)})
    with pytest.raises(FetchError, match="more than 10 files"):
        extract(archive, tmp_path / "out")


def test_a_damaged_archive_is_a_reason(tmp_path: Path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(FetchError, match="not a readable archive"):
        extract(tmp_path / "broken.zip", tmp_path / "out")


# -- what was graded ------------------------------------------------------------------------------------
def test_the_content_hash_is_the_files_not_their_times(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        (folder / "src").mkdir(parents=True)
        (folder / "src" / "main.ts").write_text("x")
        (folder / ".git").mkdir()
    (b / ".git" / "HEAD").write_text("ref: main")  # .git is never graded
    os.utime(a / "src" / "main.ts", (0, 0))
    assert tree_hash(a) == tree_hash(b)
    (b / "src" / "main.ts").write_text("y")
    assert tree_hash(a) != tree_hash(b)


def test_the_content_hash_does_not_open_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")  # opening it would wait for a writer forever
    assert tree_hash(tmp_path).startswith("sha256:")


def test_a_bzip2_member_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    """bzip2 and lzma decode without an output limit: 2 KB can become gigabytes in memory."""
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_BZIP2) as zipped:
        zipped.writestr("big.bin", b"\0" * (50 * 1024 * 1024))
    with pytest.raises(FetchError, match="compression other than deflate"):
        extract(archive, tmp_path / "out")


def test_a_decoder_bomb_ends_the_extracting_process_not_the_batch(tmp_path: Path) -> None:
    """A tar long-name header is read whole by tarfile: a small .tar.gz claiming a 300 MB name."""
    header = tarfile.TarInfo("././@LongLink")
    header.type, header.size = tarfile.GNUTYPE_LONGNAME, 300 * 1024 * 1024
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as tarred:
        tarred.addfile(header, io.BytesIO(b"a" * header.size))
    assert archive.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(FetchError, match="more than 256 MiB of memory"):
        fetch.extract_bounded(archive, tmp_path / "out", memory=256 * 1024 * 1024)


def test_a_bounded_extraction_gives_what_extract_gives(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ana.zip", {"api/Dockerfile": b"FROM node\n"}, links={"api/passwd": "/etc/passwd"})
    root, notes = fetch.extract_bounded(archive, tmp_path / "out")
    assert root == tmp_path / "out" / "api" and (root / "Dockerfile").is_file() and len(notes) == 1


def test_executable_bits_survive_an_archive(tmp_path: Path) -> None:
    script = tarfile.TarInfo("api/entrypoint.sh")
    script.mode = 0o4755  # setuid is not kept, the executable bits are
    archive = _tar(tmp_path / "ana.tar.gz", [script], {"api/entrypoint.sh": b"#!/bin/sh\n"})
    root, _ = extract(archive, tmp_path / "out")
    assert (root / "entrypoint.sh").stat().st_mode & 0o7777 == 0o755


def test_the_content_hash_sees_modes_empty_folders_and_odd_names(tmp_path: Path) -> None:
    (tmp_path / "entrypoint.sh").write_text("#!/bin/sh\n")
    first = tree_hash(tmp_path)
    (tmp_path / "entrypoint.sh").chmod(0o755)
    second = tree_hash(tmp_path)
    (tmp_path / "uploads").mkdir()
    third = tree_hash(tmp_path)
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name")  # not UTF-8: no error
    assert len({first, second, third, tree_hash(tmp_path)}) == 4


def test_the_extracting_process_never_imports_code_from_where_the_batch_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TA in a folder of submissions, one of them named `grader/`: `python -m grader.classroom.fetch`
    would import it, on the host, unless the working directory is off sys.path (-P)."""
    planted = tmp_path / "submissions" / "grader"
    planted.mkdir(parents=True)
    (planted / "__init__.py").write_text("")
    (planted / "fetch.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('student code ran')\n")
    monkeypatch.chdir(tmp_path / "submissions")
    archive = _zip(tmp_path / "ana.zip", {"api/Dockerfile": b"FROM node\n"})
    root, _ = fetch.extract_bounded(archive, tmp_path / "out")
    assert (root / "Dockerfile").is_file() and not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    "deadline",
    [pytest.param(None, id="shallow-tip"), pytest.param(datetime(2030, 1, 1, tzinfo=timezone.utc), id="at-a-deadline")],
)
def test_a_clone_stops_at_the_size_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deadline: datetime | None
) -> None:
    # A small pack that checks out big (zeros compress ~1000:1): capped like an archive.
    monkeypatch.setattr(fetch, "MAX_BYTES", 2 << 20)
    path = tmp_path / "big"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    (path / "zeros.bin").write_bytes(bytes(8 << 20))
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "big")
    with pytest.raises(FetchError, match="more than 2 MiB"):
        fetch.clone(str(path), "", tmp_path / "out", deadline)


def test_a_clone_stops_at_the_file_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "MAX_FILES", 150)
    path = tmp_path / "many"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    for i in range(300):
        (path / f"f{i}.txt").write_text(str(i))
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "many")
    with pytest.raises(FetchError, match="more than 150 files"):
        fetch.clone(str(path), "", tmp_path / "out")
