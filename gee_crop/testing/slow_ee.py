"""Earth Engine as a slow network: latency and bandwidth injected into a computePixels server.

:class:`SimulatedLink` wraps any ``compute_pixels(expression, grid, band_ids)`` (e.g.
:class:`gee_crop.testing.fake_ee_patch.PatchComputePixels`): every request first waits
``seconds_per_request`` (the server's queueing and computation), then its answer's bytes cross one
link of ``bytes_per_second`` shared by all requests in flight (first come, first served). It counts
requests and the most that were in flight at once, and records each request's start and end as ticks of
one event counter (``intervals``): whether requests overlapped is then a fact of their order, whatever the
load of the machine (:func:`most_overlapping`). Give its ``compute_pixels`` to
:class:`gee_crop.testing.fake_ee.FakeEarthEngineClient` (``pixels=``) to drive the real client.

:class:`RepeatingPatchServer` serves the demo patch's composite repeated in both directions, so a
region of any size is all real pixels (for benchmarks of large maps on the 64 x 64 px patch).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from gee_crop.testing.fake_ee_patch import PatchComputePixels


class SimulatedLink:
    """``compute_pixels`` of ``serve`` behind a link with latency and a shared bandwidth."""

    def __init__(
        self,
        serve: Callable[..., np.ndarray],
        seconds_per_request: float = 3.0,
        bytes_per_second: float | None = 25e6,
        max_concurrent: int = 40,
        *,
        rendezvous: int = 0,
        rendezvous_timeout_s: float = 120.0,
    ) -> None:
        """``rendezvous`` k > 1: the first k requests each wait until all k are in flight at once, so a
        caller that sends requests one at a time never gets past them (``rendezvous_missed`` is then True
        after ``rendezvous_timeout_s``, a hang guard): overlap proven by order, not by elapsed seconds."""
        self.serve = serve
        self.seconds_per_request = float(seconds_per_request)
        self.bytes_per_second = bytes_per_second
        self.max_concurrent = max_concurrent
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.bytes_sent = 0
        #: (start tick, end tick) of each finished request, on one counter of start and end events
        self.intervals: list[tuple[int, int]] = []
        self._ticks = itertools.count()
        self._link_free = 0.0
        self._lock = threading.Lock()
        self._rendezvous = threading.Barrier(rendezvous) if rendezvous > 1 else None
        self._rendezvous_timeout_s = float(rendezvous_timeout_s)
        self.rendezvous_missed = False

    def compute_pixels(self, expression, grid: dict, band_ids: list[str] | None = None) -> np.ndarray:
        started = time.monotonic()
        with self._lock:
            start_tick = next(self._ticks)
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            meets = self._rendezvous is not None and self.requests <= self._rendezvous.parties
        try:
            if meets:
                self._meet()
            pixels = self.serve(expression, grid, band_ids)
            ready = max(started + self.seconds_per_request, time.monotonic())
            with self._lock:
                begin = max(ready, self._link_free)
                transfer = pixels.nbytes / self.bytes_per_second if self.bytes_per_second else 0.0
                self._link_free = begin + transfer
                arrives = self._link_free
                self.bytes_sent += int(pixels.nbytes)
            time.sleep(max(0.0, arrives - time.monotonic()))
            return pixels
        finally:
            with self._lock:
                self.in_flight -= 1
                self.intervals.append((start_tick, next(self._ticks)))

    def _meet(self) -> None:
        try:
            self._rendezvous.wait(self._rendezvous_timeout_s)  # type: ignore[union-attr]
        except threading.BrokenBarrierError:
            self.rendezvous_missed = True


def most_overlapping(intervals: Sequence[tuple[int, int]]) -> int:
    """The most intervals open at once; (start, end) ticks of one counter, so no two ticks are equal."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    return max(itertools.accumulate(step for _, step in events), default=0)


class RepeatingPatchServer(PatchComputePixels):
    """The patch composite repeated over the plane: any window on the patch's grid is all patch pixels."""

    def compute_pixels(self, expression, grid: dict, band_ids: list[str] | None = None) -> np.ndarray:
        self.requests.append({"expression": expression, "grid": grid, "band_ids": band_ids})
        affine, dims = grid["affineTransform"], grid["dimensions"]
        res, (x0, y1) = self.stack.resolution, self.stack.upper_left
        col0 = round((affine["translateX"] - x0) / res)
        row0 = round((y1 - affine["translateY"]) / res)
        image = self.image_for(expression)
        h, w = image.shape
        rows = np.arange(row0, row0 + dims["height"]) % h
        cols = np.arange(col0, col0 + dims["width"]) % w
        out = image[np.ix_(rows, cols)]
        return out[band_ids] if band_ids is not None else out
