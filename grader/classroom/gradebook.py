"""The class's gradebook, written from the students' JSON reports (the source of truth) and what
the batch recorded beside each (`batch.json`: where the work came from, the commit graded):
`gradebook.csv` for a spreadsheet or an LMS import, `gradebook.html` for the instructor, one
self-contained page, readable without JavaScript."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.messages import language, msg
from grader.reports.document import write_text_atomic

REPORT, META = "report.json", "batch.json"
BUCKETS = 10  # the histogram's bars: 0-10 %, ..., 90-100 %


@dataclass(frozen=True)
class Row:
    key: str  # the student's folder under the batch's output
    student: str
    status: str  # graded, incomplete, error
    score: float | None  # None unless graded: an incomplete run's points are not a grade
    max_score: float
    points: dict[str, float]  # check id -> points
    outcomes: dict[str, str]  # check id -> passed, failed, skipped, error
    titles: dict[str, str]  # check id -> title, for the page
    source: str
    version: str  # the commit graded, or the content hash of a folder or archive
    duration_s: float
    reason: str  # why a run is not graded ("" when it is)
    maxima: dict[str, float] = field(default_factory=dict)  # check id -> max points
    rubric: str = ""  # the rubric's fingerprint the run was graded with (12 hex), "" before batches recorded it
    graded_at: str = ""  # when (ISO 8601)

    @property
    def percentage(self) -> float | None:
        return round(100 * self.score / self.max_score, 1) if self.score is not None and self.max_score else None


def read_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None (missing, damaged, not an object)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _source(meta: dict[str, Any], report: dict[str, Any]) -> str:
    """Where the work came from, and the project folder graded when it is not the root:
    `https://.../ana.git (ecommerce-ana/)`."""
    submission = report.get("submission") or {}
    source = str(meta.get("source") or submission.get("path", ""))
    folder = str(submission.get("project_dir") or meta.get("path") or ".")
    return source if folder in (".", "") else f"{source} ({folder}/)"


def read_row(folder: Path) -> Row | None:
    """The row of one student's folder: None when it holds no report; a report that is not the
    grader's shape (damaged, edited by hand) is a row with status `error` saying so."""
    report = read_object(folder / REPORT)
    if report is None:
        return None
    meta = read_object(folder / META) or {}
    try:
        return row(folder.name, report, meta)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Row(
            folder.name,
            str(meta.get("student") or folder.name),
            "error",
            None,
            0.0,
            {},
            {},
            {},
            "",
            "",
            0.0,
            f"{REPORT} is not a report of this grader ({type(exc).__name__}: {exc})",
        )


def row(key: str, report: dict[str, Any], meta: dict[str, Any]) -> Row:
    """A student's row from their report and what the batch (or the service) knows of the run:
    `student`, `source`, `commit`, `graded_at`, `duration_s`, `fingerprint.rubric`."""
    checks = report.get("checks") or []
    status = str(report.get("status", "error"))
    reason = str(report.get("error") or "")
    if status == "incomplete":
        reason = f"{(report.get('ungraded') or {}).get('points', 0):g} points could not be graded; re-run"
    return Row(
        key=key,
        student=str(meta.get("student") or key),
        status=status,
        score=float(report["score"]) if status == "graded" else None,
        max_score=float(report.get("max_score") or 0),
        points={c["id"]: float(c["points"]) for c in checks},
        outcomes={c["id"]: str(c["status"]) for c in checks},
        titles={c["id"]: str(c.get("title") or c["id"]) for c in checks},
        source=_source(meta, report),
        version=str(meta.get("commit") or meta.get("content_hash") or ""),
        duration_s=float(meta.get("duration_s") or report.get("duration_s") or 0),
        reason=reason,
        maxima={c["id"]: float(c.get("max_points") or 0) for c in checks},
        rubric=str((meta.get("fingerprint") or {}).get("rubric") or "")[:12],
        graded_at=str(meta.get("graded_at") or ""),
    )


def read_rows(out: Path, keys: Sequence[str] | None = None) -> list[Row]:
    """Every student folder under `out` (a batch's: a report and batch.json; only `keys` when
    given), by folder name."""
    folders = [out / k for k in keys] if keys is not None else [p for p in out.iterdir() if (p / META).is_file()]
    rows = [r for r in (read_row(f) for f in sorted(folders)) if r is not None]
    return sorted(rows, key=lambda r: r.key)


