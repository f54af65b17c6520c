"""What the benchmarks share: a settled timer, alternating rounds of two steps and a multiply-accumulate counter."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

#: Pause before each measurement: OpenBLAS and OpenMP threads of the previous one keep spinning
#: for a moment and would steal the cores from the next.
SETTLE_S = 0.5


def timed(fn) -> float:
    """Seconds ``fn`` takes, after a pause of SETTLE_S."""
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def macs_per_pixel(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass (1D/2D convolutions and linear layers), by hooks."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d)):
            k = int(np.prod(module.kernel_size)) * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros((1, *shape)))
    for h in handles:
        h.remove()
    return total


@dataclass(frozen=True)
class AlternatingRounds:
    """Seconds per pixel of a reference step and a measured step on the same inputs, timed in alternating
    rounds (reference, measured, reference, measured, ...): a change of the machine's load between rounds
    falls on both alike, so their ratio holds still where each alone does not."""

    reference: tuple[float, ...]
    measured: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.reference or len(self.reference) != len(self.measured):
            raise ValueError(f"need equal, non-zero rounds of each, got {len(self.reference)} and {len(self.measured)}")

    @property
    def ratio(self) -> float:
        """Median measured time over median reference time (per pixel: how many times the reference)."""
        return float(np.median(self.measured) / np.median(self.reference))

    @property
    def round_ratios(self) -> tuple[float, ...]:
        """Each round pair's measured / reference."""
        return tuple(m / r for r, m in zip(self.reference, self.measured))

    def middle_half(self) -> tuple[float, float]:
        """The interquartile range of the round ratios (25th and 75th percentiles)."""
        q25, q75 = np.percentile(self.round_ratios, [25, 75])
        return float(q25), float(q75)

    def repeats(self, tolerance: float = 0.10) -> bool:
        """Whether the middle half of the round ratios lies within ``tolerance`` of the ratio of the medians
        (a round or two that a burst of load hit on one step only does not decide it; they are printed)."""
        q25, q75 = self.middle_half()
        return q25 >= self.ratio * (1 - tolerance) and q75 <= self.ratio * (1 + tolerance)

    def spread(self, tolerance: float = 0.10) -> str:
        """One line: the per-round ratios, their middle half and whether it repeated within ``tolerance``."""
        ratios = self.round_ratios
        q25, q75 = self.middle_half()
        worst = max(abs(q / self.ratio - 1) for q in (q25, q75))
        return (f"ratio per round {', '.join(f'{r:.2f}' for r in ratios)} (all {min(ratios):.2f}-{max(ratios):.2f}; "
                f"middle half {q25:.2f}-{q75:.2f}, at most {100 * worst:.0f} % from {self.ratio:.2f}): "
                + ("repeated" if self.repeats(tolerance) else "did NOT repeat") + f" within {100 * tolerance:.0f} %")


def alternating_rounds(reference, measured, n_pixels: int, rounds: int) -> AlternatingRounds:
    """Time ``reference()`` and ``measured()`` (each over ``n_pixels``) in ``rounds`` alternating pairs."""
    pairs = [(timed(reference) / n_pixels, timed(measured) / n_pixels) for _ in range(rounds)]
    return AlternatingRounds(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


def describe_seconds(seconds_per_pixel: tuple[float, ...]) -> str:
    """'median µs/px = px/s (rounds min-max µs/px)' of per-round seconds per pixel."""
    median = float(np.median(seconds_per_pixel))
    return (f"{1e6 * median:6.2f} µs/px = {1 / median:9,.0f} px/s (median; rounds "
            f"{1e6 * min(seconds_per_pixel):.2f}-{1e6 * max(seconds_per_pixel):.2f} µs/px)")
