"""The report model as JSON (the source of truth for every other format), its schema, and the
table printed for people."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from grader.messages import language, msg
from grader.model import CheckResult, Report, Status
from grader.reports.redaction import inert


def check_to_dict(check: CheckResult) -> dict[str, Any]:
    return {
        "id": check.id,
        "category": check.category.value,
        "title": check.title,
        "status": check.status.value,
        "points": check.points,
        "max_points": check.max_points,
        "feedback": check.feedback,
        "evidence": check.evidence,
        "hints": list(check.hints),
        "duration_s": check.duration_s,
        "location": {"file": check.location.file, "line": check.location.line} if check.location else None,
        "hidden": check.hidden,
        "cause": check.cause,
    }


def to_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": report.schema_version,
        "grader": {"name": report.grader_name, "version": report.grader_version},
        "submission": {
            "path": report.submission_path,
            "name": report.submission_name,
            "project_dir": report.project_dir,
            "project_found": report.project_found,
        },
        "started_at": report.started_at,
        "duration_s": report.duration_s,
        "score": report.score,
        "max_score": report.max_score,
        "status": report.status,
        "ungraded": {
            "points": round(sum(c.max_points for c in report.ungraded), 2),
            "checks": [c.id for c in report.ungraded],
        },
        "lang": report.lang,
        "setup": {"services_left_out": list(report.left_out), "env": list(report.env_used)},
        "images": [{"where": i.where, "written": i.written, "used": i.used} for i in report.images],
        "kind": report.kind,
        "timings": dict(report.timings),
        "checks": [check_to_dict(c) for c in report.checks],
        "warnings": list(report.warnings),
        "error": report.error,
        "traceback": report.traceback,
    }


def to_json(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def write_text_atomic(path: Path, text: str) -> None:
    """A reader never sees half a file: write beside it, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_json(report: Report, path: Path) -> None:
    write_text_atomic(path, to_json(report))


def schema() -> dict[str, Any]:
    text = resources.files("grader").joinpath("report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


MARKS = {
    Status.PASSED: "table.pass",
    Status.FAILED: "table.fail",
    Status.ERROR: "table.error",
    Status.SKIPPED: "table.skip",
}


def _points(value: float) -> str:
    return f"{value:g}"


def setup_lines(project_dir: str, left_out: Iterable[str], env: Iterable[str]) -> list[str]:
    """Where the project was found, what was left out and which env files were filled in: what
    the run used besides the student's files as they are, said before the verdicts."""
    lines = [msg("report.project_below", folder=project_dir)] if project_dir not in ("", ".") else []
    services = ", ".join(f"`{s}`" for s in left_out)
    if services:
        lines.append(msg("report.left_out", services=services))
    return lines + list(env)


def to_table(report: Report, width: int = 100) -> str:
    """A plain-text table: check, status, points, one line of feedback; then the details."""
    with language(report.lang):
        return _table(report, width)


def _table(report: Report, width: int) -> str:
    mark = {status: msg(key) for status, key in MARKS.items()}
    head = [msg("table.check"), msg("table.result"), msg("table.points"), msg("table.feedback")]
    rows = [
        (c.title, mark[c.status], f"{_points(c.points)}/{_points(c.max_points)}", c.feedback) for c in report.checks
    ]
    w_title = max([len(head[0])] + [len(r[0]) for r in rows])
    w_mark = max([len(head[1])] + [len(r[1]) for r in rows])
    w_pts = max([len(head[2])] + [len(r[2]) for r in rows])
    w_fb = max(20, width - w_title - w_pts - w_mark - 6)
    lines = [msg("table.grading", name=report.submission_name, seconds=f"{report.duration_s:.0f}")]
    if report.kind == "lint":
        lines += [msg("report.lint"), ""]
    setup = setup_lines(report.project_dir, report.left_out, report.env_used)
    if setup:
        lines += [line.replace("`", "") for line in setup] + [""]
    if report.ungraded:  # first: the total below is no grade
        points = _points(sum(c.max_points for c in report.ungraded))
        checks = ", ".join(c.id for c in report.ungraded)
        lines += [msg("report.incomplete", points=points, checks=checks).replace("**", ""), ""]  # plain text
    lines += [
        f"{head[0]:<{w_title}}  {head[1]:<{w_mark}}  {head[2]:>{w_pts}}  {head[3]}",
        f"{'-' * w_title}  {'-' * w_mark}  {'-' * w_pts}  {'-' * w_fb}",
    ]
    for name, result, pts, feedback in rows:
        one_line = " ".join(feedback.split())
        if len(one_line) > w_fb:
            one_line = one_line[: w_fb - 3] + "..."
        lines.append(f"{name:<{w_title}}  {result:<{w_mark}}  {pts:>{w_pts}}  {one_line}")
    total = _points(report.score) + "/" + _points(report.max_score)
    lines.append(f"{msg('table.total'):<{w_title}}  {'':<{w_mark}}  {total:>{w_pts}}")
    details = [c for c in report.checks if c.status in (Status.FAILED, Status.ERROR) or c.hints]
    for check in details:
        lines.append("")
        lines.append(f"[{mark[check.status]}] {check.title} ({check.id})")
        if check.status in (Status.FAILED, Status.ERROR):
            lines.append(f"  {check.feedback}")
            if check.evidence:
                lines.extend("    " + line for line in check.evidence.splitlines()[-15:])
        lines.extend(f"  {msg('table.tip')}: {hint}" for hint in check.hints)
    lines.extend(msg("report.image_used", written=i.written, used=i.used, where=i.where) for i in report.images)
    lines.extend(f"warning: {w}" for w in report.warnings)
    if report.timings:
        lines += ["", time_line(report.timings, report.duration_s)]
    return inert("\n".join(lines)) + "\n"  # printed to CI logs: a report read from a file is inert too


def time_line(timings: Iterable[tuple[str, float]], total: float) -> str:
    """`Time: copy 0 s · compose config 0.3 s · build 1.2 s ... (total 17 s)`: where a slow run went."""
    phases = " · ".join(f"{msg('phase.' + p)} {s:g} s" for p, s in timings)
    return msg("report.time", phases=phases, total=f"{total:g}")
