"""Where a map's tiles run: the scheduler (Dask in this process, or a running Dask cluster), how many
tiles at once, how many Earth Engine requests in flight, and the loop that runs them
(:func:`execute`), reporting each finished tile as it comes."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

from gee_crop.config import Scheduler
from gee_crop.errors import InputError
from gee_crop.mapping.estimate import DEFAULT_IN_FLIGHT
from gee_crop.mapping.overlap import run_overlapped
from gee_crop.mapping.sources import FeatureSource
from gee_crop.mapping.tasks import TilePlan, TileReport, classify_tile, process_tile, read_tile
from gee_crop.mapping.tiling import Tile

#: the schedulers that run in this process; anything else is the address of a running Dask scheduler.
IN_PROCESS_SCHEDULERS = Scheduler.values()
#: seconds to wait for a remote Dask scheduler before giving up with the fix.
SCHEDULER_TIMEOUT_S = 10
#: share of the available memory the tiles in flight may use (their working arrays); workers are capped to it.
MEMORY_SHARE = 0.5


def scheduler_of(scheduler: Scheduler | str) -> Scheduler | str:
    """``--scheduler`` as an in-process :class:`~gee_crop.config.Scheduler`, or the address of a Dask
    scheduler as given; InputError for text that is neither."""
    if scheduler in IN_PROCESS_SCHEDULERS:
        return Scheduler(scheduler)
    check_scheduler(scheduler)
    return str(scheduler)


def check_scheduler(scheduler: str) -> None:
    """InputError unless ``scheduler`` is an in-process scheduler or looks like a Dask address."""
    if scheduler in IN_PROCESS_SCHEDULERS:
        return
    if "://" not in scheduler and ":" not in scheduler:
        raise InputError(
            f"--scheduler {scheduler!r} is neither {', '.join(IN_PROCESS_SCHEDULERS)} nor the address "
            "of a Dask scheduler; give one of those or tcp://host:8786"
        )


def _client(address):
    """A Dask client of ``address`` (a LocalCluster or a scheduler address); InputError naming the fix
    when the scheduler cannot be reached within SCHEDULER_TIMEOUT_S."""
    from distributed import Client

    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(
            f"cannot reach the Dask scheduler at {address} ({why}); start it first "
            "(`dask scheduler`), or use --scheduler local"
        ) from None


def worker_count(requested: int | None, n_tasks: int, bytes_per_task: int) -> tuple[int, str]:
    """Tiles to process at once: ``requested`` (default one per core), capped at the cores, at what
    MEMORY_SHARE of the available memory holds (``bytes_per_task`` each) and at the tasks; and a note
    saying why when the request was capped ("" otherwise). InputError for fewer than one worker."""
    import psutil

    if requested is not None and int(requested) < 1:
        raise InputError(f"--workers {requested} must be at least 1")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    by_memory = max(1, int(MEMORY_SHARE * psutil.virtual_memory().available // max(1, bytes_per_task)))
    workers = max(1, min(requested or cores, cores, by_memory, n_tasks or 1))
    note = ""
    if requested and workers < requested and workers < (n_tasks or 1):
        limit = "CPU cores" if workers == cores else "tiles that fit in half the free memory"
        note = f"--workers {requested} capped at {workers} (the {limit})"
    return workers, note


def in_flight_requests(source: FeatureSource, requested: int | None, scheduler: str) -> int | None:
    """Requests to keep in flight: None (no overlap) for a local source, the synchronous scheduler
    or a remote Dask cluster; else ``requested`` (default DEFAULT_IN_FLIGHT) capped at the source's
    limit (the client's 40 concurrent requests). InputError below 1."""
    if requested is not None and int(requested) < 1:
        raise InputError(f"--in-flight {requested} must be at least 1")
    cap = source.max_in_flight()
    if cap is None or scheduler not in (Scheduler.LOCAL, Scheduler.THREADS):
        return None
    return max(1, min(int(requested or DEFAULT_IN_FLIGHT), cap))


def execute(
    plan: TilePlan,
    tiles: list[Tile],
    scheduler: str,
    workers: int,
    progress: bool,
    finished: Callable[[TileReport], None],
    in_flight: int | None = None,
) -> list[TileReport]:
    """Run :func:`~gee_crop.mapping.tasks.process_tile` on every tile with Dask; ``finished`` sees each
    report as it comes (in this thread), and a progress bar counts them. With ``in_flight`` (a remote
    source and an in-process scheduler), up to that many tiles are fetched while ``workers`` threads
    classify (:func:`gee_crop.mapping.overlap.run_overlapped`)."""
    bar = tqdm(total=len(tiles), unit="tile", desc="mapping", disable=not progress)

    def report_in(report: TileReport) -> None:
        finished(report)
        bar.update(1)

    try:
        if in_flight:
            ran = {
                r.tile: r
                for r in run_overlapped(
                    tiles,
                    lambda t: read_tile(plan, t),
                    lambda t, fetched: classify_tile(plan, t, fetched),
                    in_flight=in_flight,
                    workers=workers,
                    finished=report_in,
                )
            }
            return [ran[t] for t in tiles]
        if scheduler in (Scheduler.SYNCHRONOUS, Scheduler.THREADS):
            import dask
            from dask.callbacks import Callback

            tasks = [dask.delayed(process_tile, pure=False)(plan, t, dask_key_name=f"tile-{t.name}") for t in tiles]
            with Callback(posttask=lambda key, result, *_: report_in(result) if str(key).startswith("tile-") else None):
                return list(dask.compute(*tasks, scheduler=str(scheduler), num_workers=workers))
        from distributed import LocalCluster, as_completed

        if scheduler == Scheduler.LOCAL:
            # in-process workers (numpy and onnxruntime release the GIL), reachable from this host only;
            # no per-worker memory limit: in-process workers share one process, whose memory each of them
            # would count as its own (64 workers then pause at once and the run hangs)
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=False,
                memory_limit=0,
                protocol="tcp://",
                host="127.0.0.1",
                dashboard_address=None,
            )
            client = _client(cluster)
        else:
            cluster, client = None, _client(str(scheduler))
        try:
            reports = {}
            for future in as_completed(submit_tiles(client, plan, tiles)):
                report = future.result()
                reports[report.tile] = report
                report_in(report)
                future.release()
            return [reports[t] for t in tiles]
        finally:
            close_quietly(client, cluster)
    finally:
        bar.close()


