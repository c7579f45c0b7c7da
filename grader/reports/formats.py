"""Writers for the tools people already use. Each is a small function over the JSON report (the
source of truth, as `grader.reports.document.to_dict` makes it), so a saved report can be re-rendered with
`grader report FILE.json ...` without grading again."""

from __future__ import annotations

import base64
import functools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from grader.messages import language, msg
from grader.reports.document import setup_lines, time_line

Doc = dict[str, Any]  # the JSON report (grader.reports.document.to_dict): not grader.model.Report
P = ParamSpec("P")
T = TypeVar("T")

_ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "⏭️"}


def student_view(report: Doc) -> Doc:
    """The report as student formats show it: hidden checks keep their points, lose their words."""
    withheld = msg("report.withheld")
    checks = [
        c if not c.get("hidden") else {**c, "feedback": withheld, "evidence": "", "hints": [], "location": None}
        for c in report["checks"]
    ]
    return {**report, "checks": checks, "traceback": None}


def in_report_language(writer: Callable[P, T]) -> Callable[P, T]:
    """Render in the language the report was graded in (its `lang`), whatever the caller's."""

    @functools.wraps(writer)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        report = args[0] if args else kwargs["report"]
        with language(str(report.get("lang", "en")) if isinstance(report, dict) else "en"):
            return writer(*args, **kwargs)

    return wrapper


def _pts(value: float) -> str:
    return f"{value:g}"


def incomplete(report: Doc) -> str | None:
    """The banner of a run whose score is not a grade: counted checks ended in `error` (the
    grader's or the machine's fault) or were skipped because of one. None for a graded run."""
    ungraded = report.get("ungraded") or {}
    if report["status"] != "incomplete" or not ungraded.get("checks"):
        return None
    checks = ", ".join(f"`{c}`" for c in ungraded["checks"])
    return msg("report.incomplete", points=_pts(ungraded["points"]), checks=checks)


def _images(report: Doc) -> list[str]:
    return [msg("report.image_used", **i) for i in report.get("images") or []]


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


