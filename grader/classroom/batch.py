"""Grade a class: every student of the sources (grader.classroom.roster), fetched (grader.classroom.fetch) and graded
in a process of its own, `jobs` at a time, into `out/<student>/`; then the gradebook.

Each student runs `grader grade` as a child process: a crash, a hang or a leak in one run cannot
touch another, the grader's own memory does not grow with the class, and each run keeps the
deadlines and signal handling of a single `grader grade`. What a run leaves is removed by that
run (images, containers, its working copy), so the disk stays bounded however large the class.

Here: sizing (`default_jobs`), one student (fetch, grade in a child, record), the class (the
pool, the gradebook). Beside it in grader.classroom: supervise (the children and the switch that
stops them), board (what a TA sees), fingerprint (what --resume compares), shards (merge).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from grader import __version__
from grader.classroom import gradebook
from grader.classroom.board import Board, StudentResult, Summary
from grader.classroom.fetch import Fetched, FetchError, fetch
from grader.classroom.fingerprint import code_digest, rubric_digest
from grader.classroom.gradebook import META, REPORT
from grader.classroom.roster import Entry, in_shard
from grader.classroom.supervise import CHILDREN, stop, time_cap
from grader.errors import BadInput
from grader.intake.rubric import Rubric
from grader.intake.rubric import load as load_rubric
from grader.messages import language, msg
from grader.reports import formats
from grader.reports.document import to_dict, write_text_atomic
from grader.run import events
from grader.run.context import Options
from grader.run.runner import not_graded

if TYPE_CHECKING:
    pass

GIB = 1024**3


def default_jobs() -> int:
    """Runs at once: one per core, and one per 4 GiB of memory (an API and PostgreSQL under their
    limits, and a build). A run mostly waits (on a build's downloads, a database's start, the
    watch): measured on 2 cores, two at once take 0.52x the time of one after the other."""
    cores = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = 4 * GIB
    return max(1, min(cores, memory // (4 * GIB)))


@dataclass(frozen=True)
class BatchOptions:
    out: Path
    jobs: int = 1
    rubric: Path | None = None
    lang: str | None = None
    deadline: datetime | None = None
    resume: bool = False
    only: frozenset[str] = frozenset()  # students (as named, or their folder names) to (re)grade
    shard: tuple[int, int] | None = None
    junit: bool = False
    gradescope: bool = False
    project: str = ""  # per student (the roster's `path`): the folder their `grader grade` grades

    def fingerprint(self, fetched: Fetched) -> dict[str, str]:
        """What a report depends on: resume keeps a report whose fingerprint is the same."""
        return {
            "version": fetched.commit or fetched.content_hash,
            "rubric": rubric_digest(self.rubric),
            "lang": self.lang or "",
            "deadline": self.deadline.isoformat() if self.deadline else "",
            "grader": f"{__version__}+{code_digest()[:12]}",
            "formats": ",".join(f for f, wanted in (("junit", self.junit), ("gradescope", self.gradescope)) if wanted),
            "path": self.project,
        }


# -- one student -------------------------------------------------------------------------------
GradeFn = Callable[[Path, Path, BatchOptions, Callable[[str], None]], int]


def _phase(line: str) -> str | None:
    """What a child is doing, from one line of its events (`grader grade --events -`): the title
    of a check that starts to build, start or watch the stack, as the board shows it (a static
    one takes well under a second); None for any other line."""
    event = events.read(line)
    if event is None or event["event"] != "check.started" or event.get("stage") == "static":
        return None
    return str(event.get("title") or event.get("check"))


def grade_in_process(root: Path, folder: Path, options: BatchOptions, on_phase: Callable[[str], None]) -> int:
    """`grader grade root` in a child process, its reports into `folder`; its exit code (-1 when
    the batch is stopping and it never started)."""
    # -P: the current directory (perhaps a folder of submissions, one named `grader/`) is not on
    # sys.path; the child starts in the student's folder of the batch, never a source.
    # Absolute: the child starts elsewhere than the batch (relative paths were the TA's).
    root, folder = root.resolve(), folder.resolve()
    cmd = [sys.executable, "-P", "-m", "grader.cli", "grade", str(root), "--json", str(folder / REPORT), "--events=-"]
    cmd += ["--markdown", str(folder / "report.md")]
    cmd += ["--junit", str(folder / "junit.xml")] if options.junit else []
    cmd += ["--gradescope", str(folder / "results.json")] if options.gradescope else []
    cmd += ["--rubric", str(options.rubric.resolve())] if options.rubric else []
    cmd += ["--lang", options.lang] if options.lang else []
    cmd += [f"--project={options.project}"] if options.project else []  # `=`: a folder named `-x` is no option
    limits = Options.of(Rubric() if options.rubric is None else load_rubric(options.rubric))
    child = CHILDREN.start(cmd, child_environment(os.environ), str(folder))
    if child is None:
        return -1
    timer = threading.Timer(time_cap(limits), stop, (child,))
    timer.start()
    try:
        assert child.stdout is not None
        for line in child.stdout:
            phase = _phase(line)
            if phase:
                on_phase(phase)
        return child.wait()
    finally:
        timer.cancel()
        CHILDREN.done(child)
        child.__exit__(None, None, None)  # close its pipe


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What a student's `grader grade` inherits: no GitHub summary, annotations or step outputs
    (in a batch's CI job those would be one student's lines among the class's), and none of the
    service's secrets (its database, tokens, the git credentials of its fetches): the child
    grades one folder and needs none of them."""
    secret = re.compile(r"^GRADER_.*(DATABASE|TOKEN|SECRET|PASSWORD)|^GIT_CONFIG_")
    return {k: v for k, v in environ.items() if not k.startswith("GITHUB_") and not secret.match(k)}


