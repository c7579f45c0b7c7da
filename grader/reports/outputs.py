"""Where a report goes after a run: files in each format, and GitHub Actions' summary,
annotations and step outputs when running there. Driven by the JSON report only."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from grader.reports import formats
from grader.reports.document import write_text_atomic


@dataclass(frozen=True)
class Targets:
    json: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    gradescope: Path | None = None
    classroom: bool = False


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def _annotation_prefix(submission_path: str, workspace: str | None) -> str:
    """Annotations need paths from the repository root; the graded folder may be a subfolder."""
    if not workspace:
        return ""
    relative = os.path.relpath(os.path.realpath(submission_path), os.path.realpath(workspace))
    return "" if relative == "." or relative.startswith("..") else relative.rstrip("/") + "/"


def emit(doc: dict[str, Any], targets: Targets, env: Mapping[str, str], stdout: TextIO) -> None:
    if targets.json:
        write_text_atomic(targets.json, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if targets.junit:
        write_text_atomic(targets.junit, formats.junit(doc))
    if targets.markdown:
        write_text_atomic(targets.markdown, formats.markdown(doc))
    if targets.gradescope:
        write_text_atomic(targets.gradescope, json.dumps(formats.gradescope(doc), indent=2, ensure_ascii=False) + "\n")

    if env.get("GITHUB_STEP_SUMMARY"):
        _append(env["GITHUB_STEP_SUMMARY"], formats.markdown(doc))
    if env.get("GITHUB_ACTIONS") == "true":
        prefix = _annotation_prefix(doc["submission"]["path"], env.get("GITHUB_WORKSPACE"))
        for line in formats.github_annotations(doc, prefix):
            stdout.write(line + "\n")
    graded = doc["status"] == "graded"
    # An incomplete or failed run has no score to record: a workflow reading `score` gets none.
    outputs = {"score": f"{doc['score']:g}" if graded else "", "max-score": f"{doc['max_score']:g}"}
    outputs["status"] = doc["status"]
    if targets.json:
        outputs["report"] = str(targets.json)
    if targets.classroom:
        outputs["result"] = formats.classroom(doc)
    if env.get("GITHUB_OUTPUT"):
        _append(env["GITHUB_OUTPUT"], "".join(f"{k}={v}\n" for k, v in outputs.items()))
    elif targets.classroom:
        stdout.write(f"result={outputs['result']}\n")
