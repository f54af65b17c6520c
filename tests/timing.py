"""Wall-clock bounds in tests are hang guards only, and all of them go through here.

A test never proves speed (timings belong in ``bench/``, printed as ratios measured side by side). Where a
test must not wait forever (a metadata-server probe, a stuck cluster, a kernel that never returns), it
states how long the step takes on a quiet machine, and :func:`hang_guard` allows ten times that or more,
so a machine busy with other work still passes while a real hang still fails.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

#: the least slack over a quiet machine's time that a hang guard allows
MIN_FACTOR = 10.0


def hang_guard(elapsed_s: float, quiet_s: float, what: str, factor: float = MIN_FACTOR) -> None:
    """Fail only if ``what`` took over ``factor`` (at least 10) times its ``quiet_s`` on a quiet machine."""
    if quiet_s <= 0:
        raise ValueError(f"quiet_s must be positive, got {quiet_s}")
    limit = max(factor, MIN_FACTOR) * quiet_s
    assert elapsed_s < limit, (
        f"{what} took {elapsed_s:.1f} s, over the hang guard of {limit:.0f} s "
        f"({max(factor, MIN_FACTOR):g} x the {quiet_s:g} s it takes on a quiet machine): "
        "this bound catches hangs, not slowness")


@dataclass
class Stopwatch:
    """Seconds since it started (``elapsed``), and since it stopped once ``stop`` ran."""

    started: float = field(default_factory=time.perf_counter)
    stopped: float | None = None

    def stop(self) -> float:
        self.stopped = time.perf_counter()
        return self.elapsed

    @property
    def elapsed(self) -> float:
        return (self.stopped if self.stopped is not None else time.perf_counter()) - self.started


@contextmanager
def hang_guarded(quiet_s: float, what: str, factor: float = MIN_FACTOR) -> Iterator[Stopwatch]:
    """Run the block under :func:`hang_guard`: ``with hang_guarded(2.0, "the demo"): ...``."""
    watch = Stopwatch()
    yield watch
    hang_guard(watch.stop(), quiet_s, what, factor)
