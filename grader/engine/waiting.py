"""Polling helpers shared by the runtime checks: settle the stack, describe what crashed."""

from __future__ import annotations

import dataclasses
import re
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from grader.engine import probe
from grader.engine.diagnose import db_localhost_line, db_not_ready_line
from grader.engine.limits import Limits
from grader.messages import msg
from grader.model import Answer
from grader.run.stash import StashKey

if TYPE_CHECKING:
    from grader.engine.stack import Stack

# The API's first answer while startup.up watched the stack, for api.reachable (grader.run.stash).
ANSWER: StashKey[Answer | None] = StashKey("startup.answer")

PG_NO_PASSWORD = "superuser password is not specified"
# A restart policy legitimately brings a service back while the database initialises (an app that
# exits when it cannot connect, `restart: on-failure`). The engine's backoff doubles from 100 ms,
# so such a service restarts a few times in the first seconds. It is in a crash loop when it has
# restarted at least CRASH_LOOP_RESTARTS times and restarts again LOOP_GRACE seconds after every
# other service was up and the database accepted connections (or LOOP_PATIENCE seconds after
# `up` when that never happens): by then what it waited for has had its time.
CRASH_LOOP_RESTARTS = 3
LOOP_GRACE = 10.0
LOOP_PATIENCE = 30.0
# A stack that settled is watched this long more, and as long after the API first answered: a
# service that dies seconds after it started (an unhandled rejection after the first query, a bad
# timer) failed to start. The API and the database are asked during that time, not after it.
WATCH_S = 4.0
ANSWER_BYTES = 300  # of an answer's body, kept for the evidence
MEMORY_RECENT_S = 2.0  # the watch ends on a memory sample started this close to its end, or later


