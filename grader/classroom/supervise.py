"""The `grader grade` child processes of a batch: the one switch that stops them all (Ctrl-C,
SIGTERM: each tears its stack down, with longer than its teardown may take before it is killed),
and the longest one may take."""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading

from grader.model import Stage
from grader.run.context import Options
from grader.run.runner import TEARDOWN_S


class Children:
    """The `grader grade` processes under way, and the one switch that stops them: once stopping,
    no new one starts (a student still being fetched included), and every one running is asked
    to tear down, with longer than its own teardown may take before it is killed."""

    GRACE_S = TEARDOWN_S + 60

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen[str]] = set()
        self.folders: dict[subprocess.Popen[str], str] = {}  # child -> the folder it was started in
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
                preexec_fn=functools.partial(_end_with_parent, os.getpid()) if _PRCTL is not None else None,
            )
            self.running.add(child)
            self.folders[child] = cwd
            return child

    def grading(self, folder: str) -> list[subprocess.Popen[str]]:
        """The children writing their reports into `folder` (started there)."""
        with self.lock:
            return [c for c in self.running if self.folders.get(c) == folder]

    def done(self, child: subprocess.Popen[str]) -> None:
        with self.lock:
            self.running.discard(child)
            self.folders.pop(child, None)

    def stop_all(self) -> None:
        with self.lock:
            self.stopping = True
            running = list(self.running)
        for child in running:
            threading.Thread(target=stop, args=(child, self.GRACE_S), daemon=True).start()


CHILDREN = Children()

PR_SET_PDEATHSIG = 1
# Looked up here, once: between fork and exec in a threaded parent (a worker) only async-signal-safe
# work is safe, and loading a library is not.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _end_with_parent(parent: int) -> None:
    """In the child, before it runs: SIGTERM when the process that started it dies, however it
    dies (kill -9 of a batch or a service's worker included): it tears its stack down and ends,
    never grading on unseen while another process grades the same student. A parent that died
    before the request: the child ends at once."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)


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
    checks = sum(options.deadline(stage) for stage in Stage)
    return 2 * checks + TEARDOWN_S
