"""Fetch and compute overlapped: Earth Engine requests in flight while earlier tiles are classified.

A remote tile is mostly waiting (the request's latency, then its bytes on the wire); a local tile is
mostly arithmetic. :func:`run_overlapped` keeps up to ``in_flight`` fetches going in I/O threads
while ``workers`` compute threads classify and write the tiles already fetched, oldest first.

Bounds, by construction:

* requests in flight <= ``in_flight`` (a fetch slot is freed only when its tile is taken for
  compute), so the project's quota of concurrent requests (40,
  https://developers.google.com/earth-engine/guides/usage) is never exceeded when
  ``in_flight`` <= 40;
* tiles held in memory <= ``in_flight`` (fetching or fetched, not yet taken) + ``workers``
  (computing): peak memory <= ``in_flight`` x fetched bytes per tile + ``workers`` x working bytes
  per tile (``gee-crop map --dry-run`` prints the figure).

Reports reach ``finished`` in the calling thread, as compute tasks end (the run's ledger is not
shared between threads). An exception in a fetch or a compute (a kill, a bug) stops the run: no new
fetch starts, queued ones are cancelled, and it propagates once the running ones have returned.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Item = TypeVar("Item")
Value = TypeVar("Value")
Report = TypeVar("Report")


def run_overlapped(
    items: Iterable[Item],
    fetch: Callable[[Item], Value],
    compute: Callable[[Item, Value], Report],
    *,
    in_flight: int,
    workers: int,
    finished: Callable[[Report], None],
) -> list[Report]:
    """``compute(item, fetch(item))`` for every item, fetches overlapped with computes (see module
    docstring); the reports in the order computes ended."""
    if in_flight < 1 or workers < 1:
        raise ValueError(f"in_flight ({in_flight}) and workers ({workers}) must be at least 1")
    pending = deque(items)
    fetching: deque[tuple[Item, Future]] = deque()
    computing: set[Future] = set()
    reports: list[Report] = []
    fetchers = ThreadPoolExecutor(in_flight, thread_name_prefix="gee-crop-fetch")
    computers = ThreadPoolExecutor(workers, thread_name_prefix="gee-crop-compute")

    def harvest(block: bool) -> None:
        done, _ = wait(computing, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            computing.discard(future)
            report = future.result()  # re-raises a compute's exception here
            finished(report)
            reports.append(report)

    try:
        while pending or fetching or computing:
            while pending and len(fetching) < in_flight:
                item = pending.popleft()
                fetching.append((item, fetchers.submit(fetch, item)))
            if fetching and len(computing) < workers:
                item, future = fetching.popleft()
                value = future.result()  # the oldest fetch; re-raises its exception
                computing.add(computers.submit(compute, item, value))
                harvest(block=False)
            else:
                harvest(block=True)
    finally:
        fetchers.shutdown(wait=True, cancel_futures=True)
        computers.shutdown(wait=True, cancel_futures=True)
    return reports
