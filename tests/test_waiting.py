"""What the runtime checks call a crash."""

from __future__ import annotations

import pytest

from grader.waiting import CRASH_LOOP_RESTARTS, LOOP_GRACE, LOOP_PATIENCE, RestartWatch, ServiceState


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
