from __future__ import annotations

import subprocess
import sys
import time

import pytest

from grader.engine.proc import Bounded, run_bounded
from grader.errors import CommandTimeout


@pytest.mark.parametrize(
    "writes, expected, dropped",
    [
        pytest.param([b"abc"], b"abc", 0, id="fits"),
        pytest.param([b"ab", b"cdef", b"gh"], b"abcdefgh", 0, id="exactly-head-plus-tail"),
        pytest.param(
            [b"abcdefghij"], b"ab" + b"\n[... 2 bytes of output left out ...]\n" + b"efghij", 2, id="one-big-write"
        ),
        pytest.param([b"a"] * 12, b"aa\n[... 4 bytes of output left out ...]\naaaaaa", 4, id="many-small-writes"),
    ],
)
def test_bounded_keeps_head_and_tail(writes: list[bytes], expected: bytes, dropped: int) -> None:
    sink = Bounded(head=2, tail=6)
    for data in writes:
        sink.write(data)
    assert (sink.value(), sink.dropped) == (expected, dropped)


def test_a_flood_of_output_stays_bounded() -> None:
    # 200 MB printed; at most head + tail kept.
    script = (
        "import sys\nblock = b'x' * 65536 + b'\\n'\n"
        "for _ in range(3200): sys.stdout.buffer.write(block)\nprint('the end')"
    )
    result = run_bounded([sys.executable, "-c", script], 60, head=1000, tail=10_000)
    assert result.returncode == 0
    assert len(result.stdout) < 11_100
    assert result.stdout.endswith(b"the end\n") and b"bytes of output left out" in result.stdout


def test_timeout_kills_the_whole_process_group() -> None:
    script = (
        "import subprocess, sys, time\np = subprocess.Popen(['sleep', '300'])\n"
        "print(p.pid, flush=True)\ntime.sleep(300)"
    )
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as caught:
        run_bounded([sys.executable, "-c", script], 2)
    assert time.monotonic() - started < 10
    grandchild = int(caught.value.output.split()[0])
    time.sleep(0.2)
    assert not _alive(grandchild), "the `sleep` the command started must be killed too"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, not reaped
    except FileNotFoundError:
        return False


def test_check_raises_with_both_streams() -> None:
    with pytest.raises(subprocess.CalledProcessError) as caught:
        run_bounded(["sh", "-c", "echo out; echo err >&2; exit 3"], 10, check=True)
    assert (caught.value.returncode, caught.value.stdout, caught.value.stderr) == (3, b"out\n", b"err\n")
