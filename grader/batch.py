"""Grade a class: every student of the sources (grader.roster), fetched (grader.fetch) and graded
in a process of its own, `jobs` at a time, into `out/<student>/`; then the gradebook.

Each student runs `grader grade` as a child process: a crash, a hang or a leak in one run cannot
touch another, the grader's own memory does not grow with the class, and each run keeps the
deadlines and signal handling of a single `grader grade`. What a run leaves is removed by that
run (images, containers, its working copy), so the disk stays bounded however large the class.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from grader import __version__, events, formats, gradebook
from grader.context import Options
from grader.errors import BadInput
from grader.fetch import Fetched, FetchError, fetch
from grader.gradebook import META, REPORT, Row
from grader.messages import language, msg
from grader.model import Phase
from grader.redaction import inert
from grader.report import to_dict, write_text_atomic
from grader.roster import Entry, in_shard
from grader.rubric import Rubric
from grader.rubric import load as load_rubric
from grader.runner import TEARDOWN_S, not_graded

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

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
        base = Path(__file__).resolve().parent.parent
        for path in sorted((base / folder).rglob("*.py")):  # grader/commands/ too
            digest.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class StudentResult(NamedTuple):
    entry: Entry
    row: Row | None  # None when the report could not be read back
    kept: bool  # resume: the existing report was kept, nothing was graded
    seconds: float
    problem: str = ""  # why there is no report (the output folder could not be written)
    # "fetch": the work could not be had; "input": the TA must choose (which project folder);
    # "grader": the run could not grade it
    fault: str = ""

    @property
    def retry(self) -> bool:
        """Worth running again (--resume): the machine's or the grader's fault, not the work's."""
        return self.fault == "grader" or self.row is None or self.row.status == "incomplete"


# -- one student -------------------------------------------------------------------------------
GradeFn = Callable[[Path, Path, BatchOptions, Callable[[str], None]], int]


def _phase(line: str) -> str | None:
    """What a child is doing, from one line of its events (`grader grade --events -`): the title
    of a check that starts to build, start or watch the stack, as the board shows it (a static
    one takes well under a second); None for any other line."""
    event = events.read(line)
    if event is None or event["event"] != "check.started" or event.get("phase") == "static":
        return None
    return str(event.get("title") or event.get("check"))


class Children:
    """The `grader grade` processes under way, and the one switch that stops them: once stopping,
    no new one starts (a student still being fetched included), and every one running is asked
    to tear down, with longer than its own teardown may take before it is killed."""

    GRACE_S = TEARDOWN_S + 60

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen[str]] = set()
        self.stopping = False

    def start(self, cmd: list[str], env: dict[str, str], cwd: str) -> subprocess.Popen[str] | None:
        with self.lock:
            if self.stopping:
                return None
            child = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,  # its events (`--events -`); the rest of what it prints is not read
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                text=True,
                errors="replace",
            )
            self.running.add(child)
            return child

    def done(self, child: subprocess.Popen[str]) -> None:
        with self.lock:
            self.running.discard(child)

    def stop_all(self) -> None:
        with self.lock:
            self.stopping = True
            running = list(self.running)
        for child in running:
            threading.Thread(target=stop, args=(child, self.GRACE_S), daemon=True).start()


CHILDREN = Children()