def rubrics(rows: Sequence[Row]) -> list[str]:
    """The rubric fingerprints the rows were graded with, most used first: more than one, and the
    class's grades do not compare (a rubric changed, then `--only` regraded a few)."""
    counts: dict[str, int] = {}
    for r in rows:
        if r.rubric:
            counts[r.rubric] = counts.get(r.rubric, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))


def mixed_rubrics_note(rows: Sequence[Row]) -> str | None:
    """The warning the page and the batch's summary give, in the current language; None when the
    rows were graded with one rubric."""
    used = rubrics(rows)
    return msg("page.mixed_rubrics", count=len(used), rubrics=", ".join(used)) if len(used) > 1 else None


def check_ids(rows: Sequence[Row]) -> list[str]:
    """Every check of the class, in the order the reports list them."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row.points))
    return list(seen)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def to_csv(rows: Sequence[Row]) -> str:
    ids = check_ids(rows)
    buffer = io.StringIO()
    # Every cell quoted: a spreadsheet that splits on `;` (Spanish locales) cannot cut a name
    # into a cell of its own that starts with `=`.
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    header = ["student", "score", "max_score", "percentage", "status", *ids, "source", "commit", "duration_s"]
    writer.writerow([*header, "rubric", "graded_at"])
    for r in rows:
        points = [_number(r.points.get(i)) if r.status == "graded" else "" for i in ids]
        writer.writerow(
            [
                _safe_cell(r.student),
                _number(r.score),
                _number(r.max_score),
                _number(r.percentage),
                r.status,
                *points,
                _safe_cell(r.source),
                r.version,
                f"{r.duration_s:.1f}",
                r.rubric,
                r.graded_at,
            ]
        )
    return buffer.getvalue()


def _safe_cell(text: str) -> str:
    """A spreadsheet runs a cell that starts with = + - @ as a formula (a student named
    `=HYPERLINK(...)`): such a cell is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- the page -----------------------------------------------------------------------------------------
