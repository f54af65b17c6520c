"""The one hang-guard helper: ten times a quiet machine's time at least, and a message that says why."""
from __future__ import annotations

import pytest

from tests.timing import Stopwatch, hang_guard, hang_guarded


def test_a_step_ten_times_slower_than_quiet_still_passes():
    hang_guard(9.9, 1.0, "the step")


def test_a_hang_fails_with_a_message_that_names_the_guard():
    with pytest.raises(AssertionError, match=r"the step took 10.0 s, over the hang guard of 10 s \(10 x the 1 s "
                                             r"it takes on a quiet machine\): this bound catches hangs"):
        hang_guard(10.0, 1.0, "the step")


def test_a_factor_below_ten_is_raised_to_ten():
    hang_guard(9.0, 1.0, "the step", factor=2)  # 2 x would fail; the floor is 10 x
    with pytest.raises(AssertionError, match="over the hang guard of 30 s"):
        hang_guard(31.0, 1.0, "the step", factor=30)


def test_quiet_time_must_be_positive():
    with pytest.raises(ValueError, match="quiet_s must be positive"):
        hang_guard(0.0, 0.0, "the step")


def test_the_context_manager_times_its_block():
    with hang_guarded(60.0, "an empty block") as watch:
        pass
    assert watch.stopped is not None and 0.0 <= watch.elapsed < 60.0
    assert Stopwatch(started=1.0, stopped=3.5).elapsed == 2.5