def backoff(first: float = 0.1, cap: float = 0.5) -> Iterator[float]:
    """Poll delays: 0.1, 0.2, 0.4, then `cap`: what is ready soon is seen soon, and a long wait
    does not poll the engine (compose ps, stats) often enough to slow the stack it waits for."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str  # running, exited, restarting, created, dead, ...
    health: str  # "", starting, healthy, unhealthy
    exit_code: int
    memory_full: bool = False  # running, but its working set fills its memory limit
    restarts: int = 0  # how often the engine restarted it (its restart policy)
    looping: bool = False  # still restarting after the others were up (RestartWatch)
    container: str = ""  # its id on the engine
    disk_full: bool = False  # stopped by the grader: the run wrote more than its disk limit

    @property
    def crashed(self) -> bool:
        return (
            self.memory_full
            or self.disk_full
            or self.looping
            or self.state in ("restarting", "dead", "removing")
            or (self.state == "exited" and self.exit_code != 0)
            or self.health == "unhealthy"
        )

    @property
    def settled(self) -> bool:
        return (self.state == "running" and self.health in ("", "healthy")) or (
            self.state == "exited" and self.exit_code == 0
        )

    def describe(self) -> str:
        if self.disk_full:
            return msg("state.disk_full", service=self.service)
        if self.state == "exited":
            return msg("state.exited", service=self.service, code=self.exit_code)
        if self.state == "restarting" or self.looping:
            return msg("state.restarting", service=self.service)
        if self.memory_full:
            return msg("state.memory_full", service=self.service)
        if self.health == "unhealthy":
            return msg("state.unhealthy", service=self.service)
        if self.health == "starting":
            return msg("state.health_starting", service=self.service)
        return msg("state.other", service=self.service, state=self.state)


@dataclass
class RestartWatch:
    """Tells a service its restart policy is bringing back (wait for it) from a crash loop (a
    crash), from successive polls. Pure bookkeeping over the states and the clock, so the
    timing rules are unit-tested without an engine."""

    started: float
    quiet_for: float = WATCH_S
    _counts: dict[str, int] = field(default_factory=dict)
    _restarted_at: dict[str, float] = field(default_factory=dict)
    _others_up_since: float | None = None

    def observe(self, current: list[ServiceState], now: float, db_ready: bool = True) -> list[ServiceState]:
        """The states with `looping` set; call once per poll. `db_ready`: the database accepts
        connections (a database without healthcheck is `running` long before it does)."""
        for s in current:
            if s.state == "restarting" or s.restarts != self._counts.get(s.service, 0):
                self._restarted_at[s.service] = now
            self._counts[s.service] = s.restarts
        others = [s for s in current if s.service not in self._restarted_at]
        if db_ready and others and all(s.settled for s in others):
            self._others_up_since = self._others_up_since if self._others_up_since is not None else now
        else:
            self._others_up_since = None
        grace_end = (
            self._others_up_since + LOOP_GRACE if self._others_up_since is not None else self.started + LOOP_PATIENCE
        )
        return [
            dataclasses.replace(s, looping=True)
            if s.restarts >= CRASH_LOOP_RESTARTS and self._restarted_at.get(s.service, -1.0) > grace_end
            else s
            for s in current
        ]

    def bouncing(self, state: ServiceState, now: float) -> bool:
        """Brought back by its restart policy and not (yet) a loop: neither crashed nor settled."""
        if state.looping:
            return False
        return state.state == "restarting" or now - self._restarted_at.get(state.service, -1e9) < self.quiet_for


def ask(url: str, timeout: float) -> Answer:
    """GET `url` (no redirect followed): its status and the first characters of its body, read
    no further (a body that never ends cannot fill the grader's memory), all within `timeout`
    (grader.engine.probe: headers dripped a byte a second end there too). probe.NoAnswer (an OSError)
    when nothing answers."""
    reply = probe.request("GET", url, seconds=timeout, limit=ANSWER_BYTES)
    return Answer(url, reply.status, reply.body.decode(reply.charset, errors="replace"), time.monotonic())


def http_answers(stack: Stack, service: str, port: int) -> Callable[[], Answer | None]:
    """A probe: the service's answer to `GET /` on its container port, or None (not yet)."""

    def answer() -> Answer | None:
        endpoint = stack.endpoint(service, port)
        if endpoint is None:
            return None
        try:
            # Short: the watch polls the other services between two tries (api.reachable waits
            # longer for an API that is slow to answer).
            return ask(f"http://{endpoint.url_host}:{endpoint.port}/", timeout=2)
        except OSError:
            return None

    return answer


_SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # PostgreSQL's SSLRequest: answered `S` or `N`


def postgres_answers(stack: Stack, service: str, port: int) -> Callable[[], bool]:
    """A probe: whether PostgreSQL itself answers on the service's port (it listens on TCP only
    once its initialisation is over). A TCP connection alone proves nothing: the engine's proxy
    accepts one on a published port whatever listens behind it. No credentials needed."""

    def probe() -> bool:
        endpoint = stack.endpoint(service, port)
        if endpoint is None:
            return False
        try:
            with socket.create_connection((endpoint.host, endpoint.port), timeout=1) as sock:
                sock.settimeout(1)
                sock.sendall(_SSL_REQUEST)
                return sock.recv(1) in (b"S", b"N")
        except OSError:
            return False

    return probe


def states(stack: Stack, memory_limit: int | None = None) -> list[ServiceState]:
    """Every service's state; with `memory_limit`, running services are also checked for a
    working set that fills it (the stack's last memory sample: Stack.memory_full)."""
    return [
        ServiceState(
            str(c.Service),
            str(c.State or ""),
            str(c.Health or ""),
            int(c.ExitCode or 0),
            bool(memory_limit)
            and c.State == "running"
            and stack.memory_full(str(c.Service), memory_limit or 0, str(c.ID or "") or None),
            stack.restarts(str(c.ID or "")),
            container=str(c.ID or ""),
            disk_full=stack.disk_full(str(c.ID or "")),
        )
        for c in stack.containers()
    ]


class Settled(NamedTuple):
    states: list[ServiceState]
    answer: Answer | None  # the API's first answer while the stack was watched


def settle(
    stack: Stack,
    deadline: float,
    quiet_for: float = WATCH_S,
    memory_limit: int | None = Limits().memory_bytes,
    db_ready: Callable[[], bool] | None = None,
    answered: Callable[[], Answer | None] | None = None,
) -> Settled:
    """Wait until every service is running (healthy where it has a healthcheck) or finished with
    exit 0, then watch it `quiet_for` seconds more, and as long after the API's first answer
    (`answered`, asked at each poll of that time until it answers); return early on a crash; give
    up at deadline. A service its restart policy brings back is waited for (RestartWatch), not a
    crash. The API is asked while the stack is watched, not after it: a stack that stays up costs
    the watch once, and a crash seconds after the first answer is still seen."""
    watch = RestartWatch(time.monotonic(), quiet_for)
    delays = backoff()
    stable_since: float | None = None
    answer: Answer | None = None
    current: list[ServiceState] = []
    ready = False
    while True:
        now = time.monotonic()
        ready = ready or db_ready is None or db_ready()
        current = watch.observe(states(stack, memory_limit), now, ready)
        bouncing = [s for s in current if watch.bouncing(s, now)]
        if any(s.crashed and s not in bouncing for s in current):
            return Settled(current, answer)
        if current and not bouncing and all(s.settled for s in current):
            stable_since = stable_since or now
            # Asked once the database answers: an app whose route queries it would otherwise
            # be made to fail by a request it could not serve yet.
            if answer is None and answered is not None and ready:
                answer = answered()
            since = max(stable_since, answer.at) if answer is not None else stable_since
            # Counted to `now`, when the states were read: a slow probe is no time watched.
            # And a memory sample from the watch's last seconds has come back (a hog at its limit
            # may keep the engine's answer waiting: then so does the watch).
            running = [s.container for s in current if s.state == "running"]
            recent = max(stable_since, since + quiet_for - MEMORY_RECENT_S)
            memory_seen = not memory_limit or stack.memory_sampled_since(recent, running)
            if now - since >= quiet_for and memory_seen:
                return Settled(current, answer)
        else:
            stable_since, answer = None, None  # brought back since: its answer was another process's
        if now >= deadline:  # still being brought back when time ran out: that is no start
            return Settled([dataclasses.replace(s, looping=True) if s in bouncing else s for s in current], answer)
        time.sleep(next(delays))


def explain_logs(logs: str, running: bool = False) -> list[str]:
    """Beginner mistakes recognisable in a service's log. "Tried the database too early and gave
    up" only fits a service that stopped: one still running may well have retried and connected."""
    tips: list[str] = []
    if db_localhost_line(logs):
        tips.append(msg("hint.db_localhost"))
    if db_not_ready_line(logs) and not running:
        tips.append(msg("hint.db_not_ready"))
    if PG_NO_PASSWORD in logs:
        tips.append(msg("hint.no_password"))
    table = _MISSING_TABLE.search(logs)
    if table:
        tips.append(msg("hint.missing_table", table=table.group("table")[:60]))
    return tips


# PostgreSQL through TypeORM/pg (`relation "users" does not exist`) and Prisma (P2021): the app
# queries a table nothing created, usually a seeder or a route at boot before any migration ran.
_MISSING_TABLE = re.compile(r'(?:relation "|The table `)(?P<table>[\w.]{1,60})(?:"|`) does not exist')


def crash_report(
    stack: Stack, crashed: list[ServiceState], tail: int = 40, memory: str = Limits.memory
) -> tuple[str, str]:
    """(feedback sentence, evidence) for services that crashed: what happened and their logs."""
    parts, evidence = [], []
    for state in crashed:
        logs = stack.logs(state.service, tail)
        parts.append(state.describe())
        if state.disk_full:
            parts.append(msg("hint.disk", disk=stack.limits.disk))
        elif state.memory_full or (state.state != "running" and stack.oom_killed(state.service)):
            parts.append(msg("hint.oom", service=state.service, memory=memory))
        parts.extend(explain_logs(logs, running=state.state == "running"))
        if state.health in ("starting", "unhealthy"):
            evidence.append(f"{msg('logs.healthcheck', service=state.service)}\n{stack.health_output(state.service)}")
        evidence.append(f"{msg('logs.last_lines', service=state.service)}\n{logs.strip() or msg('logs.none')}")
    return "; ".join(p.rstrip(".") for p in parts) + ".", "\n".join(evidence)