_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #1d2327; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.muted { color: #5f6b73; } table { border-collapse: collapse; width: 100%; }
.warning { background: #fff4d6; border-left: 4px solid #c98a00; padding: .5rem .8rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e2e6e9; vertical-align: top; }
th { background: #f3f5f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.histogram { display: flex; align-items: flex-end; gap: .4rem; height: 11rem; border-bottom: 2px solid #9aa5ad; }
.histogram div { flex: 1; height: 100%; display: flex; flex-direction: column; justify-content: flex-end; }
.histogram .bar { display: block; width: 100%; background: #3b7dd8; min-height: 1px; }
.histogram .count { text-align: center; }
.histogram .count { font-size: .8rem; } .axis { display: flex; gap: .4rem; font-size: .75rem; color: #5f6b73; }
.axis span { flex: 1; text-align: center; }
.rate { background: #e2e6e9; height: .8rem; width: 12rem; display: inline-block; vertical-align: middle; }
.rate span { background: #2f9e55; height: 100%; display: block; }
.graded { color: #1d6b3a; } .incomplete { color: #9a6700; } .error { color: #b42318; }
"""


def _short(version: str) -> str:
    """A commit's first 12 characters; a content hash's kind and first 8 (sha256:1a2b3c4d)."""
    kind, _, digest = version.rpartition(":")
    return f"{kind}:{digest[:8]}" if kind else version[:12]


def _bucket(percentage: float) -> int:
    return min(int(percentage // (100 / BUCKETS)), BUCKETS - 1)


def _marked(text: str) -> str:
    """Escaped text whose `code` spans (reports and notes use Markdown's) render as code."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", html.escape(text))


def to_html(rows: Sequence[Row], title: str = "", lang: str = "en") -> str:
    """The class's page in `lang` (the batch's language): every sentence from the catalogue."""
    with language(lang):
        return _page(rows, title or msg("page.title"), lang)


def _page(rows: Sequence[Row], title: str, lang: str) -> str:
    e = html.escape
    graded = [r for r in rows if r.percentage is not None]
    counts = [0] * BUCKETS
    for r in graded:
        counts[_bucket(r.percentage or 0.0)] += 1
    top = max(counts) or 1
    bars = "".join(
        f'<div title="{e(msg("page.students_in_bar", n=n))}"><span class="count">{n or ""}</span>'
        f'<span class="bar" style="height:{100 * n / top:.0f}%"></span></div>'
        for n in counts
    )
    axis = "".join(f"<span>{i * 100 // BUCKETS}&ndash;{(i + 1) * 100 // BUCKETS}</span>" for i in range(BUCKETS))
    by_status = {s: sum(r.status == s for r in rows) for s in ("graded", "incomplete", "error")}
    summary = ", ".join(f"{n} {msg('page.status_' + s)}" for s, n in by_status.items() if n)
    if graded:
        values = [r.percentage or 0.0 for r in graded]
        mean, median = f"{statistics.mean(values):.1f}", f"{statistics.median(values):.1f}"
        summary += "; " + msg("page.mean_median", mean=mean, median=median)
    mixed = mixed_rubrics_note(rows)
    titles: dict[str, str] = {}
    for r in rows:
        titles.update({k: v for k, v in r.titles.items() if k not in titles})
    rates = []
    for check in check_ids(rows):
        ran = [r for r in graded if check in r.outcomes]
        passed = sum(r.outcomes[check] == "passed" and r.points.get(check) == r.maxima.get(check) for r in ran)
        # The bar is the mean share of the check's points: a check everyone half-passes (8 of 12
        # practices) is not "0 %", as full passes alone would say.
        shares = [r.points.get(check, 0.0) / r.maxima[check] for r in ran if r.maxima.get(check)]
        share = 100 * statistics.mean(shares) if shares else 0.0
        rates.append(
            f"<tr><td>{e(titles.get(check, check))}<br><code class=muted>{e(check)}</code></td>"
            f"<td class=num>{passed} / {len(ran)}</td><td class=num>{share:.0f} %</td>"
            f'<td><span class=rate><span style="width:{share:.0f}%"></span></span></td></tr>'
        )
    students = []
    for r in rows:
        link = f'<a href="{e(r.key)}/report.md">{e(r.student)}</a> <a class=muted href="{e(r.key)}/{REPORT}">json</a>'
        score = f"{_number(r.score)} / {_number(r.max_score)}" if r.score is not None else "—"
        percent = f"{r.percentage:.1f} %" if r.percentage is not None else "—"
        note = f"<br><span class=muted>{_marked(r.reason[:300])}</span>" if r.reason else ""
        status = msg("page.status_" + r.status) if r.status in by_status else r.status
        students.append(
            f"<tr><td>{link}</td><td class=num>{score}</td><td class=num>{percent}</td>"
            f'<td class="{e(r.status)}">{e(status)}{note}</td><td>{e(r.source)}</td>'
            f"<td><code>{e(_short(r.version))}</code></td><td class=num>{r.duration_s:.0f} s</td></tr>"
        )
    return f"""<!doctype html>
<html lang="{e(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{e(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{e(title)}</h1>
<p class="muted">{e(msg("page.students", n=len(rows), summary=summary))}
{e(msg("page.only_graded"))}</p>
{f'<p class="warning">⚠️ {_marked(mixed)}</p>' if mixed else ""}
<h2>{e(msg("page.distribution"))}</h2>
<div class="histogram">{bars}</div>
<div class="axis">{axis}</div>
<h2>{e(msg("page.checks"))}</h2>
<table><tr><th>{e(msg("page.check"))}</th><th class=num>{e(msg("page.full_marks"))}</th>
<th class=num>{e(msg("page.mean_share"))}</th><th></th></tr>
{"".join(rates)}
</table>
<h2>{e(msg("page.students_heading"))}</h2>
<table><tr><th>{e(msg("page.student"))}</th><th class=num>{e(msg("page.score"))}</th><th class=num>%</th>
<th>{e(msg("page.status"))}</th><th>{e(msg("page.source"))}</th>
<th>{e(msg("page.version"))}</th><th class=num>{e(msg("page.time"))}</th></tr>
{"".join(students)}
</table>
</body></html>
"""


def write(out: Path, rows: Sequence[Row], lang: str = "en") -> tuple[Path, Path]:
    """gradebook.csv and gradebook.html (in `lang`) in `out`, from `rows`."""
    csv_path, html_path = out / "gradebook.csv", out / "gradebook.html"
    write_text_atomic(csv_path, to_csv(rows))
    with language(lang):
        title = msg("page.title_of", name=out.resolve().name)
    write_text_atomic(html_path, to_html(rows, title, lang))
    return csv_path, html_path
