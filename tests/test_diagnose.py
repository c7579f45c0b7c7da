from __future__ import annotations

import pytest

from grader.engine.diagnose import (
    Listener,
    db_localhost_line,
    db_not_ready_line,
    explain_unreachable,
    failed_connection_line,
    fixed_ip_settings,
    listeners,
)
from grader.engine.waiting import explain_logs
from grader.messages import msg

PROC_NET_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0
   1: 0B00007F:8AED 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0
   2: 0100007F:0BB8 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0
"""
PROC_NET_TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 0
   1: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 0
"""


def test_listeners_from_proc_net() -> None:
    found = listeners(PROC_NET_TCP + PROC_NET_TCP6)
    assert found == [
        Listener("127.0.0.1", 3000),  # 127.0.0.11:35565 is Docker's embedded DNS: never the app
        Listener("::", 8080),
        Listener("::1", 5432),
    ]


@pytest.mark.parametrize(
    ("found", "needle"),
    [
        pytest.param([Listener("127.0.0.1", 3000)], "listens on 127.0.0.1:3000", id="loopback"),
        pytest.param([Listener("0.0.0.0", 8080)], "the app listens on 8080", id="other-port"),
        pytest.param([], "Nothing listens on container port 3000", id="nothing"),
    ],
)
def test_explain_unreachable(found: list[Listener], needle: str) -> None:
    assert needle in explain_unreachable(found, 3000)


@pytest.mark.parametrize(
    ("line", "hit"),
    [
        pytest.param("Error: connect ECONNREFUSED 127.0.0.1:5432", True, id="node-pg-ipv4"),
        pytest.param("Error: connect ECONNREFUSED ::1:5432", True, id="node-pg-ipv6"),
        pytest.param("Can't reach database server at `localhost:5432`", True, id="prisma"),
        pytest.param("Error: connect ECONNREFUSED 172.18.0.2:5432", False, id="db-not-ready-yet"),
        pytest.param("API escuchando en el puerto 3000 (localhost)", False, id="unrelated"),
    ],
)
def test_db_localhost(line: str, hit: bool) -> None:
    assert (db_localhost_line(f"start\n{line}\n") is not None) is hit


def test_fixed_ip_settings() -> None:
    env = {
        "DB_HOST": "172.28.5.200",
        "DATABASE_URL": "postgres://u:p@10.0.0.7:5432/db",
        "PORT": "3000",
        "LISTEN_HOST": "0.0.0.0",
        "REDIS_HOST": "127.0.0.1",
        "APP_NAME": "10.1.1.1",
    }
    assert fixed_ip_settings(env) == [("DB_HOST", "172.28.5.200"), ("DATABASE_URL", "10.0.0.7")]


@pytest.mark.parametrize(
    ("line", "hit"),
    [
        pytest.param("Error: connect EHOSTUNREACH 172.28.5.200:5432", True, id="unreachable"),
        pytest.param("Error: connect ETIMEDOUT 172.28.5.200:5432", True, id="timeout"),
        pytest.param("Error: connect ECONNREFUSED 172.28.5.2:5432", False, id="other-address"),
    ],
)
def test_failed_connection_line(line: str, hit: bool) -> None:
    assert (failed_connection_line(f"x\n{line}\n", "172.28.5.200") is not None) is hit


@pytest.mark.parametrize(
    ("line", "hit"),
    [
        pytest.param("No se pudo conectar: connect ECONNREFUSED 172.25.0.2:5432", True, id="refused-by-db"),
        pytest.param("error: the database system is starting up", True, id="starting-up"),
        pytest.param("connect ECONNREFUSED 127.0.0.1:5432", False, id="localhost-is-another-mistake"),
    ],
)
def test_db_not_ready_line(line: str, hit: bool) -> None:
    assert (db_not_ready_line(line) is not None) is hit


@pytest.mark.parametrize(
    ("running", "hinted"),
    [pytest.param(False, True, id="stopped-gave-up"), pytest.param(True, False, id="running-may-have-retried")],
)
def test_db_not_ready_hint_only_for_a_service_that_stopped(running: bool, hinted: bool) -> None:
    logs = "Error conectando a PostgreSQL (intento 1): connect ECONNREFUSED 172.18.0.2:5432\nConectado a PostgreSQL\n"
    assert (msg("hint.db_not_ready") in explain_logs(logs, running=running)) is hinted
