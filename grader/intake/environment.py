"""The instructor's grading environment: values a submission needs but does not commit (its
`.env.development` with keys and DB settings). Written only into the grader's working copy,
only where the submission's own file is missing or lacks a key; never into the submission."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from grader.intake.untrusted import UnsafeInput, inherited_names, load_compose
from grader.messages import msg

MAX_ENV_FILES = 100  # per compose file: a homework names two or three


def env_files_named(compose_text: str) -> list[str]:
    """The env_file paths of every service, as written (string, list, or {path, required}); at
    most MAX_ENV_FILES. Whatever else a stranger's file holds there is compose's to reject."""
    try:
        data = load_compose(compose_text, "compose file")
    except (yaml.YAMLError, UnsafeInput):
        return []
    services = data.get("services") if isinstance(data, dict) else None
    found: dict[str, None] = {}
    for service in services.values() if isinstance(services, dict) else ():
        entries: Any = service.get("env_file") if isinstance(service, dict) else None
        for entry in [entries] if isinstance(entries, (str, dict)) else entries if isinstance(entries, list) else []:
            path = entry.get("path") if isinstance(entry, dict) else entry
            if isinstance(path, str) and "\0" not in path:
                found[path] = None
            if len(found) >= MAX_ENV_FILES:
                return list(found)
    return list(found)


def parse_env(text: str) -> dict[str, str]:
    """KEY=value lines of an env file (comments, blanks and `export ` prefixes allowed)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def files_to_fill(compose_text: str) -> list[str]:
    """The env files a run may have to write, as the compose file names them: every `env_file`,
    and `.env`, compose's interpolation file, when the compose file interpolates or names an
    `environment:` variable with no value (compose fills it from `.env`); once each."""
    names = env_files_named(compose_text)
    if "$" in compose_text.replace("$$", "") or _inherits(compose_text):
        names.append(".env")
    return list(dict.fromkeys(names))


def _inherits(compose_text: str) -> bool:
    try:
        return bool(inherited_names(load_compose(compose_text, "compose file")))
    except (yaml.YAMLError, UnsafeInput):
        return False


def provide(root: Path, compose_text: str, values: dict[str, str]) -> list[str]:
    """Fill the working copy's env files (and `.env`, compose's interpolation file, when the
    compose file interpolates) from the instructor's values. Returns one note per file touched,
    naming files and keys, never values."""
    if not values:
        return []
    notes: list[str] = []
    for name in files_to_fill(compose_text):
        path = (root / name).resolve()
        if not path.is_relative_to(root.resolve()) or "${" in name or (path.exists() and not path.is_file()):
            continue  # never outside the copy; an interpolated path or a folder is compose's business
        existing = path.read_text(errors="replace") if path.is_file() else None
        present = parse_env(existing or "")
        missing = {k: v for k, v in values.items() if k not in present}
        if not missing:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(f"{k}={v}\n" for k, v in missing.items())
        if existing is None:
            path.write_text("# written by compose-grader from the instructor's grading values\n" + lines)
            notes.append(msg("env.written", file=name))
        else:
            separator = "" if existing.endswith("\n") or not existing else "\n"
            path.write_text(existing + separator + lines)
            notes.append(msg("env.completed", file=name, keys=", ".join(sorted(missing))))
        os.chmod(path, 0o644)
    return notes


# What a cohort commits in place of the env file it keeps out of git, most specific first.
EXAMPLE_SUFFIXES = (".example", ".sample", ".template", ".dist")
EXAMPLE_NAMES = (".env.example", ".env.sample", ".env.template", ".env.development", ".env.dev")
MAX_EXAMPLE_BYTES = 256 << 10  # grader.intake.resolve.MAX_ENV_BYTES: an example is an env file too


def in_repository(name: str) -> bool:
    """An env file's name as compose resolves it inside the repository: not interpolated (`$`),
    not absolute, no `..`. Any other is compose's business, and the screen's."""
    pure = PurePosixPath(name)
    return "$" not in name and not pure.is_absolute() and ".." not in pure.parts and bool(pure.parts)


def example_beside(folder: Path, name: str, accept: Callable[[Path], bool]) -> str | None:
    """The example a student committed beside env file `name` in `folder` (`.env.example`,
    `.env.sample`, ..., then the usual names), the first `accept` takes: what stands in for it."""
    candidates = [name + suffix for suffix in EXAMPLE_SUFFIXES] + list(EXAMPLE_NAMES)
    return next((c for c in candidates if c != name and accept(folder / c)), None)


def _regular(path: Path) -> bool:
    """A regular file of the copy, not a link (the copy keeps links inside the repository; an
    example that is a link to another file is that file's business, not a stand-in)."""
    try:
        info = path.lstat()
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= MAX_EXAMPLE_BYTES


def stand_in_examples(root: Path, compose_text: str) -> list[tuple[str, str]]:
    """For each env file the compose file names (and `.env`, when it interpolates) that is not in
    the copy, the example the student committed beside it (`.env.example`, `.env.sample`, ...),
    copied under the missing name in the copy: (the missing file, the example), as written.
    Only called when the rubric supplies no grading values: the instructor's values come first.
    Never written through a link: the folder must resolve inside the copy, and the file is created,
    never opened if something is already there."""
    inside = root.resolve()
    used: list[tuple[str, str]] = []
    for name in files_to_fill(compose_text):
        if not in_repository(name):
            continue
        pure = PurePosixPath(name)
        missing = root / pure
        folder = missing.parent
        try:
            if os.path.lexists(missing) or not folder.resolve().is_relative_to(inside) or not folder.is_dir():
                continue
        except (OSError, ValueError):
            continue
        example = example_beside(folder, pure.name, _regular)
        if example is None:
            continue
        try:
            data = (folder / example).read_bytes()[:MAX_EXAMPLE_BYTES]
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            descriptor = os.open(folder.resolve() / pure.name, flags, 0o644)
        except OSError:
            continue
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        used.append((name, (pure.parent / example).as_posix()))
    return used
