"""What a batch's report depends on, as digests: `--resume` keeps a report whose fingerprint
(the work's version, the rubric with its grading values, the grader's own code, the options) is
the same."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from grader.intake.rubric import load as load_rubric


def rubric_digest(path: Path | None) -> str:
    """The rubric as a run reads it: its file and the grading values it loads from other files
    (`environment.files`), which an instructor may edit without touching the rubric."""
    if path is None:
        return "default"
    rubric = load_rubric(path)
    digest = hashlib.sha256(path.read_bytes())
    digest.update(json.dumps(sorted(rubric.environment.items())).encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """The grader's own code (every module of grader/ and checks/): a change to it may change a
    verdict, whatever the version number says."""
    digest = hashlib.sha256()
    for folder in ("grader", "checks"):
        base = Path(__file__).resolve().parents[2]  # what holds grader/ and checks/
        for path in sorted((base / folder).rglob("*.py")):  # grader/commands/ too
            digest.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
