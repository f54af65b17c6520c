"""The alternating-rounds summary of bench/timing.py (issue 24, item 4), on synthetic timings: the ratio of the
medians holds still when the machine's load moves both steps alike, and the repeat check says when it does not."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def timing():
    path = Path(__file__).resolve().parents[2] / "bench" / "timing.py"
    spec = importlib.util.spec_from_file_location("bench_timing", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_timing"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_timing", None)


def test_synthetic_load_that_moves_both_steps_alike_leaves_the_ratio_still(timing):
    load = (1.0, 2.3, 1.1, 3.0, 1.4)  # the machine three times busier in one round than in another
    rounds = timing.AlternatingRounds(tuple(6e-6 * f for f in load), tuple(8.4e-6 * f for f in load))
    assert rounds.ratio == pytest.approx(1.4)
    assert rounds.round_ratios == pytest.approx((1.4,) * 5)
    assert rounds.repeats()
    assert "repeated within 10 %" in rounds.spread()


def test_synthetic_rounds_whose_ratio_moves_by_more_than_10_percent_do_not_repeat(timing):
    rounds = timing.AlternatingRounds((1.0,) * 5, (1.0, 1.1, 1.25, 1.45, 1.5))  # middle half 1.10-1.45
    assert rounds.ratio == pytest.approx(1.25)
    assert rounds.middle_half() == pytest.approx((1.1, 1.45))
    assert not rounds.repeats(0.10) and rounds.repeats(0.20)
    line = rounds.spread()
    assert "did NOT repeat" in line and "all 1.00-1.50" in line and "middle half 1.10-1.45" in line and "16 %" in line


def test_synthetic_one_round_hit_by_a_burst_of_load_does_not_decide(timing):
    # the fifth round's tile compute ran while another job took the core: it is printed, the middle half decides
    rounds = timing.AlternatingRounds((1.0,) * 5, (1.40, 1.42, 1.45, 1.38, 2.9))
    assert rounds.ratio == pytest.approx(1.42)
    assert rounds.repeats() and "2.90" in rounds.spread()


def test_synthetic_ratio_is_of_the_medians_not_of_one_lucky_round(timing):
    # a "phases one after another" bench would take best-of each: 1.0 and 1.1, ratio 1.1; the medians say 2
    rounds = timing.AlternatingRounds((1.0, 2.0, 2.0), (4.0, 4.0, 1.1))
    assert rounds.ratio == pytest.approx(2.0)
    assert not rounds.repeats()


def test_synthetic_rounds_need_pairs(timing):
    with pytest.raises(ValueError, match="equal, non-zero rounds"):
        timing.AlternatingRounds((1.0, 1.0), (1.0,))
    with pytest.raises(ValueError):
        timing.AlternatingRounds((), ())


def test_alternating_rounds_interleave_the_two_steps(timing, monkeypatch):
    monkeypatch.setattr(timing, "SETTLE_S", 0.0)
    order = []
    rounds = timing.alternating_rounds(lambda: order.append("model"), lambda: order.append("tile"), 10, 3)
    assert order == ["model", "tile"] * 3
    assert len(rounds.reference) == len(rounds.measured) == 3
