"""The grader's HTTP client for a student's API: every request ends by an absolute deadline.

`requests` (and urllib3 under it) times out each read, not the request: an API that answers
`HTTP/1.1 200 OK` and then one header byte a second held a probe for minutes, until the check's
own deadline made the run `incomplete` (the student's misbehaving API, charged to the grader). Here
a timer shuts the socket down at the deadline, which ends any read at once; the body is read to a
cap, without compression (a gzip bomb is never inflated).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from contextlib import suppress
from typing import NamedTuple
from urllib.parse import urlsplit


class NoAnswer(OSError):
    """Nothing answered, the answer was not HTTP, or it did not finish by the deadline."""


class Reply(NamedTuple):
    status: int
    body: bytes  # at most `limit` bytes
    truncated: bool  # the body went on past `limit`
    charset: str
    late: bool = False  # the deadline came while the body was still arriving (body: what came)


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    seconds: float = 5.0,
    limit: int = 300,
) -> Reply:
    """`method url` with its answer read to `limit` bytes, all within `seconds` (NoAnswer)."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=seconds)
    fired = threading.Event()
    opened: list[socket.socket] = []  # the connection forgets its socket once the answer is read

    def cut() -> None:
        fired.set()
        for sock in opened:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    started = time.monotonic()
    timer.start()
    try:
        sent = {"Accept-Encoding": "identity", "Connection": "close", **(headers or {})}
        connection.connect()
        if connection.sock is not None:
            opened.append(connection.sock)
        if fired.is_set():  # the deadline came while connecting
            cut()
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        if fired.is_set():  # the headers were cut off: no answer, whatever http.client made of them
            raise NoAnswer(f"no whole answer within {seconds:g} s")
        charset = response.headers.get_content_charset() or "utf-8"
        data = bytearray()
        try:
            while len(data) <= limit and (chunk := response.read1(limit + 1 - len(data))):
                data += chunk
        except (OSError, http.client.HTTPException, ValueError):
            if not fired.is_set():
                raise
        return Reply(response.status, bytes(data[:limit]), len(data) > limit, charset, fired.is_set())
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, NoAnswer):
            raise
        if fired.is_set() or time.monotonic() - started >= seconds:
            raise NoAnswer(f"no whole answer within {seconds:g} s") from exc
        raise NoAnswer(type(exc).__name__) from exc
    finally:
        timer.cancel()
        connection.close()
