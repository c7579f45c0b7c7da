"""A deadline around a step that may hang in ways its own timeouts do not cover (an engine that
stops answering, a library call without a timeout).

SIGALRM interrupts whatever the main thread is blocked in and raises DeadlineExceeded there; a
BaseException, so no `except Exception` in a check swallows it, and grader.engine.proc kills the
command that was running. Off the main thread (a library user's worker) it is a no-op: the
steps' own timeouts still apply.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class DeadlineExceeded(BaseException):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish within {seconds:.0f} s")
        self.seconds = seconds


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def fire(signum: int, frame: FrameType | None) -> None:
        raise DeadlineExceeded(seconds)

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def remaining() -> float:
    """Seconds left before the deadline around the caller fires; infinite without one."""
    if threading.current_thread() is not threading.main_thread():
        return float("inf")
    left = signal.getitimer(signal.ITIMER_REAL)[0]
    return left if left > 0 else float("inf")
