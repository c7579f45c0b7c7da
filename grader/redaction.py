"""What the reports must not show: the instructor's grading secrets, and nothing else.

A value is secret when the rubric marks its key (or the key is named like a credential) and the
submission does not already contain it: a password the student committed is no secret of the
instructor's, and masking it would only blank out their own words. Values everybody uses
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
# Enough to read a homework repository's own files; dependencies are not the student's words.
SKIPPED_DIRS = frozenset({".git", "node_modules", "dist", "build", ".next", "coverage"})
MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 32 << 20


def submission_text(root: Path) -> str:
    """The text of the submission's own files (bounded), to tell its values from the rubric's."""
    parts: list[str] = []
    total = 0
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            path = Path(directory) / name
            try:
                if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                return "\n".join(parts)
            parts.append(data.decode("utf-8", errors="replace"))
    return "\n".join(parts)


def secrets(values: Iterable[str], submission: str) -> tuple[str, ...]:
    """The values to mask: long enough, not common, not already in the submission's text."""
    chosen = {v for v in values if len(v) >= MIN_LENGTH and v.lower() not in COMMON and v not in submission}
    return tuple(sorted(chosen, key=len, reverse=True))


def redact(text: str, values: tuple[str, ...]) -> str:
    for value in values:  # longest first, so a secret containing another is masked whole
        if len(value) >= WHOLE_WORD_BELOW:
            text = text.replace(value, "***")
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", "***", text)
    return text
