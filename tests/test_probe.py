"""grader.engine.probe against hostile servers on loopback: every request ends by its deadline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress

import pytest

from grader.engine import probe
from grader.engine.waiting import ask


def _serve(listener: socket.socket, behaviour: str) -> None:
    with suppress(OSError):
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            if behaviour == "slow-headers":  # a status line, then a header byte every 0.5 s (bounded)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for _ in range(60):
                    conn.sendall(b"X")
                    time.sleep(0.5)
            elif behaviour == "ok":
                conn.sendall(
                    b"HTTP/1.1 201 Created\r\nContent-Type: text/plain; charset=latin-1\r\n\r\nol\xe1 " + b"x" * 1000
                )


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=_serve, args=(listener, request.param), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    listener.close()


@pytest.mark.parametrize("server", ["slow-headers"], indirect=True)
def test_headers_dripped_a_byte_at_a_time_end_at_the_deadline(server: str) -> None:
    # review: requests' timeouts are per read; this held a probe for minutes (the run: incomplete)
    started = time.monotonic()
    with pytest.raises(OSError, match="within 2 s"):
        ask(server, timeout=2)
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("server", ["ok"], indirect=True)
def test_an_answer_is_read_to_its_limit_in_its_charset(server: str) -> None:
    reply = probe.request("GET", server, seconds=5, limit=10)
    assert reply.status == 201 and reply.truncated and not reply.late
    assert reply.body.decode(reply.charset) == "olá " + "x" * 6