# -- JUnit XML ---------------------------------------------------------------------------------
@in_report_language
def junit(report: Doc) -> str:
    """One testsuite per category, one testcase per check; failure/error/skipped as JUnit's own
    elements (message = feedback, text = evidence)."""
    report = student_view(report)
    checks = report["checks"]
    root = ET.Element("testsuites", name=f"compose-grader: {report['submission']['name']}")
    categories = list(dict.fromkeys(c["category"] for c in checks))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for category in categories:
        cases = [c for c in checks if c["category"] == category]
        counts = {
            "tests": len(cases),
            "failures": sum(c["status"] == "failed" for c in cases),
            "errors": sum(c["status"] == "error" for c in cases),
            "skipped": sum(c["status"] == "skipped" for c in cases),
        }
        for key, value in counts.items():
            totals[key] += value
        attributes = {k: str(v) for k, v in counts.items()}
        attributes["time"] = f"{sum(c['duration_s'] for c in cases):.2f}"
        attributes["timestamp"] = report["started_at"]
        suite = ET.SubElement(root, "testsuite", {"name": category, **attributes})
        for check in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"compose_grader.{category}",
                name=f"{check['title']} ({check['id']})",
                time=f"{check['duration_s']:.2f}",
            )
            if check["location"]:
                case.set("file", check["location"]["file"])
                if check["location"]["line"]:
                    case.set("line", str(check["location"]["line"]))
            status = check["status"]
            if status == "failed":
                ET.SubElement(case, "failure", message=check["feedback"], type="failed").text = check["evidence"]
            elif status == "error":
                ET.SubElement(case, "error", message=check["feedback"], type="grader_error").text = check["evidence"]
            elif status == "skipped":
                ET.SubElement(case, "skipped", message=check["feedback"])
            out = [
                msg("report.points_line", points=_pts(check["points"]), max=_pts(check["max_points"])),
                *check["hints"],
            ]
            ET.SubElement(case, "system-out").text = "\n".join(out)
    banner = report["error"] if report["status"] == "error" else incomplete(report)
    if banner is not None:
        suite = ET.SubElement(root, "testsuite", name="grader", tests="1", failures="0", errors="1", skipped="0")
        case = ET.SubElement(suite, "testcase", classname="grader", name=msg("report.not_graded"))
        ET.SubElement(case, "error", message=banner or "", type="grader_error")
        totals["tests"] += 1
        totals["errors"] += 1
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{report['duration_s']:.2f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- Markdown ----------------------------------------------------------------------------------
def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text`, which would otherwise close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


@in_report_language
def markdown(report: Doc, evidence_lines: int = 15) -> str:
    """What a student reads first: the total, a table, then what to fix with short evidence."""
    report = student_view(report)
    lines = [
        msg("report.md_title", score=_pts(report["score"]), max=_pts(report["max_score"])),
        "",
        msg("report.md_columns"),
        "|---|---|---:|",
    ]
    if report["status"] == "error":
        lines[1:1] = ["", msg("report.md_error", error=_cell(report["error"] or ""))]
    submission, setup = report.get("submission") or {}, report.get("setup") or {}
    used = setup_lines(
        str(submission.get("project_dir") or "."), setup.get("services_left_out") or [], setup.get("env") or []
    )
    if report.get("images") or used:
        lines[1:1] = ["", *(f"- {line}" for line in used + _images(report))]
    banner = incomplete(report)
    if banner is not None:  # right under the title: the total above it is no grade
        lines[1:1] = ["", banner]
    if report.get("kind") == "lint":
        lines[1:1] = ["", msg("report.lint")]
    for c in report["checks"]:
        points = f"{_pts(c['points'])}/{_pts(c['max_points'])}"
        lines.append(f"| {_cell(c['title'])} | {_ICON[c['status']]} {msg('state.' + c['status'])} | {points} |")
    todo = [c for c in report["checks"] if c["status"] in ("failed", "error")]
    if todo:
        lines += ["", msg("report.md_fix")]
    for c in todo:
        where = ""
        if c["location"]:
            line = msg("report.md_line", line=c["location"]["line"]) if c["location"]["line"] else ""
            where = f" (`{c['location']['file']}`{line})"
        lines += ["", f"#### {_ICON[c['status']]} {c['title']}{where}", "", c["feedback"]]
        if c["evidence"]:
            shown = _tail(c["evidence"], evidence_lines)
            lines += ["", f"{_fence(shown)}text", shown, _fence(shown)]
    tips = [(c["title"], h) for c in report["checks"] for h in c["hints"]]
    if tips:
        lines += ["", msg("report.md_tips"), ""] + [f"- **{_cell(t)}**: {_cell(h)}" for t, h in tips]
    if report.get("timings"):
        lines += ["", f"<sub>{time_line(report['timings'].items(), report['duration_s'])}</sub>"]
    return "\n".join(lines) + "\n"


# -- GitHub Actions workflow commands ----------------------------------------------------------
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, message: str, **props: str) -> str:
    rendered = ",".join(f"{k}={_escape_property(v)}" for k, v in props.items() if v)
    return f"::{kind}{' ' + rendered if rendered else ''}::{_escape_data(message)}"


@in_report_language
def github_annotations(report: Doc, path_prefix: str = "") -> list[str]:
    """`::error` for what the student must fix (at the file and line it is about), `::warning` for
    the grader's own failures and for tips, then `::notice` with the points."""
    report = student_view(report)
    out: list[str] = []
    for c in report["checks"]:
        title = f"{c['title']} ({_pts(c['points'])}/{_pts(c['max_points'])})"
        props: dict[str, str] = {"title": title}
        if c["location"]:
            props["file"] = f"{path_prefix}{c['location']['file']}"
            if c["location"]["line"]:
                props["line"] = str(c["location"]["line"])
        if c["status"] == "failed":
            out.append(_command("error", c["feedback"], **props))
        elif c["status"] == "error":
            out.append(_command("warning", c["feedback"], title=msg("report.grader_problem", title=c["title"])))
        out.extend(_command("warning", hint, title=msg("report.tip", title=c["title"])) for hint in c["hints"])
    out.extend(_command("notice", line) for line in _images(report))
    banner = report["error"] if report["status"] == "error" else incomplete(report)
    if banner is not None:
        # No `Points` line: GitHub Classroom records that line as the grade, and this is none.
        out.append(_command("error", (banner or "").replace("**", ""), title=msg("report.not_graded")))
        return out
    # `Points X/Y` under the title Autograding is GitHub Classroom's own wording: kept in English.
    out.append(_command("notice", f"Points {_pts(report['score'])}/{_pts(report['max_score'])}", title="Autograding"))
    return out


# -- Gradescope --------------------------------------------------------------------------------
@in_report_language
def gradescope(report: Doc) -> dict[str, Any]:
    """results.json per Gradescope's autograder specification."""
    report = student_view(report)
    tests = []
    for c in report["checks"]:
        parts = [c["feedback"]]
        if c["evidence"]:
            parts.append(c["evidence"])
        parts += [msg("report.tip_line", hint=h) for h in c["hints"]]
        tests.append(
            {
                "name": c["title"],
                "score": c["points"],
                "max_score": c["max_points"],
                "status": "passed" if c["status"] == "passed" else "failed",
                "output": "\n\n".join(parts),
                "tags": [c["category"]],
                "visibility": "visible",
            }
        )
    banner = incomplete(report)
    output = "\n\n".join(
        [
            msg(
                "report.gradescope_output",
                name=report["submission"]["name"],
                score=_pts(report["score"]),
                max=_pts(report["max_score"]),
            ),
            *([msg("report.md_error", error=report["error"])] if report["status"] == "error" else []),
            *([banner, msg("report.gradescope_placeholder")] if banner else []),
            *_images(report),
        ]
    )
    return {
        # Gradescope has no "not graded" state: an incomplete run records 0 as a placeholder the
        # output explains (the instructor re-runs it), never a partial score that looks final.
        "score": 0.0 if banner else report["score"],
        "execution_time": round(report["duration_s"]),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"status": report["status"], "ungraded": report.get("ungraded") or {"points": 0, "checks": []}},
        "tests": tests,
    }


# -- GitHub Classroom --------------------------------------------------------------------------
_CLASSROOM_STATUS = {"passed": "pass", "failed": "fail", "skipped": "fail", "error": "error"}


@in_report_language
def classroom_result(report: Doc) -> dict[str, Any]:
    """The runner result the classroom grading reporter adds up (score per test, max_score)."""
    report = student_view(report)
    placeholder = incomplete(report) is not None
    statuses = {c["status"] for c in report["checks"]}
    overall = (
        "error"
        if "error" in statuses or report["status"] in ("error", "incomplete")
        else ("fail" if statuses - {"passed"} else "pass")
    )
    return {
        "version": 1,
        "status": overall,
        "max_score": report["max_score"],
        "tests": [
            {
                "name": c["title"],
                "status": _CLASSROOM_STATUS[c["status"]],
                "message": c["feedback"],
                "test_code": c["id"],
                "filename": (c["location"] or {}).get("file", ""),
                "line_no": (c["location"] or {}).get("line") or 0,
                "execution_time": f"{c['duration_s']:.2f}s",
                # An incomplete run is no grade: 0 as the placeholder the reporter adds up.
                "score": 0.0 if placeholder else c["points"],
            }
            for c in report["checks"]
        ],
    }


def classroom(report: Doc) -> str:
    """Base64 of the runner result, as the step output `result`."""
    return base64.b64encode(json.dumps(classroom_result(report)).encode()).decode()