_USERINFO = re.compile(r"\b(https?://)[^/\s@]+@")


def public(text: str) -> str:
    """`text` without the credentials an https URL may carry (a token for private repositories):
    what the batch records and shows (batch.json, the gradebook, a report's reason)."""
    return _USERINFO.sub(r"\1", text)


OUTPUTS = (REPORT, "report.md", "junit.xml", "results.json", META)


def _clear(folder: Path) -> None:
    """The student's previous outputs: none may outlive the work they were about."""
    for name in OUTPUTS:
        (folder / name).unlink(missing_ok=True)


def _write_error(folder: Path, entry: Entry, reason: str, lang: str | None) -> None:
    """The student's report of a run that could not grade, in JSON and Markdown (the page links
    it); `reason` already in `lang`."""
    report = not_graded(Path(public(entry.location) or entry.student), public(reason), lang or "en")
    doc = to_dict(report)
    doc["submission"]["name"] = entry.student
    write_text_atomic(folder / REPORT, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(folder / "report.md", formats.markdown(doc))


def _meta(entry: Entry, fetched: Fetched | None, fingerprint: dict[str, str], seconds: float) -> dict[str, Any]:
    return {
        "student": entry.student,
        "source": public(entry.location),
        "kind": entry.kind.value,
        "ref": entry.ref,
        "path": entry.path,
        "commit": fetched.commit if fetched else "",
        "content_hash": fetched.content_hash if fetched else "",
        "notes": list(fetched.notes) if fetched else [],
        "fingerprint": fingerprint,
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(seconds, 1),
    }


def _json(path: Path) -> dict[str, Any]:
    return gradebook.read_object(path) or {}


def _kept(folder: Path, fingerprint: dict[str, str]) -> bool:
    """A report resume keeps: graded (not incomplete, not an error) with the same fingerprint."""
    meta, report = _json(folder / META), _json(folder / REPORT)
    return bool(fingerprint and meta.get("fingerprint") == fingerprint and report.get("status") == "graded")


def grade_student(
    entry: Entry,
    options: BatchOptions,
    grade: GradeFn = grade_in_process,
    on_phase: Callable[[str], None] = lambda phase: None,
) -> StudentResult:
    """Fetch, grade, record one student; whatever happens short of an unwritable output folder,
    their folder ends with a report, and nothing here stops the class."""
    started = time.monotonic()
    folder = options.out / entry.key
    options = dataclasses.replace(options, project=entry.path)
    fetched: Fetched | None = None
    fingerprint: dict[str, str] = {}
    fault = ""
    lang = options.lang or _page_language(options)  # what the student's own report is written in
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # The student's own report is in the class's language, a fetch's reasons included.
        with language(lang), tempfile.TemporaryDirectory(prefix="grader-batch-", ignore_cleanup_errors=True) as tmp:
            try:
                on_phase("fetching")
                fetched = fetch(entry, Path(tmp), options.deadline)
                fingerprint = options.fingerprint(fetched)
                forced = entry.student in options.only or entry.key in options.only
                if options.resume and not forced and _kept(folder, fingerprint):
                    return StudentResult(entry, gradebook.read_row(folder), True, time.monotonic() - started)
                _clear(folder)
                code = grade(fetched.root, folder, options, on_phase)
                if code == -1:
                    fault = "grader"
                    _write_error(folder, entry, msg("batch.stopped"), lang)
                elif not (folder / REPORT).exists():
                    fault = "grader"
                    _write_error(folder, entry, msg("batch.no_report", code=code), lang)
                elif _json(folder / REPORT).get("status") == "error":
                    # Exit 2 is the work's layout (several projects, a roster `path` without a compose
                    # file): the TA's choice, which --resume cannot make. Else no engine, a signal, a
                    # crash of the grader: not the work's, worth running again.
                    fault = "input" if code == BadInput.exit_code else "grader"
            except FetchError as exc:
                fault = "fetch"
                _clear(folder)
                _write_error(folder, entry, msg("batch.fetch_failed", reason=exc), lang)
            except Exception as exc:  # the batch's own fault: this student's report says so
                fault = "grader"
                _clear(folder)
                crash = msg("batch.crashed", error=f"{type(exc).__name__}: {exc}")
                _write_error(folder, entry, crash, lang)
        meta = _meta(entry, fetched, fingerprint, time.monotonic() - started)
        write_text_atomic(folder / META, json.dumps(meta, indent=2) + "\n")
    except OSError as exc:  # the output folder itself cannot be written: said on the board
        return StudentResult(entry, None, False, time.monotonic() - started, f"{folder}: {exc}", "grader")
    return StudentResult(entry, gradebook.read_row(folder), False, time.monotonic() - started, fault=fault)


# -- the class -----------------------------------------------------------------------------------
def selected(entries: Sequence[Entry], options: BatchOptions) -> list[Entry]:
    in_part = [e for e in entries if in_shard(e.key, options.shard)]
    if not options.only:
        return in_part
    unknown = options.only - {e.student for e in entries} - {e.key for e in entries}
    if unknown:
        raise BadInput(f"--only: no such student in the sources: {', '.join(sorted(unknown))}")
    return [e for e in in_part if e.student in options.only or e.key in options.only]


def run(
    entries: Sequence[Entry], options: BatchOptions, grade: GradeFn = grade_in_process, progress: TextIO | None = None
) -> Summary:
    """Grade the selected students, `options.jobs` at a time; write the gradebook of every
    student of the shard that has a report. One student's failure never stops the others; an
    interruption (Ctrl-C, SIGTERM) stops the runs under way (each tears its stack down) and
    starts no new one."""
    out = options.out.resolve()
    # The output folder inside a source folder is not a student (a second run would grade it).
    entries = [e for e in entries if not (e.location and Path(e.location).resolve().is_relative_to(out))]
    if not entries:  # before anything is written: an empty class never empties a gradebook
        raise BadInput("no student in the sources: no subfolder, archive or roster row to grade")
    todo = selected(entries, options)
    page_language = _page_language(options)  # the rubric as the class was graded, read once, before
    options.out.mkdir(parents=True, exist_ok=True)
    with CHILDREN.lock:
        CHILDREN.stopping = False  # a batch after an interrupted one in the same process
    board = Board(len(todo), options.jobs, progress)
    summary = Summary()
    halt = threading.Event()

    def one(entry: Entry) -> StudentResult | None:
        if halt.is_set():
            return None
        return grade_student(entry, options, grade, lambda text: board.phase(entry, text))

    pool = ThreadPoolExecutor(max(1, options.jobs), "student")
    futures: set[Future[StudentResult | None]] = {pool.submit(one, e) for e in todo}
    try:
        while futures:
            done, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                if outcome is not None:
                    summary.outcomes.append(outcome)
                    board.finished(outcome)
    except BaseException:
        halt.set()
        CHILDREN.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        board.close()
    pool.shutdown(wait=True)
    # Every student report in --out, whichever batch wrote it: the gradebook is never emptier than
    # the reports beside it (a roster that lost a row, a source that moved).
    summary.rows = [r for r in gradebook.read_rows(options.out) if in_shard(r.key, options.shard)]
    summary.csv, summary.html = gradebook.write(options.out, summary.rows, page_language)
    return summary


def _page_language(options: BatchOptions) -> str:
    """The class page's language: --lang, else the rubric's, else English (as each report's)."""
    if options.lang:
        return options.lang
    return (load_rubric(options.rubric).lang if options.rubric else None) or "en"
