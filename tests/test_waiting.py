"""What the runtime checks call a crash."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, cast

import pytest

from grader.engine.waiting import (
    CRASH_LOOP_RESTARTS,
    LOOP_GRACE,
    LOOP_PATIENCE,
    RestartWatch,
    ServiceState,
    explain_logs,
    settle,
)
from grader.model import Answer

if TYPE_CHECKING:
    from grader.engine.stack import Stack


@pytest.mark.parametrize(
    "state, crashed",
    [
        pytest.param(ServiceState("api", "running", "", 0), False, id="running"),
        pytest.param(ServiceState("api", "running", "", 0, restarts=1), False, id="brought-back-once"),
        pytest.param(ServiceState("api", "running", "", 0, restarts=5), False, id="brought-back-and-running"),
        pytest.param(ServiceState("api", "running", "", 0, restarts=5, looping=True), True, id="caught-in-a-loop"),
        pytest.param(ServiceState("api", "restarting", "", 1), True, id="restarting"),
        pytest.param(ServiceState("migrate", "exited", "", 0), False, id="one-shot-done"),
        pytest.param(ServiceState("api", "exited", "", 1), True, id="exited-1"),
    ],
)
def test_crashed(state: ServiceState, crashed: bool) -> None:
    assert state.crashed is crashed


def test_a_loop_caught_running_says_it_keeps_restarting() -> None:
    assert "restart" in ServiceState("api", "running", "", 0, restarts=5, looping=True).describe()


def _replay(
    restart_times: list[float], db_up_at: float, until: float, app_only: bool = False, healthcheck: bool = True
) -> list[float]:
    """Poll once a second; the app restarts at `restart_times` (the engine's backoff), the
    database accepts connections from `db_up_at` (healthy then, with a healthcheck; `running` from
    the start without). Returns the poll times at which the app was looping."""
    watch, looping, now = RestartWatch(started=0.0), [], 0.0
    while now <= until:
        restarts = sum(t <= now for t in restart_times)
        current = [ServiceState("api", "running", "", 0, restarts=restarts)]
        if not app_only:
            health = ("healthy" if now >= db_up_at else "starting") if healthcheck else ""
            current.append(ServiceState("db", "running", health, 0))
        observed = watch.observe(current, now, db_ready=now >= db_up_at)
        looping += [now] if observed[0].looping else []
        now += 1.0
    return looping


BACKOFF = [0.1, 0.3, 0.7, 1.5, 3.1, 6.3, 12.7, 25.5, 51.1]  # 100 ms doubling, as the engine does


@pytest.mark.parametrize(
    "restart_times, db_up_at, healthcheck, looping_from",
    [
        # `restart: on-failure` while PostgreSQL initialises: 4 restarts, then it connects.
        pytest.param(BACKOFF[:4], 3.0, True, None, id="brought-back-while-the-db-starts"),
        # The database takes 20 s to be healthy; the app restarts meanwhile and then stays up.
        pytest.param(BACKOFF[:7], 20.0, True, None, id="slow-database-with-healthcheck"),
        # No healthcheck: `running` at once, accepting connections only after a slow initdb.
        pytest.param(BACKOFF[:7], 12.0, False, None, id="slow-database-without-healthcheck"),
        # The app exits at once forever; the database was up from the start.
        pytest.param(BACKOFF, 0.0, False, 13.0, id="crash-loop"),
    ],
)
def test_a_restart_policy_is_waited_for_and_a_loop_is_not(
    restart_times: list[float], db_up_at: float, healthcheck: bool, looping_from: float | None
) -> None:
    looping = _replay(restart_times, db_up_at, until=60.0, healthcheck=healthcheck)
    assert (looping[0] if looping else None) == looping_from
    if looping_from is not None:
        assert looping_from <= db_up_at + LOOP_GRACE + 3.0 and looping_from >= db_up_at + LOOP_GRACE


def test_a_lone_service_restarting_is_a_loop_after_the_patience() -> None:
    looping = _replay(BACKOFF, 0.0, until=60.0, app_only=True)
    assert looping and looping[0] == 52.0 and looping[0] > LOOP_PATIENCE  # the restart at 51.1, seen at 52
    assert len(BACKOFF) >= CRASH_LOOP_RESTARTS


class _Container(NamedTuple):
    Service: str
    State: str
    ID: str
    Health: str = ""
    ExitCode: int = 0


class _Stack:
    """Two services on a clock: `api` exits with 1 `dies_after` seconds after the probe's answer."""

    def __init__(self, dies_after: float | None = None) -> None:
        self.dies_after = dies_after
        self.answered_at: float | None = None

    def containers(self) -> list[_Container]:
        dead = (
            self.dies_after is not None
            and self.answered_at is not None
            and time.monotonic() >= self.answered_at + self.dies_after
        )
        api = _Container("api", "exited", "a", ExitCode=1) if dead else _Container("api", "running", "a")
        return [api, _Container("db", "running", "d")]

    def restarts(self, container_id: str) -> int:
        return 0

    def disk_full(self, container_id: str) -> bool:
        return False

    def probe(self, answers_on_call: int) -> Callable[[], Answer | None]:
        calls = []

        def answered() -> Answer | None:
            calls.append(1)
            if len(calls) < answers_on_call:
                return None
            self.answered_at = self.answered_at or time.monotonic()
            return Answer("http://127.0.0.1:1/", 200, "", self.answered_at)

        return answered


WATCH = 0.4  # seconds: short, the rules are the same


def as_stack(fake: _Stack) -> Stack:
    return cast("Stack", fake)


def test_the_watch_lasts_its_time_after_the_first_answer() -> None:
    stack = _Stack()
    started = time.monotonic()
    settled = settle(as_stack(stack), started + 30, WATCH, memory_limit=None, answered=stack.probe(answers_on_call=4))
    assert settled.answer is not None and settled.answer.status == 200
    assert time.monotonic() - settled.answer.at >= WATCH  # the watch counts from the answer,
    assert settled.answer.at - started > WATCH  # which came at the fourth poll, when it could have ended
    assert not any(s.crashed for s in settled.states)


def test_a_crash_after_the_first_answer_fails_the_start() -> None:
    stack = _Stack(dies_after=WATCH / 2)
    settled = settle(as_stack(stack), time.monotonic() + 30, WATCH, memory_limit=None, answered=stack.probe(1))
    assert [(s.service, s.crashed) for s in settled.states] == [("api", True), ("db", False)]


def test_an_api_that_does_not_answer_is_not_waited_for_past_the_watch() -> None:
    """Whether it ever answers is api.reachable's question, with its own deadline."""
    started = time.monotonic()
    settled = settle(as_stack(_Stack()), started + 30, WATCH, memory_limit=None, answered=lambda: None)
    assert settled.answer is None
    assert WATCH <= time.monotonic() - started < 5


def test_an_answer_is_read_no_further_than_its_first_characters() -> None:
    """A hostile API that never stops sending cannot fill the grader's memory or hold the watch."""
    import http.server
    import threading

    from grader.engine.waiting import ANSWER_BYTES, ask

    class Endless(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(100_000):  # bounded: 6.4 GB at most, far more than a grader would keep
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass  # the grader hung up, as it should

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        answer = ask(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5)
        assert answer.status == 200 and answer.body == "x" * ANSWER_BYTES
        assert time.monotonic() - started < 5
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("log", "table"),
    [
        pytest.param('QueryFailedError: relation "users" does not exist', "users", id="typeorm"),
        pytest.param("The table `public.User` does not exist in the current database.", "public.User", id="prisma"),
    ],
)
def test_a_missing_table_is_explained(log: str, table: str) -> None:
    (tip,) = explain_logs(log)
    assert f"`{table}`" in tip and "synchronize: true" in tip and "migrate" in tip
