"""What the reports must not show: the instructor's grading secrets, and nothing else.

A value is secret when the rubric marks its key (or the key is named like a credential) and the
submission does not assign it to that key itself: a password the student committed is no secret
of the instructor's, and masking it would only blank out their own words. Values everybody uses
(`postgres`, `admin`, `1234`) are never masked: with `POSTGRES_PASSWORD=postgres`, masking made
"`postgres` stopped" read "`***` stopped" and `/var/lib/postgresql` read `/var/lib/***ql`. Short
values are masked only as whole words; long ones (which no word contains) wherever they appear."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

# Defaults and tutorial values: knowing them reveals nothing, masking them garbles feedback.
COMMON = frozenset(
    {
        "postgres",
        "postgresql",
        "admin",
        "administrator",
        "root",
        "user",
        "users",
        "password",
        "pass",
        "secret",
        "test",
        "example",
        "changeme",
        "default",
        "guest",
        "public",
        "docker",
        "node",
        "true",
        "false",
        "localhost",
        "database",
        "db",
        "1234",
        "12345",
        "123456",
        "1234567",
        "12345678",
        "123456789",
        "qwerty",
    }
)
MIN_LENGTH = 4  # shorter values cannot be told from ordinary words and numbers
WHOLE_WORD_BELOW = 12  # shorter values are masked only where they stand alone
# Where a submission assigns values: its env files and compose files. Real ones are a few KB; the
# bound keeps a submission from listing every candidate value to unmask the real one.
_ASSIGNING = re.compile(r"(^\.env(\..*)?$|\.env$|^(docker-)?compose(\.[\w-]+)?\.ya?ml$)", re.I)
SKIPPED_DIRS = frozenset({".git", "node_modules", "dist", "build", ".next", "coverage"})
MAX_TOTAL_BYTES = 256 << 10


def submission_assignments(root: Path) -> str:
    """The text of the submission's env and compose files (bounded), to tell a value the student
    assigned from one only the rubric knows."""
    parts: list[str] = []
    total = 0
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(n for n in files if _ASSIGNING.search(n)):
            path = Path(directory) / name
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                with path.open("rb") as handle:  # never the whole of a huge file
                    data = handle.read(MAX_TOTAL_BYTES - total)
            except OSError:
                continue
            total += len(data)
            parts.append(data.decode("utf-8", errors="replace"))
            if total >= MAX_TOTAL_BYTES:
                return "\n".join(parts)
    return "\n".join(parts)


def _assigned(key: str, value: str, text: str) -> bool:
    """`KEY=value` (env file, `- KEY=value`) or `KEY: value` (compose), quoted or not, alone on its line."""
    quote = "[\"']?"
    pattern = (
        rf"^\s*(?:export\s+|-\s*)?{quote}{re.escape(key)}{quote}\s*[:=]\s*{quote}{re.escape(value)}{quote}\s*(?:#.*)?$"
    )
    return re.search(pattern, text, re.MULTILINE) is not None


def secrets(items: Iterable[tuple[str, str]], assignments: str) -> tuple[str, ...]:
    """The values to mask: long enough, not common, and not assigned to the same key by the
    submission itself (a password the student committed). A value merely appearing somewhere in
    the submission does not count: a list of every candidate would unmask any secret."""
    chosen = {
        v for k, v in items if len(v) >= MIN_LENGTH and v.lower() not in COMMON and not _assigned(k, v, assignments)
    }
    return tuple(sorted(chosen, key=len, reverse=True))


# GitHub Actions reads a log line as a workflow command when, leading spaces trimmed, it starts with
# `::` (`::notice title=Autograding::Points 100/100`, `::stop-commands::`, `::add-mask::`) or `##[`.
# The runner also splits lines at a lone carriage return, so such a text anywhere on a line can
# start one. A zero-width space between the two characters keeps the text readable and inert.
_COMMAND_PAIRS = re.compile(r"(?<=:)(?=:)|(?<=#)(?=#\[)")
_ZWSP = "\u200b"


def inert(text: str) -> str:
    """`text` from a submission made safe to print in a CI log: no `::` and no `##[` left
    anywhere in it (idempotent: `:::` becomes three colons with a space between each pair)."""
    return _COMMAND_PAIRS.sub(_ZWSP, text)


def redact(text: str, values: tuple[str, ...]) -> str:
    for value in values:  # longest first, so a secret containing another is masked whole
        if len(value) >= WHOLE_WORD_BELOW:
            text = text.replace(value, "***")
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", "***", text)
    return text
