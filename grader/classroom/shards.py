"""Several batch outputs (shards of a class graded apart, on a CI matrix) merged into one, with its
gradebook."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.classroom import gradebook
from grader.classroom.gradebook import META, REPORT, Row
from grader.errors import BadInput


def merge(folders: Sequence[Path], out: Path) -> list[Row]:
    """The students of several batch outputs (shards) in one, and its gradebook. Only a batch's
    student folders count (a report and its batch.json). The outputs must have been graded alike
    (rubric, language, deadline, formats, grader): a gradebook mixing them would compare grades
    that do not compare. A student in two of them is an error when the work differs; for the same
    work, a graded report wins over one that is not."""
    out.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Path] = {}
    for folder in [out, *folders]:
        if not folder.is_dir():
            raise BadInput(f"{folder}: not a folder")
        for student in sorted(p for p in folder.iterdir() if (p / REPORT).is_file() and (p / META).is_file()):
            fingerprint = dict(_json(student / META).get("fingerprint") or {})
            fingerprint.pop("version", None)
            key = json.dumps(fingerprint, sort_keys=True)
            if fingerprint and key not in settings:
                if settings:
                    other = next(iter(settings.values()))
                    raise BadInput(f"{student} was graded with other settings than {other}: {key}")
                settings[key] = student
            if folder.resolve() == out.resolve():
                continue
            target = out / student.name
            if target.exists():
                if _version(target) != _version(student):
                    raise BadInput(f"{student.name} is in two outputs with different work: {target} and {student}")
                graded = [_json(f / REPORT).get("status") == "graded" for f in (target, student)]
                if graded[0] or not graded[1]:
                    continue
                shutil.rmtree(target)
            shutil.copytree(student, target)
    rows = gradebook.read_rows(out)
    gradebook.write(out, rows)
    return rows


def _version(folder: Path) -> str:
    return str((_json(folder / META).get("fingerprint") or {}).get("version", ""))


def _json(path: Path) -> dict[str, Any]:
    return gradebook.read_object(path) or {}
