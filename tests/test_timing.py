from __future__ import annotations

import time

import pytest

from grader.run.timing import Timings


def test_phases_add_up_and_come_out_in_run_order_whatever_order_they_ran() -> None:
    timings = Timings()
    with timings.phase("api"):
        time.sleep(0.02)
    with timings.phase("copy"):
        pass
    with timings.phase("api"):  # a second span of the same phase adds up
        time.sleep(0.02)
    spent = dict(timings.spent())
    assert list(spent) == ["copy", "api"]
    assert spent["api"] >= 0.04


def test_a_phase_that_raises_is_still_timed_and_an_unknown_one_is_a_bug() -> None:
    timings = Timings()
    with pytest.raises(RuntimeError), timings.phase("build"):
        raise RuntimeError("the build broke")
    assert [p for p, _ in timings.spent()] == ["build"]
    with pytest.raises(ValueError, match="unknown phase"), timings.phase("coffee"):
        pass
