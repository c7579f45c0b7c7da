"""The instructor's grading environment: values a submission needs but does not commit (its
`.env.development` with keys and DB settings). Written only into the grader's working copy,
only where the submission's own file is missing or lacks a key; never into the submission."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from grader.messages import msg
from grader.untrusted import UnsafeInput, load_compose


def env_files_named(compose_text: str) -> list[str]:
    """The env_file paths of every service, as written (string, list, or {path, required})."""
    try:
        data = load_compose(compose_text, "compose file")
    except (yaml.YAMLError, UnsafeInput):
        return []
    services = (data or {}).get("services") if isinstance(data, dict) else None
    found: list[str] = []
    for service in (services or {}).values():
        entries: Any = (service or {}).get("env_file") if isinstance(service, dict) else None
        for entry in [entries] if isinstance(entries, (str, dict)) else entries or []:
            path = entry.get("path") if isinstance(entry, dict) else entry
            if isinstance(path, str) and path not in found:
                found.append(path)
    return found


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


def provide(root: Path, compose_text: str, values: dict[str, str]) -> list[str]:
    """Fill the working copy's env files (and `.env`, compose's interpolation file, when the
    compose file interpolates) from the instructor's values. Returns one note per file touched,
    naming files and keys, never values."""
    if not values:
        return []
    names = env_files_named(compose_text)
    if "${" in compose_text or "$" in compose_text.replace("$$", ""):
        names.append(".env")
    notes: list[str] = []
    for name in dict.fromkeys(names):
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
MAX_EXAMPLE_BYTES = 256 << 10  # grader.resolve.MAX_ENV_BYTES: an example is an env file too


def _regular(path: Path) -> bool:
    """A regular file of the copy, not a link (the copy keeps links inside the repository; an
    example that is a link to another file is that file's business, not a stand-in)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= MAX_EXAMPLE_BYTES


def stand_in_examples(root: Path, compose_text: str) -> list[tuple[str, str]]:
    """For each env file the compose file names (and `.env`, when it interpolates) that is not in
    the copy, the example the student committed beside it (`.env.example`, `.env.sample`, ...),
    copied under the missing name in the copy: (the missing file, the example), as written.
    Only called when the rubric supplies no grading values: the instructor's values come first."""
    names = env_files_named(compose_text)
    if "${" in compose_text or "$" in compose_text.replace("$$", ""):
        names.append(".env")
    used: list[tuple[str, str]] = []
    for name in dict.fromkeys(names):
        pure = PurePosixPath(name)
        if "$" in name or pure.is_absolute() or ".." in pure.parts:
            continue  # interpolated or outside: compose's business (and the screen's)
        missing = root / pure
        if os.path.lexists(missing):
            continue
        folder = missing.parent
        candidates = [pure.name + suffix for suffix in EXAMPLE_SUFFIXES] + list(EXAMPLE_NAMES)
        example = next((c for c in candidates if c != pure.name and _regular(folder / c)), None)
        if example is None or not folder.is_dir() or folder.is_symlink():
            continue
        shutil.copyfile(folder / example, missing, follow_symlinks=False)
        os.chmod(missing, 0o644)
        used.append((name, (pure.parent / example).as_posix()))
    return used
