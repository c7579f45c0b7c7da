"""Recognising the beginner mistakes from what a running stack shows: logs and listening sockets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.messages import msg

_LOCAL = r"(localhost|127\.0\.0\.1|\[?::1\]?)"
# node-postgres: `connect ECONNREFUSED 127.0.0.1:5432`; Prisma: "Can't reach database server at
# `localhost:5432`"; Sequelize/TypeORM wrap the same node error.
_DB_LOCALHOST = re.compile(
    rf"(ECONNREFUSED|refused|can't reach|could not connect|connect).{{0,80}}{_LOCAL}[`'\"]?:5432",
    re.IGNORECASE,
)

# The machine could not reach a registry or mirror: not the student's fault.
_NETWORK = re.compile(
    r"(no such host|dial tcp|i/o timeout|TLS handshake timeout|EAI_AGAIN|ENOTFOUND|ETIMEDOUT|"
    r"ECONNRESET|network is unreachable|Temporary failure resolving)",
    re.IGNORECASE,
)


def network_failure(output: str) -> bool:
    return _NETWORK.search(output) is not None


_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_ADDRESS_KEY = re.compile(r"HOST|URL|ADDR|DSN", re.IGNORECASE)


def fixed_ip_settings(environment: dict[str, str]) -> list[tuple[str, str]]:
    """(key, address) of the app's settings that name a fixed IP (not loopback, not 0.0.0.0):
    a container's address copied from `docker inspect`, which changes with every new stack."""
    found = []
    for key, value in environment.items():
        if _ADDRESS_KEY.search(key):
            found += [(key, ip) for ip in _IPV4.findall(value) if not ip.startswith("127.") and ip != "0.0.0.0"]
    return found


def fixed_ip_hint(key: str, address: str) -> str:
    return msg("hint.fixed_ip", key=key, address=address)


def failed_connection_line(logs: str, address: str) -> str | None:
    """The log line where a connection to `address` failed, if any."""
    pattern = re.compile(
        rf"(ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT|refused|unreachable|timed? ?out|can't reach|could not connect)"
        rf".{{0,80}}{re.escape(address)}",
        re.IGNORECASE,
    )
    return next((line.strip() for line in logs.splitlines() if pattern.search(line)), None)


# The database was there but not ready: refused on its service address, or still starting up.
_DB_NOT_READY = re.compile(
    r"(ECONNREFUSED\s+(?!127\.0\.0\.1|::1)[\w.:-]+:5432|the database system is starting up)", re.IGNORECASE
)


def db_not_ready_line(logs: str) -> str | None:
    return next((line.strip() for line in logs.splitlines() if _DB_NOT_READY.search(line)), None)


def db_localhost_line(logs: str) -> str | None:
    """The log line that shows the DB_HOST=localhost mistake, if any."""
    for line in logs.splitlines():
        if _DB_LOCALHOST.search(line):
            return line.strip()
    return None


# Docker's embedded DNS server listens on 127.0.0.11 (a random TCP port) in every container on a
# user-defined network: it is never the app, and naming its port would mislead the student.
DOCKER_DNS = "127.0.0.11"


@dataclass(frozen=True)
class Listener:
    address: str  # "0.0.0.0", "127.0.0.1", "::", "::1", ...
    port: int

    @property
    def loopback_only(self) -> bool:
        return self.address.startswith("127.") or self.address == "::1"


def _hex_ipv4(value: str) -> str:
    raw = bytes.fromhex(value)[::-1]  # /proc/net/tcp stores IPv4 little-endian
    return ".".join(str(b) for b in raw)


def _hex_ipv6(value: str) -> str:
    words = [bytes.fromhex(value[i : i + 8])[::-1].hex() for i in range(0, 32, 8)]
    full = "".join(words)
    groups = [full[i : i + 4] for i in range(0, 32, 4)]
    if all(g == "0000" for g in groups):
        return "::"
    if all(g == "0000" for g in groups[:7]) and groups[7] == "0001":
        return "::1"
    if groups[:5] == ["0000"] * 5 and groups[5] == "ffff":  # IPv4-mapped
        return _hex_ipv4(words[3])
    return ":".join(groups)


def listeners(proc_net_tcp: str) -> list[Listener]:
    """Listening TCP sockets from the text of /proc/net/tcp and /proc/net/tcp6 (state 0A)."""
    found: list[Listener] = []
    for line in proc_net_tcp.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[3] != "0A" or ":" not in parts[1]:
            continue
        address, port = parts[1].rsplit(":", 1)
        try:
            ip = _hex_ipv4(address) if len(address) == 8 else _hex_ipv6(address)
        except ValueError:
            continue
        if ip != DOCKER_DNS:
            found.append(Listener(ip, int(port, 16)))
    return found


def explain_unreachable(found: list[Listener], target: int) -> str:
    """Why a published container port does not answer, from what listens inside the container."""
    on_target = [s for s in found if s.port == target]
    if on_target and all(s.loopback_only for s in on_target):
        return msg("listen.loopback", address=on_target[0].address, port=target)
    others = sorted({s.port for s in found if s.port != target})
    if not on_target and others:
        shown = ", ".join(str(p) for p in others)
        return msg("listen.other_port", port=target, ports=shown)
    if not on_target:
        return msg("listen.nothing", port=target)
    return msg("listen.silent", port=target)
