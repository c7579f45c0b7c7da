"""What the runtime checks call a crash."""

from __future__ import annotations

import pytest

from grader.waiting import CRASH_LOOP_RESTARTS, ServiceState


@pytest.mark.parametrize(
    "state, crashed",
    [
        pytest.param(ServiceState("api", "running", "", 0), False, id="running"),
        pytest.param(ServiceState("api", "running", "", 0, restarts=1), False, id="brought-back-once"),
        pytest.param(
            ServiceState("api", "running", "", 0, restarts=CRASH_LOOP_RESTARTS), True, id="caught-running-in-a-loop"
        ),
        pytest.param(ServiceState("api", "restarting", "", 1), True, id="restarting"),
        pytest.param(ServiceState("migrate", "exited", "", 0), False, id="one-shot-done"),
        pytest.param(ServiceState("api", "exited", "", 1), True, id="exited-1"),
    ],
)
def test_crashed(state: ServiceState, crashed: bool) -> None:
    assert state.crashed is crashed


def test_a_loop_caught_running_says_it_keeps_restarting() -> None:
    assert "restart" in ServiceState("api", "running", "", 0, restarts=5).describe()
