"""What a batch shows a TA: a line per student done with the time left (plain lines in a CI
log; on a terminal also, live, who runs now and in which phase), and the summary table at the
end."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TextIO

from grader.classroom import gradebook
from grader.classroom.gradebook import Row
from grader.classroom.roster import Entry
from grader.reports.redaction import inert

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table


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
