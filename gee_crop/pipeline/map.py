"""Wall-to-wall maps: region -> output grid -> tiles -> (Dask) composite + ONNX inference per tile ->
per-tile GeoTIFFs -> one COG, a PNG preview, an area table and, where labels exist, map accuracy.

Reruns resume: a finished tile is a file in ``<out>/tiles/`` (written atomically) recorded with its
checksum in ``<out>/tiles/manifest.json``, the run's :class:`~gee_crop.ledger.RunLedger`, and is never
redone; the ledger also holds the run's settings, so a rerun with different settings is refused
instead of mixing two maps. Tiles are computed deterministically, so a resumed map is identical to
an uninterrupted one. Each tile's transfer-risk tally (gee_crop.features.shift) is kept in its ledger
entry, so summary.json and report.html score the whole map, resumed tiles included.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
import shapely
from tqdm.auto import tqdm

from gee_crop.classes import CLASSES
from gee_crop.config import BANDS
from gee_crop.data.regions import WGS84, region_from_bbox, region_from_geojson, reproject_geometry, validate_region
from gee_crop.errors import GeeCropError, InputError, MapIncompleteError, OutputExistsError
from gee_crop.features.shift import DomainSummary, map_shift, summary_of, tally_shift
from gee_crop.features.spec import FeatureSpec
from gee_crop.ledger import RunLedger, file_sha256
from gee_crop.pipeline.pilot import PILOT_FILE, PILOT_SUFFIX
from gee_crop.mapping import writers
from gee_crop.mapping.accuracy import MapAccuracy, map_accuracy
from gee_crop.mapping.estimate import DEFAULT_IN_FLIGHT, MapEstimate, Rates, fetch_tiles_per_second, output_bytes
from gee_crop.mapping.overlap import run_overlapped
from gee_crop.mapping.sources import FeatureSource, check_region_in_source, open_source
from gee_crop.mapping.tiling import LOCAL_TILE_SIZE, OutputGrid, Tile, grid_for_region, plan_tiles, region_mask
from gee_crop.models.io import read_contract, read_model_meta
from gee_crop.models.predict import DEFAULT_BATCH_SIZE, check_model_matches, check_precision, open_predictor
from gee_crop.season import SeasonSpan
from gee_crop.viz.map_report import map_report_html

MAP_NAME, PREVIEW_NAME, AREAS_NAME, SUMMARY_NAME = "map.tif", "map.png", "areas.csv", "summary.json"
REPORT_NAME = "report.html"
PROBABILITIES_NAME = "probabilities.tif"
TILES_DIR, LEDGER_NAME = "tiles", "manifest.json"
FINAL_NAMES = (MAP_NAME, PROBABILITIES_NAME, PREVIEW_NAME, AREAS_NAME, SUMMARY_NAME, REPORT_NAME)
#: ledger key of the finishing step: final file name -> sha256, written after the last final file.
FINISHED_KEY = "finished"
#: the schedulers that run in this process; anything else is the address of a running Dask scheduler.
IN_PROCESS_SCHEDULERS = ("local", "threads", "synchronous")
#: seconds to wait for a remote Dask scheduler before giving up with the fix.
SCHEDULER_TIMEOUT_S = 10
#: share of the available memory the tiles in flight may use (their working arrays); workers are capped to it.
MEMORY_SHARE = 0.5
#: The ledger is saved at most this often while tiles finish (and when the run stops): a map of
#: thousands of tiles must not rewrite it per tile. Tiles finished after the last save are redone.
LEDGER_SAVE_S = 5.0


@dataclass
class TileReport:
    """What happened to one tile: status 'done' | 'skipped' (finished earlier) | 'failed'."""

    tile: Tile
    status: str
    n_classified: int = 0
    bytes_fetched: int = 0
    seconds: float = 0.0
    error: str = ""
    read_seconds: float = 0.0       # source: composite (local) or request + decode (Earth Engine)
    inference_seconds: float = 0.0  # onnxruntime
    shift: dict | None = None       # the tile's ShiftTally.to_dict() (features/shift.py), kept in the ledger


@dataclass
class MapResult:
    """Paths of the outputs and the run's numbers (hectares per class, accuracy, throughput).

    ``pixels_per_second``: pixels classified by this run / wall seconds of its tile phase (composite,
    inference and tile writes; not the final COG assembly). ``stage_seconds``: the tile phase's
    read / inference / write seconds summed over tiles (parallel workers overlap them).
    """

    out_dir: Path
    cog: Path
    preview: Path
    areas_csv: Path
    hectares: dict[str, float]
    grid: OutputGrid
    year: int
    n_tiles: int
    n_tiles_resumed: int
    n_pixels_classified: int
    seconds: float
    pixels_per_second: float
    bytes_fetched: int
    bytes_per_pixel: float
    min_bytes_per_pixel: int
    accuracy: MapAccuracy | None = None
    probabilities: Path | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    reports: list[TileReport] = field(default_factory=list, repr=False)
    workers: int = 1
    notes: list[str] = field(default_factory=list)
    domain_shift: dict = field(default_factory=dict)  # features/shift.map_shift: whole map and per tile

    def summary(self) -> dict:
        return {"cog": str(self.cog), "probabilities": str(self.probabilities) if self.probabilities else None,
                "preview": str(self.preview), "areas_csv": str(self.areas_csv),
                "hectares": self.hectares, "grid": self.grid.to_dict(), "year": self.year,
                "n_tiles": self.n_tiles, "n_tiles_resumed": self.n_tiles_resumed,
                "n_pixels_classified": self.n_pixels_classified, "seconds": round(self.seconds, 3),
                "pixels_per_second": round(self.pixels_per_second, 1), "bytes_fetched": self.bytes_fetched,
                "bytes_per_pixel": round(self.bytes_per_pixel, 2), "min_bytes_per_pixel": self.min_bytes_per_pixel,
                "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
                "accuracy": self.accuracy.to_dict() if self.accuracy else None, "workers": self.workers,
                "notes": self.notes, "domain_shift": self.domain_shift}


@dataclass
class _Plan:
    """Everything a tile worker needs (shared read-only by all tiles)."""

    source: FeatureSource
    model_path: Path
    spec: FeatureSpec
    season: SeasonSpan
    grid: OutputGrid
    region: shapely.Geometry
    tiles_dir: Path
    probabilities: bool
    batch_size: int
    threads: int | None
    providers: list[str] | None
    precision: str
    cropland: Callable[[OutputGrid, Tile], np.ndarray] | None
    tile_hook: Callable[[Tile], None] | None
    domain: DomainSummary | None = None  # the model's training-input summary (None: shift unavailable)


def composite_settings(spec: FeatureSpec, season: SeasonSpan) -> dict:
    """How the map composites (its ledger settings and the COG's ``gee_crop_season`` tag): the season
    span, the clear threshold and the gap limit."""
    return {"season": season.to_dict(), "threshold": spec.cloud_threshold, "max_gap_bins": spec.max_gap_bins}


def _finished_outputs(out_dir: Path, ledger: RunLedger) -> bool:
    """Whether the ledger records the finishing step and every final output is still as it was written."""
    outputs = ledger.data.get(FINISHED_KEY) or {}
    return bool(outputs) and all((out_dir / name).is_file() and file_sha256(out_dir / name) == digest
                                 for name, digest in outputs.items())


def _open_ledger(out_dir: Path, settings: dict, overwrite: bool) -> RunLedger:
    """The ledger of ``out_dir/tiles`` (a new run, or the one to resume); refuse to mix runs or to
    overwrite a finished map without ``overwrite``.

    A map whose finishing step (COG, PNG, areas, summary) was cut short by a kill or a full disk is
    not finished: its ledger has no ``finished`` record, so a rerun of the same command resumes it
    (redoing only the final files) instead of asking for ``--overwrite``.
    """
    if overwrite:
        for name in FINAL_NAMES:
            (out_dir / name).unlink(missing_ok=True)
    elif (out_dir / MAP_NAME).exists() and not (out_dir / TILES_DIR / LEDGER_NAME).exists():
        raise OutputExistsError(f"{out_dir / MAP_NAME} exists; pass --overwrite to replace it, or another --out")
    ledger = RunLedger.open(out_dir / TILES_DIR / LEDGER_NAME, settings, units="tiles", overwrite=overwrite,
                            save_every_s=LEDGER_SAVE_S)
    if not overwrite and (out_dir / MAP_NAME).exists() and _finished_outputs(out_dir, ledger):
        raise OutputExistsError(f"{out_dir / MAP_NAME} exists; pass --overwrite to replace it, or another --out")
    ledger.data.pop(FINISHED_KEY, None)
    return ledger


def _tile_path(plan: _Plan, tile: Tile) -> Path:
    return plan.tiles_dir / f"{tile.name}.tif"


def process_tile(plan: _Plan, tile: Tile) -> TileReport:
    """Composite, classify and write one tile. User-level failures (Earth Engine after retries, disk
    full) become a 'failed' report; bugs propagate."""
    return classify_tile(plan, tile, read_tile(plan, tile))


def read_tile(plan: _Plan, tile: Tile) -> tuple[object, float]:
    """The tile's composite (or the failure as a 'failed' report) and the seconds it took: the
    fetch stage of a tile (for Earth Engine mostly waiting on the request)."""
    started = time.perf_counter()
    try:
        composite = plan.source.read_tile(plan.grid, tile, plan.spec, plan.season, plan.region)
    except GeeCropError as exc:
        return TileReport(tile, "failed", error=str(exc), seconds=time.perf_counter() - started), 0.0
    return composite, time.perf_counter() - started


def classify_tile(plan: _Plan, tile: Tile, fetched: tuple[object, float]) -> TileReport:
    """Mask, classify and write one tile already read (the compute stage)."""
    composite, read_s = fetched
    if isinstance(composite, TileReport):
        return composite
    if plan.tile_hook is not None:
        plan.tile_hook(tile)
    clock = [time.perf_counter()]

    def lap() -> float:
        clock.append(time.perf_counter())
        return clock[-1] - clock[-2]

    try:
        valid = composite.valid & region_mask(plan.grid, tile, plan.region)
        if plan.cropland is not None:
            valid &= plan.cropland(plan.grid, tile)
        composite.valid = valid
        read_s += lap()
        predictor = open_predictor(plan.model_path, plan.precision, plan.providers, threads=plan.threads, cache=True)
        probabilities = np.zeros(valid.shape + (len(plan.spec.classes),), dtype=np.float32)
        inputs = composite.reflectance()
        probabilities[valid] = predictor.predict_proba(inputs, plan.batch_size)
        inference_s = lap()
        shift = tally_shift(plan.domain, inputs, probabilities[valid]).to_dict()
        del inputs
        bands = writers.encode_bands(probabilities, valid, plan.probabilities)
        writers.write_tile(_tile_path(plan, tile), bands, plan.grid, tile)
    except GeeCropError as exc:
        return TileReport(tile, "failed", error=str(exc), seconds=time.perf_counter() - clock[0] + read_s)
    return TileReport(tile, "done", int(valid.sum()), composite.bytes_fetched,
                      time.perf_counter() - clock[0] + fetched[1], read_seconds=read_s, inference_seconds=inference_s,
                      shift=shift)


def _execute(plan: _Plan, tiles: list[Tile], scheduler: str, workers: int, progress: bool,
             finished: Callable[[TileReport], None], in_flight: int | None = None) -> list[TileReport]:
    """Run :func:`process_tile` on every tile with Dask; ``finished`` sees each report as it comes
    (in this thread), and a progress bar counts them. With ``in_flight`` (a remote source and an
    in-process scheduler), up to that many tiles are fetched while ``workers`` threads classify
    (:func:`gee_crop.mapping.overlap.run_overlapped`)."""
    bar = tqdm(total=len(tiles), unit="tile", desc="mapping", disable=not progress)

    def report_in(report: TileReport) -> None:
        finished(report)
        bar.update(1)

    try:
        if in_flight:
            ran = {r.tile: r for r in run_overlapped(tiles, lambda t: read_tile(plan, t),
                                                     lambda t, fetched: classify_tile(plan, t, fetched),
                                                     in_flight=in_flight, workers=workers, finished=report_in)}
            return [ran[t] for t in tiles]
        if scheduler in ("synchronous", "threads"):
            import dask
            from dask.callbacks import Callback

            tasks = [dask.delayed(process_tile, pure=False)(plan, t, dask_key_name=f"tile-{t.name}") for t in tiles]
            with Callback(posttask=lambda key, result, *_: report_in(result) if str(key).startswith("tile-") else None):
                return list(dask.compute(*tasks, scheduler=scheduler, num_workers=workers))
        from distributed import LocalCluster, as_completed

        if scheduler == "local":
            # in-process workers (numpy and onnxruntime release the GIL), reachable from this host only;
            # no per-worker memory limit: in-process workers share one process, whose memory each of them
            # would count as its own (64 workers then pause at once and the run hangs)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False, memory_limit=0,
                                   protocol="tcp://", host="127.0.0.1", dashboard_address=None)
            client = _client(cluster)
        else:
            cluster, client = None, _client(scheduler)
        try:
            reports = {}
            for future in as_completed(submit_tiles(client, plan, tiles)):
                report = future.result()
                reports[report.tile] = report
                report_in(report)
                future.release()
            return [reports[t] for t in tiles]
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    finally:
        bar.close()


def submit_tiles(client, plan: _Plan, tiles: list[Tile]) -> list:
    """Submit one :func:`process_tile` task per tile to a Dask ``client``; the futures.

    The plan (with a local stack of hundreds of MB) is scattered to the workers once and each task
    refers to it by key, so a task's payload is one tile and a key whatever the stack or the number
    of tiles: memory stays flat in the number of tiles (a closure over the plan would carry the stack
    with every task).
    """
    plan_ref = client.scatter(plan, broadcast=True, hash=False)
    return client.map(process_tile, [plan_ref] * len(tiles), tiles, pure=False,
                      key=[f"tile-{t.name}" for t in tiles])


def check_scheduler(scheduler: str) -> None:
    """InputError unless ``scheduler`` is an in-process scheduler or looks like a Dask address."""
    if scheduler in IN_PROCESS_SCHEDULERS:
        return
    if "://" not in scheduler and ":" not in scheduler:
        raise InputError(f"--scheduler {scheduler!r} is neither {', '.join(IN_PROCESS_SCHEDULERS)} nor the address "
                         "of a Dask scheduler; give one of those or tcp://host:8786")


def _client(address):
    """A Dask client of ``address`` (a LocalCluster or a scheduler address); InputError naming the fix
    when the scheduler cannot be reached within SCHEDULER_TIMEOUT_S."""
    from distributed import Client

    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"cannot reach the Dask scheduler at {address} ({why}); start it first "
                         "(`dask scheduler`), or use --scheduler local") from None


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


@dataclass
class _Job:
    """A map job planned without any request: the model contract, season, grid and tiles."""

    contract: FeatureSpec
    spec: FeatureSpec
    season: SeasonSpan
    year: int
    grid: OutputGrid
    region: shapely.Geometry
    region_grid: shapely.Geometry
    tile_size: int
    tiles: list[Tile]


def _plan_job(source: FeatureSource, model_path: Path, region: shapely.Geometry | None, year: int | None,
              crs: str | None, scale: float | None, tile_size: int | None, max_gap_bins: int | None,
              precision: str) -> _Job:
    """Everything a map decides before its first request (shared by the run and ``--dry-run``, so
    the dry run's tiles, requests and bytes are the run's)."""
    check_precision(model_path, precision)
    contract = read_contract(model_path)
    if region is None:
        region = source.footprint()
        if region is None:
            raise InputError(f"mapping from the {source.description} needs a region; "
                             "pass --region aoi.geojson or --bbox")
    validate_region(region)
    check_region_in_source(region, source)
    latitude = region.centroid.y
    if year is None:
        year = source.infer_year(contract, latitude)
    season = contract.season.span_at(int(year), latitude)
    source.check_season(contract, season, latitude)
    check_model_matches(contract, season, model_path)
    spec = contract if max_gap_bins is None else dataclasses.replace(contract, max_gap_bins=int(max_gap_bins))

    crs = crs or source.default_crs(region)
    grid = grid_for_region(region, crs=crs, scale=scale or source.default_scale(),
                           origin=source.default_grid_origin(crs))
    values_per_pixel = len(contract.bands) * season.n_bins
    limit = source.tile_size_limit(values_per_pixel)
    if tile_size is not None and limit is not None and tile_size > limit:
        raise InputError(f"--tile-size {tile_size} exceeds the {source.description}'s request limit for "
                         f"{values_per_pixel} uint16 bands; use --tile-size {limit} or less")
    tile_size = tile_size or limit or LOCAL_TILE_SIZE
    region_grid = reproject_geometry(region, WGS84, grid.crs)
    return _Job(contract, spec, season, int(year), grid, region, region_grid, tile_size,
                plan_tiles(grid, tile_size, region_grid))


def in_flight_requests(source: FeatureSource, requested: int | None, scheduler: str) -> int | None:
    """Requests to keep in flight: None (no overlap) for a local source, the synchronous scheduler
    or a remote Dask cluster; else ``requested`` (default DEFAULT_IN_FLIGHT) capped at the source's
    limit (the client's 40 concurrent requests). InputError below 1."""
    if requested is not None and int(requested) < 1:
        raise InputError(f"--in-flight {requested} must be at least 1")
    cap = source.max_in_flight()
    if cap is None or scheduler not in ("local", "threads"):
        return None
    return max(1, min(int(requested or DEFAULT_IN_FLIGHT), cap))


def run_map(source: FeatureSource, model_path: str | os.PathLike, out_dir: str | os.PathLike, *,
            region: shapely.Geometry | None = None, year: int | None = None, crs: str | None = None,
            scale: float | None = None, tile_size: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
            workers: int | None = None, scheduler: str = "local", overwrite: bool = False, probabilities: bool = False,
            max_gap_bins: int | None = None, providers: list[str] | None = None, precision: str = "fp32",
            cropland: Callable[[OutputGrid, Tile], np.ndarray] | None = None, progress: bool = True,
            tile_hook: Callable[[Tile], None] | None = None, in_flight: int | None = None) -> MapResult:
    """Map ``region`` (WGS84; default: the source's footprint) with an ONNX CropNet model (or its
    ``model.pt`` on the torch backend, ``precision`` "fp32" or "bf16").

    The season (start, length, window, bins), the clear threshold and the gap limit come from the
    model's metadata, so the map composites its input exactly as training did; ``year`` defaults to
    the season the local stack covers best (Earth Engine needs it). Writes ``map.tif`` (COG),
    ``map.png``, ``areas.csv`` and ``summary.json`` in ``out_dir``. Raises MapIncompleteError when
    tiles failed (finished tiles are kept: rerun the same call to finish).

    From Earth Engine with the ``local`` or ``threads`` scheduler, up to ``in_flight`` requests
    (default DEFAULT_IN_FLIGHT, at most the client's 40) are in flight while earlier tiles are
    classified (:mod:`gee_crop.mapping.overlap` states the memory bound).
    """
    started = time.perf_counter()
    model_path, out_dir = Path(model_path), Path(out_dir)
    check_scheduler(scheduler)
    if workers is not None and int(workers) < 1:
        raise InputError(f"--workers {workers} must be at least 1")
    in_flight = in_flight_requests(source, in_flight, scheduler)
    job = _plan_job(source, model_path, region, year, crs, scale, tile_size, max_gap_bins, precision)
    spec, season, grid, tile_size, region_grid, tiles = (job.spec, job.season, job.grid, job.tile_size,
                                                         job.region_grid, job.tiles)
    settings = {"model_sha256": file_sha256(model_path), "source": source.description,
                "grid": grid.to_dict(), "tile_size": tile_size, "spec": composite_settings(spec, season),
                "region_wkt": job.region.wkt, "probabilities": probabilities, "precision": str(precision),
                "cropland_mask": cropland is not None or bool(getattr(source, "cropland_only", False))}
    ledger = _open_ledger(out_dir, settings, overwrite)
    ledger.register(t.name for t in tiles)
    done = set(ledger.done(t.name for t in tiles))
    todo = [t for t in tiles if t.name not in done]
    # one tile per core, each onnxruntime session single-threaded: compositing (numpy, one core) and
    # inference then overlap instead of alternating; with fewer tiles, the cores go to the sessions
    cores = os.cpu_count() or 1
    workers, note = worker_count(workers, len(todo), tile_size * tile_size * source.bytes_per_pixel(season))
    threads = max(1, cores // workers)
    plan = _Plan(source, model_path, spec, season, grid, region_grid, ledger.folder, probabilities, batch_size,
                 threads, providers, precision, cropland, tile_hook, summary_of(read_model_meta(model_path)))

    def record(report: TileReport) -> None:
        if report.status == "done":  # the tile's shift tally is kept with it, so a resumed map scores it
            ledger.finish(report.tile.name, _tile_path(plan, report.tile), shift=report.shift)

    tiles_started = time.perf_counter()
    try:
        ran = ({r.tile: r for r in _execute(plan, todo, scheduler, workers, progress, record, in_flight)}
               if todo else {})
    finally:
        ledger.save()
    tiles_seconds = time.perf_counter() - tiles_started
    reports = [ran.get(t) or TileReport(t, "skipped") for t in tiles]

    failed = [r for r in reports if r.status == "failed"]
    if failed:
        first = failed[0]
        raise MapIncompleteError(
            f"{len(failed)} of {len(tiles)} tiles failed ({first.tile.name}: {first.error}); the "
            f"{len(tiles) - len(failed)} finished tiles are kept in {ledger.folder}: rerun the same command "
            "to retry only the failed ones")
    result = _finish(out_dir, plan, tiles, reports, source, job.year, started, tiles_seconds,
                     workers=workers, notes=[note] if note else [],
                     shift_tallies={t.name: ledger.units.get(t.name, {}).get("shift") for t in tiles})
    # the finishing step is recorded last: a kill before this line leaves a map that a rerun finishes
    ledger.data[FINISHED_KEY] = {name: file_sha256(out_dir / name) for name in FINAL_NAMES
                                 if (out_dir / name).is_file()}
    ledger.save()
    return result


def measure_inference_rate(model_path: Path, spec: FeatureSpec, precision: str = "fp32",
                           providers: list[str] | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                           n_pixels: int = 2048) -> float:
    """Pixels per second of the model on this machine (all cores, one session), timed on ``n_pixels``
    constant reflectance inputs after a warm-up batch: the local compute rate of a dry run."""
    predictor = open_predictor(model_path, precision, providers, threads=os.cpu_count() or 1, cache=True)
    inputs = np.full((n_pixels, *spec.input_shape), 0.2, dtype=np.float32)
    predictor.predict_proba(inputs[:batch_size], batch_size)
    started = time.perf_counter()
    predictor.predict_proba(inputs, batch_size)
    return n_pixels / max(time.perf_counter() - started, 1e-9)


def plan_map(source: FeatureSource, model_path: str | os.PathLike, out_dir: str | os.PathLike, *,
             region: shapely.Geometry | None = None, year: int | None = None, crs: str | None = None,
             scale: float | None = None, tile_size: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
             workers: int | None = None, scheduler: str = "local", probabilities: bool = False,
             max_gap_bins: int | None = None, providers: list[str] | None = None, precision: str = "fp32",
             in_flight: int | None = None, rates: Rates | None = None, **_ignored) -> MapEstimate:
    """``gee-crop map --dry-run``: the tiles, requests and bytes of the run :func:`run_map` would do
    with the same arguments, its Earth Engine and local time and its output size, with nothing fetched
    and nothing written. ``rates``: default the pilot's (``<out_dir>.pilot/pilot.json``) where one
    exists, else the documented defaults of :mod:`gee_crop.mapping.estimate`, with the local
    inference rate measured here (:func:`measure_inference_rate`)."""
    model_path, out_dir = Path(model_path), Path(out_dir)
    check_scheduler(scheduler)
    job = _plan_job(source, model_path, region, year, crs, scale, tile_size, max_gap_bins, precision)
    season, grid, tiles = job.season, job.grid, job.tiles
    if rates is None:
        pilot_file = out_dir.with_name(out_dir.name + PILOT_SUFFIX) / PILOT_FILE
        rates = Rates.from_pilot(pilot_file) if pilot_file.is_file() else Rates()
    if rates.local_pixels_per_second is None:
        rates = dataclasses.replace(rates, local_pixels_per_second=measure_inference_rate(
            model_path, job.spec, precision, providers, batch_size))
    done = [t for t in tiles if (out_dir / TILES_DIR / f"{t.name}.tif").is_file()]
    todo = [t for t in tiles if t not in done]
    region_pixels = sum(int(region_mask(grid, t, job.region_grid).sum()) for t in todo)
    request_bytes = [source.request_bytes(t, season) for t in todo]
    fetched = sum(request_bytes)
    flight = in_flight_requests(source, in_flight, scheduler)
    requests = len(todo) if source.max_in_flight() is not None else 0
    fetch_s = 0.0
    if requests:
        per_tile = fetched / requests
        fetch_s = requests / fetch_tiles_per_second(per_tile, flight or 1, rates) + rates.seconds_per_request
    n_workers, _ = worker_count(workers, len(todo), job.tile_size ** 2 * source.bytes_per_pixel(season))
    largest = max((t.n_pixels for t in tiles), default=0)
    memory = largest * ((flight or 0) * len(job.contract.bands) * season.n_bins * 2
                        + n_workers * source.bytes_per_pixel(season))
    requested_pixels = sum(t.n_pixels for t in todo)
    return MapEstimate(
        n_tiles=len(tiles), n_tiles_done=len(done), grid_pixels=grid.width * grid.height, region_pixels=region_pixels,
        tile_size=job.tile_size, requests=requests, bytes_fetched=fetched,
        bytes_per_pixel=fetched / requested_pixels if requested_pixels else 0.0,
        min_bytes_per_pixel=2 * len(job.contract.bands) * season.n_bins, fetch_seconds=fetch_s,
        local_seconds=region_pixels / rates.local_pixels_per_second, output_bytes=output_bytes(
            grid.width * grid.height, len(job.contract.classes), probabilities), memory_bytes=int(memory),
        in_flight=flight or 0, workers=n_workers, rates=rates)


def _finish(out_dir: Path, plan: _Plan, tiles: list[Tile], reports: list[TileReport], source: FeatureSource,
            year: int, started: float, tiles_seconds: float, *, workers: int = 1,
            notes: list[str] | None = None, shift_tallies: dict[str, dict | None] | None = None) -> MapResult:
    grid = plan.grid
    tile_paths = {t: _tile_path(plan, t) for t in tiles}
    tags = {"gee_crop_season": json.dumps(composite_settings(plan.spec, plan.season)), "year": str(year),
            "source": source.description}
    if plan.probabilities:
        writers.assemble_cog(tile_paths, grid, out_dir / PROBABILITIES_NAME,
                             bands=list(range(3, 3 + len(plan.spec.classes))), tags=tags, classes=plan.spec.classes)
    counts = writers.assemble_cog(tile_paths, grid, out_dir / MAP_NAME, bands=[1, 2], tags=tags,
                                  classes=plan.spec.classes)
    rows = writers.area_table(counts, grid, plan.spec.classes)
    writers.write_area_csv(rows, out_dir / AREAS_NAME)
    # the stack's own labels are read with the paper's legend: compare only a model of the paper's classes
    accuracy, reference = (_accuracy(out_dir / MAP_NAME, source, grid) if plan.spec.classes == CLASSES
                           else (None, None))
    writers.write_preview(out_dir / MAP_NAME, out_dir / PREVIEW_NAME, reference=reference, classes=plan.spec.classes,
                          title=f"gee-crop map, season {year}" + (
                              f" (OA {accuracy.overall_accuracy:.1%} vs labels)" if accuracy else ""))
    done = [r for r in reports if r.status == "done"]
    work_seconds = sum(r.seconds for r in done)
    n_classified = sum(r.n_classified for r in done)
    requested = sum(r.tile.n_pixels for r in done)
    fetched = sum(r.bytes_fetched for r in done)
    result = MapResult(
        out_dir=out_dir, cog=out_dir / MAP_NAME, preview=out_dir / PREVIEW_NAME, areas_csv=out_dir / AREAS_NAME,
        probabilities=out_dir / PROBABILITIES_NAME if plan.probabilities else None,
        hectares={r["class"]: r["hectares"] for r in rows}, grid=grid, year=int(year), n_tiles=len(tiles),
        n_tiles_resumed=sum(r.status == "skipped" for r in reports), n_pixels_classified=n_classified,
        seconds=time.perf_counter() - started,
        pixels_per_second=n_classified / tiles_seconds if n_classified else 0.0,
        bytes_fetched=fetched, bytes_per_pixel=fetched / requested if requested else 0.0,
        min_bytes_per_pixel=2 * len(BANDS) * plan.season.n_bins, accuracy=accuracy, reports=reports,
        workers=workers, notes=list(notes or []),
        domain_shift=map_shift(shift_tallies or {}, available=plan.domain is not None),
        stage_seconds={"read": sum(r.read_seconds for r in done), "inference": sum(r.inference_seconds for r in done),
                       "write": work_seconds - sum(r.read_seconds + r.inference_seconds for r in done)})
    writers.write_atomic(out_dir / SUMMARY_NAME,
                          lambda tmp: tmp.write_text(json.dumps(result.summary(), indent=1), encoding="utf-8"))
    page = map_report_html(result.summary(), PREVIEW_NAME)
    writers.write_atomic(out_dir / REPORT_NAME, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return result


def _accuracy(cog: Path, source: FeatureSource, grid: OutputGrid) -> tuple[MapAccuracy | None, np.ndarray | None]:
    """Map accuracy against the source's own label raster (local stacks that carry one)."""
    labels_on_grid = getattr(source, "labels_on_grid", None)
    if labels_on_grid is None:
        return None, None
    reference = labels_on_grid(grid, Tile(0, 0, grid.height, grid.width))
    if reference is None:
        return None, None
    with rasterio.open(cog) as src:
        mapped = src.read(1)
    return map_accuracy(mapped, reference), reference


def map_from_options(model_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                     source_path: str | os.PathLike | None = None, earthengine: bool = False,
                     region_path: str | os.PathLike | None = None,
                     bbox: tuple[float, float, float, float] | None = None, cropland_mask: bool = False,
                     worldcover: str | os.PathLike | None = None, cloud_band: str = "cs", project: str | None = None,
                     service_account_key: str | os.PathLike | None = None, dry_run: bool = False,
                     encoding: str = "sqrt8", **options) -> MapResult | MapEstimate:
    """``gee-crop map``: read the region (GeoJSON, or a lon/lat ``bbox``), open the source the options
    name (a local stack, or Earth Engine, fetching in ``encoding``) and :func:`run_map` with ``options`` (:func:`plan_map` with
    ``dry_run``: no credentials needed, nothing fetched or written)."""
    region = region_from_geojson(region_path) if region_path else (region_from_bbox(*bbox) if bbox else None)
    source, cropland = open_source(source_path, earthengine, cropland_mask=cropland_mask, worldcover=worldcover,
                                   cloud_band=cloud_band, project=project, service_account_key=service_account_key,
                                   client=_NOT_CONNECTED if dry_run else None, encoding=encoding)
    if dry_run:
        return plan_map(source, model_path, out_dir, region=region, **options)
    return run_map(source, model_path, out_dir, region=region, cropland=cropland, **options)


#: the Earth Engine client of a dry run: planning sends no request, so it needs no credentials.
_NOT_CONNECTED = object()
