"""Where a run's time goes: seconds per phase (copy, config, build, up, settle, api, persistence,
teardown), for the report, so a slow submission shows what was slow."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

# The order phases are reported in (the order a run goes through them).
PHASES = ("copy", "config", "build", "up", "settle", "api", "persistence", "teardown")


class Timings:
    """A recorder a run and its checks add to; a phase timed twice adds up. `watch` hears each
    phase start (seconds None) and end (the seconds it took): the run's events (grader.run.events)."""

    def __init__(self, watch: Callable[[str, float | None], None] | None = None) -> None:
        self._spent: dict[str, float] = {}
        self._watch = watch

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r} (known: {', '.join(PHASES)})")
        started = time.monotonic()
        self._tell(name, None)
        try:
            yield
        finally:
            seconds = time.monotonic() - started
            self._spent[name] = self._spent.get(name, 0.0) + seconds
            self._tell(name, seconds)

    def _tell(self, name: str, seconds: float | None) -> None:
        """The watch, whose failure never stops what is timed (teardown is)."""
        if self._watch is not None:
            with suppress(Exception):
                self._watch(name, seconds)

    def spent(self) -> tuple[tuple[str, float], ...]:
        """(phase, seconds) for the phases that ran, in run order."""
        return tuple((p, round(self._spent[p], 2)) for p in PHASES if p in self._spent)