def stop(child: subprocess.Popen[str], grace: float = Children.GRACE_S) -> None:
    """SIGTERM (the child tears its stack down and writes its report), SIGKILL if it cannot."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            child.kill()


def time_cap(options: Options) -> float:
    """The longest a student's `grader grade` may take before the batch stops it: every check's
    own deadline at once (a rubric's scenarios are API checks too: twice the START deadline each
    is generous) and its teardown. Its own deadlines end it well before; this catches one that
    cannot end."""
    checks = sum(options.deadline(phase) for phase in Phase)
    return 2 * checks + TEARDOWN_S


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
    # No GitHub summary, annotations or step outputs from one student's run: in a batch's CI job
    # those would be one student's lines among the class's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    child = CHILDREN.start(cmd, env, str(folder))
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
def printable(text: str) -> str:
    """`text` safe for a terminal and a CI log: no control characters (ANSI escapes, a newline
    starting a line of its own), and no `::` or `##[`, which GitHub Actions reads as a command (a
    student named `::error::...`)."""
    return inert("".join(c if c.isprintable() else "?" for c in text))


class Board:
    """What the batch shows while it runs: a line per student done, with done/total and the time
    left (plain lines in a CI log); on a terminal also, live (rich), who runs now, in which phase,
    for how long."""

    def __init__(self, total: int, jobs: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total, self.jobs, self.done = total, jobs, 0
        self.t0 = time.monotonic()
        self.running: dict[str, tuple[str, float]] = {}
        self.lock = threading.Lock()
        self.live: Live | None = None
        if self.stream.isatty():
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, highlight=False)
            self.live = Live(console=console, get_renderable=self._running, refresh_per_second=2, transient=True)
            self.live.start()

    def phase(self, entry: Entry, text: str) -> None:
        with self.lock:
            since = self.running.get(entry.key, (text, time.monotonic()))[1]
            self.running[entry.key] = (text, since)

    def finished(self, result: StudentResult) -> None:
        with self.lock:
            self.running.pop(result.entry.key, None)
            self.done += 1
            row = result.row
            if result.kept:
                what = "kept (unchanged since its last grading)"
            elif row is None:
                what = f"no report ({result.problem})" if result.problem else "no report"
            elif row.status == "graded":
                what = f"graded {row.score:g}/{row.max_score:g}"
            else:
                what = f"{row.status}: {row.reason[:120]}"
            line = printable(
                f"[{self.done:>{len(str(self.total))}}/{self.total}] {result.entry.student}: {what} "
                f"({result.seconds:.0f} s){self._eta()}"
            )
        if self.live is not None:
            self.live.console.print(line, markup=False)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()

    def _eta(self) -> str:
        left = self.total - self.done
        if not left or not self.done:
            return ""
        per = (time.monotonic() - self.t0) / self.done
        return f", about {per * left / 60:.0f} min left" if per * left >= 60 else f", about {per * left:.0f} s left"

    def _running(self) -> Table:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        with self.lock:
            for key, (phase, since) in sorted(self.running.items()):
                table.add_row(printable(key), printable(phase), f"{now - since:.0f} s")
            table.add_row(f"{self.done}/{self.total} done", "", self._eta().lstrip(", "))
        return table


def selected(entries: Sequence[Entry], options: BatchOptions) -> list[Entry]:
    in_part = [e for e in entries if in_shard(e.key, options.shard)]
    if not options.only:
        return in_part
    unknown = options.only - {e.student for e in entries} - {e.key for e in entries}
    if unknown:
        raise BadInput(f"--only: no such student in the sources: {', '.join(sorted(unknown))}")
    return [e for e in in_part if e.student in options.only or e.key in options.only]


@dataclass
class Summary:
    outcomes: list[StudentResult] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # the gradebook's
    csv: Path | None = None
    html: Path | None = None

    def table(self) -> str:
        lines = [f"{'student':<30} {'score':>12} {'status':<11} {'seconds':>7}"]
        for o in sorted(self.outcomes, key=lambda o: o.entry.key):
            row = o.row
            score = f"{row.score:g}/{row.max_score:g}" if row and row.score is not None else "-"
            status = ("kept " if o.kept else "") + (row.status if row else "no report")
            lines.append(printable(f"{o.entry.student[:30]:<30} {score:>12} {status:<11} {o.seconds:>7.0f}"))
        mixed = gradebook.mixed_rubrics_note(self.rows)
        if mixed:  # the whole gradebook's, not only this batch's students
            lines.append(f"warning: {mixed}")
        return "\n".join(lines) + "\n"


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
