"""Polling helpers shared by the runtime checks: settle the stack, describe what crashed."""

from __future__ import annotations

import time
from dataclasses import dataclass

from grader.diagnose import db_localhost_line, db_not_ready_line
from grader.messages import msg
from grader.stack import Limits, Stack

PG_NO_PASSWORD = "superuser password is not specified"
# A crash loop restarts every few hundred milliseconds at first (the engine's backoff doubles from
# 100 ms), so a poll can land on `running` again and again; its restart count cannot.
CRASH_LOOP_RESTARTS = 3


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str  # running, exited, restarting, created, dead, ...
    health: str  # "", starting, healthy, unhealthy
    exit_code: int
    memory_full: bool = False  # running, but its working set fills its memory limit
    restarts: int = 0  # how often the engine restarted it (its restart policy)

    @property
    def crashed(self) -> bool:
        return (
            self.memory_full
            or self.restarts >= CRASH_LOOP_RESTARTS
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
        if self.state == "exited":
            return msg("state.exited", service=self.service, code=self.exit_code)
        if self.state == "restarting" or self.restarts >= CRASH_LOOP_RESTARTS:
            return msg("state.restarting", service=self.service)
        if self.memory_full:
            return msg("state.memory_full", service=self.service)
        if self.health == "unhealthy":
            return msg("state.unhealthy", service=self.service)
        if self.health == "starting":
            return msg("state.health_starting", service=self.service)
        return msg("state.other", service=self.service, state=self.state)


def states(stack: Stack, memory_limit: int | None = None) -> list[ServiceState]:
    """Every service's state; with `memory_limit`, running services are also checked for a
    working set that fills it."""
    return [
        ServiceState(
            str(c.Service),
            str(c.State or ""),
            str(c.Health or ""),
            int(c.ExitCode or 0),
            bool(
                memory_limit
                and c.State == "running"
                and stack.memory_full(str(c.Service), memory_limit, str(c.ID or "") or None)
            ),
            stack.restarts(str(c.ID or "")),
        )
        for c in stack.containers()
    ]


def settle(
    stack: Stack, deadline: float, quiet_for: float = 5.0, memory_limit: int | None = Limits().memory_bytes
) -> list[ServiceState]:
    """Wait until every service is running (healthy where it has a healthcheck) or finished with
    exit 0, and stays so for `quiet_for` seconds; return early on a crash; give up at deadline."""
    stable_since: float | None = None
    current: list[ServiceState] = []
    while True:
        current = states(stack, memory_limit)
        now = time.monotonic()
        if any(s.crashed for s in current):
            return current
        if current and all(s.settled for s in current):
            stable_since = stable_since or now
            if now - stable_since >= quiet_for:
                return current
        else:
            stable_since = None
        if now >= deadline:
            return current
        time.sleep(1)


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
    return tips


def crash_report(
    stack: Stack, crashed: list[ServiceState], tail: int = 40, memory: str = Limits.memory
) -> tuple[str, str]:
    """(feedback sentence, evidence) for services that crashed: what happened and their logs."""
    parts, evidence = [], []
    for state in crashed:
        logs = stack.logs(state.service, tail)
        parts.append(state.describe())
        if state.memory_full or (state.state != "running" and stack.oom_killed(state.service)):
            parts.append(msg("hint.oom", service=state.service, memory=memory))
        parts.extend(explain_logs(logs, running=state.state == "running"))
        if state.health in ("starting", "unhealthy"):
            evidence.append(f"{msg('logs.healthcheck', service=state.service)}\n{stack.health_output(state.service)}")
        evidence.append(f"{msg('logs.last_lines', service=state.service)}\n{logs.strip() or msg('logs.none')}")
    return "; ".join(p.rstrip(".") for p in parts) + ".", "\n".join(evidence)