#: loggers of distributed (and tornado, which runs its comms) that report the comms closed by a shutdown
SHUTDOWN_LOGGERS = ("distributed", "tornado", "asyncio")
#: seconds each of client and cluster may take to close
CLOSE_TIMEOUT_S = 10


@contextmanager
def _silenced(names: tuple[str, ...] = SHUTDOWN_LOGGERS) -> Iterator[None]:
    """Loggers ``names`` (and their children) silent but for CRITICAL within the block."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def close_quietly(client, cluster) -> None:
    """Close the Dask ``client``, then its in-process ``cluster`` (None for a remote one), in that order.

    A run that succeeded must end silently: closing the cluster while the client's comms still run, or
    the workers' comms racing the scheduler's shutdown, makes distributed log "Connection closed"
    tracebacks (CommClosedError, StreamClosedError) about connections it is closing on purpose. They
    say nothing about the map, so distributed's loggers are silenced for the shutdown only."""
    with _silenced():
        try:
            client.close(timeout=CLOSE_TIMEOUT_S)
        finally:
            if cluster is not None:
                cluster.close(timeout=CLOSE_TIMEOUT_S)


def submit_tiles(client, plan: TilePlan, tiles: list[Tile]) -> list:
    """Submit one :func:`~gee_crop.mapping.tasks.process_tile` task per tile to a Dask ``client``; the futures.

    The plan (with a local stack of hundreds of MB, and the model file's bytes) is scattered to the
    workers once and each task refers to it by key, so a task's payload is one tile and a key whatever
    the stack or the number of tiles: memory stays flat in the number of tiles (a closure over the plan
    would carry the stack with every task).
    """
    plan_ref = client.scatter(plan, broadcast=True, hash=False)
    return client.map(process_tile, [plan_ref] * len(tiles), tiles, pure=False, key=[f"tile-{t.name}" for t in tiles])
