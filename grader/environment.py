"""The instructor's grading environment: values a submission needs but does not commit (its
`.env.development` with keys and DB settings). Written only into the grader's working copy,
only where the submission's own file is missing or lacks a key; never into the submission."""

from __future__ import annotations

import os
from pathlib import Path
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
