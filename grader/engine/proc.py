"""Running a command whose output a submission controls: bounded memory, a deadline, and no
process left behind.

subprocess.run(capture_output=True) keeps everything a command prints. A build step that prints
gigabytes (`RUN yes`) would then live in the grader's memory; here each stream keeps its first
and last bytes only, which is where a command says what it is doing and why it failed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from io import BufferedReader

from grader.errors import CommandTimeout

HEAD_BYTES = 64 * 1024
# Every compose call's address space: a YAML bomb or a model of aliases that slipped past the
# screen ends there instead of in the machine's memory. Compose's Go runtime needs more than
# 512 MiB of address space to start (measured: "failed to reserve page summary memory").
COMPOSE_MEMORY = 2 << 30
TAIL_BYTES = 4 * 1024 * 1024
_CHUNK = 64 * 1024


class Bounded:
    """The first `head` and the last `tail` bytes written to it, and how many were left out."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.head_limit, self.tail_limit = head, tail
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.dropped = 0

    def write(self, data: bytes) -> None:
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail.append(data)
        self.tail_size += len(data)
        while self.tail_size - len(self.tail[0]) >= self.tail_limit:
            self.tail_size -= len(self.tail[0])
            self.dropped += len(self.tail.popleft())
        if self.tail_size > self.tail_limit:  # trim the oldest chunk to keep exactly `tail` bytes
            extra = self.tail_size - self.tail_limit
            self.tail[0] = self.tail[0][extra:]
            self.tail_size -= extra
            self.dropped += extra

    def value(self) -> bytes:
        gap = f"\n[... {self.dropped} bytes of output left out ...]\n".encode() if self.dropped else b""
        return bytes(self.head) + gap + b"".join(self.tail)


def _drain(stream: BufferedReader, sink: Bounded, watch: Callable[[bytes], None] | None = None) -> None:
    with stream:
        for chunk in iter(lambda: stream.read1(_CHUNK), b""):
            sink.write(chunk)
            if watch is not None:
                watch(chunk)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command and whatever it started (compose runs `docker` and plugins)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def run_bounded(
    cmd: Sequence[str],
    timeout: float,
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = False,
    head: int = HEAD_BYTES,
    tail: int = TAIL_BYTES,
    stdin: bytes | None = None,
    address_space: int | None = None,
    watch: Callable[[bytes], None] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Like subprocess.run(capture_output=True, timeout=...) with bounded output. On timeout or an
    exception (Ctrl-C) the command's whole process group is killed; CommandTimeout carries the
    output so far. `stdin`, when given, is written to the command's input, then closed.
    `address_space` caps the command's memory (RLIMIT_AS, set by util-linux's prlimit before it
    starts: a limit set from here after the start would race the command's first allocations).
    `watch` sees every chunk of output as it comes (a build's steps, as they start)."""
    prlimit = shutil.which("prlimit") if address_space else None
    capped = [prlimit, f"--as={address_space}", "--", *cmd] if prlimit else list(cmd)
    process = subprocess.Popen(
        capped,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,  # its own process group, so a kill reaches its children
    )
    out, err = Bounded(head, tail), Bounded(head, tail)
    streams = [process.stdout, process.stderr]  # BufferedReaders: bufsize=-1, binary mode
    readers = [
        threading.Thread(target=_drain, args=(s, b, watch), daemon=True)
        for s, b in zip(streams, (out, err), strict=True)
    ]
    for reader in readers:
        reader.start()
    if stdin is not None and process.stdin is not None:
        with process.stdin, suppress(BrokenPipeError):  # a command that exits early reads no more
            process.stdin.write(stdin)
    try:
        returncode = process.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.wait()
        for reader in readers:
            reader.join(5)
        raise CommandTimeout(list(cmd), timeout, (out.value() + err.value()).decode(errors="replace")) from None
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    for reader in readers:
        reader.join(10)  # a grandchild holding the pipe open must not hang the grader
    stdout, stderr = out.value(), err.value()
    if check and returncode != 0:
        raise subprocess.CalledProcessError(returncode, list(cmd), stdout, stderr)
    return subprocess.CompletedProcess(list(cmd), returncode, stdout, stderr)
