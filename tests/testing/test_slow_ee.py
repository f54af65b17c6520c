"""SimulatedLink (latency, one shared link, in-flight counts, request intervals), most_overlapping, and
RepeatingPatchServer (the patch composite repeated over the plane)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from gee_crop.testing import slow_ee
from gee_crop.testing.slow_ee import RepeatingPatchServer, SimulatedLink, most_overlapping
from tests.testing.conftest import grid_of


class VirtualClock:
    """Stands for the ``time`` module inside slow_ee: ``monotonic`` reads a virtual clock, ``sleep``
    records the wait and (with ``advance``) moves the clock on, so the link's arithmetic is checked
    exactly, without waiting."""

    def __init__(self, advance: bool = True) -> None:
        self.now, self.advance, self.sleeps = 100.0, advance, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds


@pytest.fixture
def tile(patch, server) -> np.ndarray:
    """A real 16 x 16 px tile of the patch composite (430 uint16 bands: 220,160 bytes)."""
    return server.compute_pixels(None, grid_of(patch, 0, 0, 16, 16))


def test_each_request_waits_its_latency_then_its_bytes_cross_the_link(monkeypatch, tile):
    clock = VirtualClock()
    monkeypatch.setattr(slow_ee, "time", clock)
    link = SimulatedLink(lambda *request: tile, seconds_per_request=3.0, bytes_per_second=tile.nbytes / 0.5)
    for _ in range(2):  # one after the other: each waits 3 s, then 0.5 s of transfer
        assert link.compute_pixels(None, {}) is tile
    assert clock.sleeps == pytest.approx([3.5, 3.5])
    assert link.requests == 2 and link.bytes_sent == 2 * tile.nbytes == 440_320


def test_requests_started_together_share_the_link_first_come_first_served(monkeypatch, tile):
    clock = VirtualClock(advance=False)  # the second request starts at the same instant as the first
    monkeypatch.setattr(slow_ee, "time", clock)
    link = SimulatedLink(lambda *request: tile, seconds_per_request=3.0, bytes_per_second=tile.nbytes / 0.5)
    link.compute_pixels(None, {})
    link.compute_pixels(None, {})
    assert clock.sleeps == pytest.approx([3.5, 4.0])  # the second one's bytes wait for the first one's


def test_without_latency_or_bandwidth_nothing_waits_and_intervals_are_ordered(monkeypatch, tile):
    clock = VirtualClock()
    monkeypatch.setattr(slow_ee, "time", clock)
    link = SimulatedLink(lambda *request: tile, seconds_per_request=0.0, bytes_per_second=None)
    for _ in range(3):
        link.compute_pixels(None, {})
    assert clock.sleeps == [0.0, 0.0, 0.0]
    assert link.intervals == [(0, 1), (2, 3), (4, 5)]
    assert link.max_in_flight == most_overlapping(link.intervals) == 1 and link.in_flight == 0


def test_concurrent_requests_are_counted_in_flight_and_overlap_in_the_intervals(tile):
    n = 4
    all_inside = threading.Barrier(n, timeout=60)  # hang guard only: the barrier opens in milliseconds

    def serve(*request):
        all_inside.wait()  # returns only once n requests are inside the server at once
        return tile

    link = SimulatedLink(serve, seconds_per_request=0.0, bytes_per_second=None)
    threads = [threading.Thread(target=link.compute_pixels, args=(None, {})) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert link.requests == len(link.intervals) == n and link.in_flight == 0
    assert link.max_in_flight == most_overlapping(link.intervals) == n
    assert sorted(start for start, _ in link.intervals) == list(range(n))  # every start before any end


def test_the_rendezvous_releases_concurrent_requests_and_catches_one_at_a_time(tile):
    together = SimulatedLink(lambda *request: tile, seconds_per_request=0.0, bytes_per_second=None, rendezvous=3)
    threads = [threading.Thread(target=together.compute_pixels, args=(None, {})) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not together.rendezvous_missed and most_overlapping(together.intervals) == 3
    # a caller that waits for each answer before the next request never fills the rendezvous
    alone = SimulatedLink(lambda *request: tile, seconds_per_request=0.0, bytes_per_second=None, rendezvous=3,
                          rendezvous_timeout_s=0.05)
    alone.compute_pixels(None, {})
    assert alone.rendezvous_missed and most_overlapping(alone.intervals) == 1


def test_a_failing_server_still_closes_its_interval():
    def fail(*request):
        raise RuntimeError("server down")

    link = SimulatedLink(fail, seconds_per_request=0.0, bytes_per_second=None)
    with pytest.raises(RuntimeError, match="server down"):
        link.compute_pixels(None, {})
    assert link.in_flight == 0 and link.intervals == [(0, 1)] and link.bytes_sent == 0


@pytest.mark.parametrize("intervals,expected", [
    ([], 0),
    ([(0, 1)], 1),
    ([(0, 1), (2, 3), (4, 5)], 1),           # one after the other
    ([(0, 3), (1, 2), (4, 5)], 2),           # nested
    ([(0, 4), (1, 5), (2, 6), (7, 8)], 3),   # staggered
    ([(0, 2), (1, 4), (3, 5)], 2),           # a chain: never all three at once
])
def test_most_overlapping(intervals, expected):
    """Pure logic on hand-made tick intervals (synthetic input)."""
    assert most_overlapping(intervals) == expected


def test_the_repeating_server_wraps_the_patch_around_in_both_directions(patch, spec, season, server):
    repeating = RepeatingPatchServer(patch, spec, season)
    tile = repeating.compute_pixels(None, grid_of(patch, -32, -40, 160, 150))
    assert tile.shape == (160, 150)
    np.testing.assert_array_equal(tile[32:96, 40:104], server.image)  # the patch itself, in place
    np.testing.assert_array_equal(tile[:96], tile[64:])               # period 64 down
    np.testing.assert_array_equal(tile[:, :86], tile[:, 64:])         # period 64 across
    np.testing.assert_array_equal(tile[:32, :40], server.image[32:, 24:])  # the wrapped upper-left corner


def test_the_repeating_server_equals_the_patch_server_on_the_patch(patch, spec, season, server):
    repeating = RepeatingPatchServer(patch, spec, season)
    grid = grid_of(patch, 8, 24, 40, 32)
    np.testing.assert_array_equal(repeating.compute_pixels(None, grid, ["B11_t20"]),
                                  server.compute_pixels(None, grid, ["B11_t20"]))
    assert [r["band_ids"] for r in repeating.requests] == [["B11_t20"]]
