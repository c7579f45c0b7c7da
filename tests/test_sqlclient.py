"""The grader's SQL client against fake PostgreSQL servers on loopback: a hostile answer is a value
(a failed check), and the grader's own memory does not move."""

from __future__ import annotations

import resource
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine import sqlclient


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


READY = _message(b"R", struct.pack("!I", 0)) + _message(b"Z", b"I")  # AuthenticationOk, ReadyForQuery
ROW_DESCRIPTION = _message(b"T", struct.pack("!H", 1) + b"x\0" + struct.pack("!IHIhih", 0, 0, 25, -1, -1, 0))


HEARD: list[bytes] = []  # what a fake server was told


def _serve(listener: socket.socket, behaviour: str) -> None:
    conn, _ = listener.accept()
    with conn:
        while len(conn.recv(65536)) == 8:  # SSLRequest / GSSENCRequest: "N", then the startup message
            conn.sendall(b"N")
        if behaviour == "asks-a-password":
            conn.sendall(_message(b"R", struct.pack("!I", 3)))  # AuthenticationCleartextPassword
            HEARD.append(conn.recv(65536))
            conn.sendall(_message(b"E", b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"))
            return
        conn.sendall(READY)
        conn.recv(65536)  # Parse/Bind/Execute/Sync or a Query
        try:
            if behaviour == "endless-rows":
                # 1 MiB rows, 1 GiB at most (bounded: the client's 512 MiB cap stops it well before)
                row = _message(b"D", struct.pack("!HI", 1, 1 << 20) + b"x" * (1 << 20))
                conn.sendall(_message(b"1", b"") + _message(b"2", b"") + ROW_DESCRIPTION)
                for _ in range(1024):
                    conn.sendall(row)
            elif behaviour == "event-trigger-error":
                fields = b"SERROR\0C P0001\0Mno tables here, grader\0\0"
                conn.sendall(_message(b"E", fields) + _message(b"Z", b"I"))
        except OSError:
            return  # the client died at its cap, or gave up


@pytest.fixture
def fake_server(request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    thread = threading.Thread(target=_serve, args=(listener, request.param), daemon=True)
    thread.start()
    yield {"host": "127.0.0.1", "port": listener.getsockname()[1], "user": "u", "password": "p", "dbname": "d"}
    listener.close()
    thread.join(10)


@pytest.mark.parametrize("fake_server", ["endless-rows"], indirect=True)
def test_endless_rows_are_a_value_and_the_grader_keeps_its_memory(fake_server: dict[str, object]) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer = sqlclient.run(fake_server, [("SELECT 1 FROM t WHERE token = %s", ("x",))], timeout=60)
    assert answer.problem == "too_large", answer
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 << 10  # KiB: under 50 MiB more


@pytest.mark.parametrize("fake_server", ["event-trigger-error"], indirect=True)
def test_a_server_error_is_a_query_problem_naming_it(fake_server: dict[str, object]) -> None:
    answer = sqlclient.run(fake_server, [("CREATE TABLE IF NOT EXISTS t (token text)", ())])
    assert answer.problem == "query" and "no tables here, grader" in answer.error


def test_nothing_listening_is_worth_waiting_for() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    answer = sqlclient.run({"host": "127.0.0.1", "port": port, "user": "u", "password": "p", "dbname": "d"}, [])
    assert answer.problem == "connect"


@pytest.mark.parametrize("fake_server", ["asks-a-password"], indirect=True)
def test_the_machine_s_passwords_never_reach_a_fake_server(
    fake_server: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libpq reads ~/.pgpass, PGPASSFILE and PGPASSWORD by itself when the student's password is
    empty; the child runs without any of them (review: the machine's .pgpass reached a fake server)."""
    passfile = tmp_path / "pgpass"
    passfile.write_text("*:*:*:*:HOST-PGPASS-SECRET\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    monkeypatch.setenv("PGPASSWORD", "HOST-ENV-SECRET")
    HEARD.clear()
    answer = sqlclient.run({**fake_server, "password": ""}, [("SELECT 1", ())])
    assert answer.problem in ("auth", "connect")
    assert not any(b"SECRET" in said for said in HEARD)
