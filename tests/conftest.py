from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import docker
import pytest

from grader.intake.rubric import Rubric
from grader.intake.rubric import load as load_rubric
from grader.run.context import Options, Prepared

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "fixtures" / "submissions"
EXPECTED = ROOT / "fixtures" / "expected"
RUBRICS = ROOT / "fixtures" / "rubrics"


def fixture_rubric(expected: dict[str, Any]) -> Rubric:
    """The course rubric an expected file names (`rubric`), else the built-in one."""
    return load_rubric(RUBRICS / expected["rubric"]) if "rubric" in expected else Rubric()


def fixture_options(expected: dict[str, Any], rubric: Rubric) -> Options:
    """A fixture graded with a course rubric takes its options from it, else from `options`."""
    return Options.of(rubric) if "rubric" in expected else Options(**expected.get("options", {}))


def compose_config(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`docker compose config` of the compose.yaml in `folder`, with the environment the grader
    gives compose (no engine needed: config only parses)."""
    from grader.engine.connect import compose_command, compose_env

    return subprocess.run(
        [*compose_command(), "-f", "compose.yaml", "-p", "t", "config", *args],
        cwd=folder,
        env=compose_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def git(repo: Path, *args: str, when: str = "2026-12-01T10:00:00Z") -> str:
    """`git ARGS` in `repo` as a student whose commits are dated `when` (ISO 8601): a deadline is
    judged by those dates. Its stdout, stripped."""
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    env |= {"GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "s@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "Student", "GIT_COMMITTER_EMAIL": "s@example.invalid"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def tree_digest(folder: Path) -> str:
    """Names, modes, link targets and contents of everything under folder (byte-for-byte)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_mode}\0".encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


class HostSampler:
    """Samples the machine while a run grades: processes (all of /proc: container processes are
    the host's too) and MemAvailable, every 0.2 s, in a thread."""

    def __init__(self) -> None:
        self.baseline_processes = self.max_processes = _processes()
        self.baseline_available = self.min_available = _available()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.max_processes = max(self.max_processes, _processes())
            self.min_available = min(self.min_available, _available())

    def __enter__(self) -> HostSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _processes() -> int:
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def _available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


class EngineState(NamedTuple):
    """What a run may not leave behind or change: counts of containers, networks and volumes, every
    image id (build layers included) and which image every tag names (a re-tagged base image shows
    as a changed id)."""

    containers: int
    networks: int
    volumes: int
    image_ids: frozenset[str]
    tags: dict[str, str]


def engine_counts(client: docker.DockerClient) -> EngineState:
    # one call to the engine's list (grader.engine.cleanup.images): `images.list()` asks again per image,
    # a 404 when a reaper removes one in between
    images = client.api.images(all=True)
    return EngineState(
        containers=len(client.containers.list(all=True)),
        networks=len(client.networks.list()),
        volumes=len(client.volumes.list()),
        image_ids=frozenset(str(i["Id"]) for i in images),
        tags={t: str(i["Id"]) for i in images for t in i.get("RepoTags") or [] if t != "<none>:<none>"},
    )


def engine_changes(before: EngineState, after: EngineState) -> dict[str, object]:
    """What differs between two states, briefly: counts by how much, images by how many, tags by
    name (a tag that names another image, or appeared or vanished)."""
    changes: dict[str, object] = {
        key: getattr(after, key) - getattr(before, key)
        for key in ("containers", "networks", "volumes")
        if getattr(after, key) != getattr(before, key)
    }
    left, gone = after.image_ids - before.image_ids, before.image_ids - after.image_ids
    if left or gone:
        changes["images"] = f"+{len(left)} -{len(gone)}"
    moved = sorted(t for t in before.tags.keys() | after.tags.keys() if before.tags.get(t) != after.tags.get(t))
    if moved:
        changes["tags"] = moved
    return changes


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    # Docker tests are the heart of the suite: no engine is a failure, not a skip (`make test`
    # starts one). Deselect them explicitly with `-m 'not docker'` for a quick run.
    client = docker.from_env(timeout=60)
    client.ping()
    yield client
    client.close()


# English words that are no Spanish words: a Spanish text holding one outside code, quotes and
# placeholders holds an English sentence (`a`, `no`, `es`... are Spanish too, so not listed).
ENGLISH = frozenset(
    [
        "the",
        "is",
        "and",
        "your",
        "you",
        "not",
        "of",
        "with",
        "this",
        "that",
        "are",
        "was",
        "when",
        "which",
        "from",
        "has",
        "have",
        "it",
        "its",
        "be",
        "or",
        "to",
        "in",
        "on",
        "for",
        "by",
        "an",
        "at",
        "as",
        "if",
        "what",
        "could",
        "should",
        "would",
        "cannot",
        "does",
        "did",
    ]
)


def english_words(text: str) -> list[str]:
    """The English words of a Spanish text, outside `code`, quotes, {placeholders} and URLs."""
    import re

    fenced, code, placeholder, url = r"```.*?```", r"`[^`]*`", r"\{[^}]*\}", r"https?://\S+"
    for pattern in (fenced, code, placeholder, url, r"«[^»]*»", r"'[^']*'", r'"[^"]*"', r"<[^>]*>"):
        text = re.sub(pattern, " ", text, flags=re.DOTALL)
    # whole words only: `depends_on` or `pg_isready` outside backticks (a table cuts a sentence
    # short, and its backticks with it) holds no English word
    return sorted({w for w in re.findall(r"(?<!\w)[^\W\d_]+(?!\w)", text) if w.lower() in ENGLISH})


def on_a_stand_in_stack(tmp_path: Path, options: Options | None = None) -> Prepared:
    """A run prepared from the `complete` fixture (its model resolves without an engine) with a
    stand-in for its stack: for tests of the runner's handling of stack checks that never touch
    the stack itself."""
    from grader.run.prepare import prepare

    root = tmp_path / "complete"
    shutil.copytree(SUBMISSIONS / "complete", root)
    prepared = prepare(root, options or Options(), None, "grader-stand-in-test")
    assert prepared.context.resolution.project is not None
    stand_in: Any = object()  # any use of it fails the test: these checks must not touch it
    return prepared._replace(stack=stand_in)


def chromium() -> str:
    """Debian's chromium (the browser tests': a screenshot, Playwright's pages)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("Debian's chromium is needed for this test: `make setup` installs it")


GRADER_IMAGE = "compose-grader:test"


def build_grader_image(engine: docker.DockerClient) -> str:
    """The grader's own image (FROM python:3.11-slim: the official image, or the stand-in
    fixtures/images/build.sh made), tagged GRADER_IMAGE; the build an earlier run left under that
    tag is removed once this one replaces it (the engine keeps no image per change)."""
    import contextlib

    try:
        previous: str | None = str(engine.images.get(GRADER_IMAGE).id)
    except docker.errors.ImageNotFound:
        previous = None
    built, _ = engine.images.build(path=str(ROOT), tag=GRADER_IMAGE, rm=True, forcerm=True)
    if previous and previous != built.id:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            engine.images.remove(previous)
    return GRADER_IMAGE
