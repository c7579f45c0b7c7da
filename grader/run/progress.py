"""What a person watching a run sees while it grades (20 s to several minutes): the check running
now with its phase and elapsed time, and each check's line as soon as it is judged. On a terminal
with `rich`; elsewhere (CI logs, pipes) plain lines, one per event. Never in any report.

Each is a renderer of the run's events (grader.run.events), like the JSON lines of `--events`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol, TextIO

from grader.messages import msg
from grader.model import CheckResult, Stage, Status
from grader.reports.document import MARKS
from grader.run.events import CheckFinished, CheckStarted, Event

if TYPE_CHECKING:
    from rich.progress import TaskID

_STYLE = {Status.PASSED: "green", Status.FAILED: "red", Status.ERROR: "yellow", Status.SKIPPED: "dim"}


class Progress(Protocol):
    """A renderer of the run's events."""

    def emit(self, event: Event) -> None: ...

    def close(self) -> None: ...


class Silent:
    """For library callers and tests: nothing printed."""

    def emit(self, event: Event) -> None:
        pass

    def close(self) -> None:
        pass


class Fanout:
    """Every event to each renderer: the human progress and `--events` at once."""

    def __init__(self, *renderers: Progress) -> None:
        self.renderers = renderers

    def emit(self, event: Event) -> None:
        for renderer in self.renderers:
            renderer.emit(event)

    def close(self) -> None:
        for renderer in self.renderers:
            renderer.close()


def doing(started: CheckStarted) -> str:
    """`Image builds: building the images`: the check and what its phase is doing."""
    return f"{started.title}: {msg('progress.' + started.stage.value)}"


def line(result: CheckResult, width: int = 70) -> str:
    """`PASS  5/5  Dockerfile present - Found Dockerfile ...`, one line."""
    feedback = " ".join(result.feedback.split())
    if len(feedback) > width:
        feedback = feedback[: width - 3] + "..."
    points = f"{result.points:g}/{result.max_points:g}"
    return f"{msg(MARKS[result.status]):<5} {points:>7}  {result.title} - {feedback}"


class PlainLines:
    """One line per event, with the seconds since the run started: readable in a CI log."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.t0 = time.monotonic()

    def _write(self, text: str) -> None:
        self.stream.write(f"[{time.monotonic() - self.t0:6.1f} s] {text}\n")
        self.stream.flush()

    def emit(self, event: Event) -> None:
        if isinstance(event, CheckStarted) and event.stage is not Stage.STATIC:  # static: well under a second
            self._write(doing(event) + " ...")
        elif isinstance(event, CheckFinished):
            self._write(line(event.result))

    def close(self) -> None:
        pass


class LiveTerminal:
    """A spinner with the running check, its phase and the elapsed time; the check's line printed
    above it when it is judged."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import Progress as Bar
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(file=stream, highlight=False)
        self.bar = Bar(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=self.console, transient=True
        )
        self.bar.start()
        self.task: TaskID | None = None

    def emit(self, event: Event) -> None:
        if isinstance(event, CheckStarted):
            self.task = self.bar.add_task(doing(event), total=None)
        elif isinstance(event, CheckFinished):
            self._finished(event.result)

    def _finished(self, result: CheckResult) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None
            self.bar.refresh()  # else the next print redraws the finished check's spinner once
        width = max(20, self.console.width - 45)
        self.console.print(
            line(result, width), style=_STYLE[result.status], markup=False, no_wrap=True, overflow="ellipsis"
        )

    def close(self) -> None:
        self.bar.stop()


def for_stream(stream: TextIO) -> Progress:
    """Live on a terminal, plain lines otherwise."""
    return LiveTerminal(stream) if stream.isatty() else PlainLines(stream)
