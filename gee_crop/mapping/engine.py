"""Wall-to-wall maps: region -> output grid -> tiles -> (Dask) composite + ONNX inference per tile ->
per-tile GeoTIFFs -> one COG, a PNG preview, an area table and, where labels exist, map accuracy.

Reruns resume: a finished tile is a file in ``<out>/tiles/`` (written atomically) recorded with its
checksum in ``<out>/tiles/manifest.json``, the run's :class:`~gee_crop.ledger.RunLedger`, and is never
redone; the ledger also holds the run's settings, so a rerun with different settings is refused
instead of mixing two maps. Tiles are computed deterministically, so a resumed map is identical to
an uninterrupted one. Each tile's transfer-risk tally (gee_crop.features.shift) is kept in its ledger
entry, so summary.json and report.html score the whole map, resumed tiles included.

:func:`run_map` and :func:`plan_map` (``--dry-run``) take the same :class:`~gee_crop.mapping.request.MapSettings`
and plan the job with the same :func:`plan_job`; one tile's work is :mod:`gee_crop.mapping.tasks`, where
the tiles run :mod:`gee_crop.mapping.cluster`. The model file is read once (a ModelFile) and handed on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import rasterio.windows
import shapely

from gee_crop.classes import CLASSES
from gee_crop.data.regions import WGS84, reproject_geometry, validate_region
from gee_crop.errors import EmptyResultError, InputError, MapIncompleteError, OutputExistsError
from gee_crop.features.shift import map_shift, summary_of
from gee_crop.features.spec import FeatureSpec
from gee_crop.ledger import RunLedger, file_sha256
from gee_crop.mapping import cleaning as cleaning_module
from gee_crop.mapping import writers
from gee_crop.mapping.accuracy import MapAccuracy, map_accuracy
from gee_crop.mapping.cluster import execute, in_flight_requests, worker_count
from gee_crop.mapping.emit_source import EmitSource, source_for_model
from gee_crop.mapping.estimate import MapEstimate, Rates, fetch_tiles_per_second, output_bytes
from gee_crop.mapping.request import MapSettings
from gee_crop.mapping.sources import FeatureSource, region_on_source
from gee_crop.mapping.tasks import TilePlan, TileReport, tile_path
from gee_crop.mapping.tiling import (
    LOCAL_TILE_SIZE,
    OutputGrid,
    Tile,
    check_region_pixels,
    check_scale,
    grid_for_region,
    metres_per_unit,
    plan_tiles,
    region_mask,
)
from gee_crop.models.io import ModelFile, ModelLike, read_model_file
from gee_crop.models.predict import DEFAULT_BATCH_SIZE, check_model_matches, check_precision, open_predictor
from gee_crop.season import SeasonSpan
from gee_crop.viz.map_report import map_report_html

MAP_NAME, PREVIEW_NAME, AREAS_NAME, SUMMARY_NAME = "map.tif", "map.png", "areas.csv", "summary.json"
REPORT_NAME = "report.html"
CLEAN_NAME = "map_clean.tif"
PROBABILITIES_NAME = "probabilities.tif"
TILES_DIR, LEDGER_NAME = "tiles", "manifest.json"
FINAL_NAMES = (MAP_NAME, CLEAN_NAME, PROBABILITIES_NAME, PREVIEW_NAME, AREAS_NAME, SUMMARY_NAME, REPORT_NAME)
#: ledger key of the finishing step: final file name -> sha256, written after the last final file.
FINISHED_KEY = "finished"
#: The ledger is saved at most this often while tiles finish (and when the run stops): a map of
#: thousands of tiles must not rewrite it per tile. Tiles finished after the last save are redone.
LEDGER_SAVE_S = 5.0


@dataclass
class MapResult:
    """Paths of the outputs and the run's numbers (hectares per class, accuracy, throughput).

    ``pixels_per_second``: pixels classified by this run / wall seconds of its tile phase (composite,
    inference and tile writes; not the final COG assembly). ``stage_seconds``: the tile phase's
    read (fetch or composite, and masks) / inference (the model alone) / write (the rest: decoding to the
    model input, the shift tally, the bands and the tile file) seconds summed over tiles (parallel workers
    overlap them).
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
    parcels: list[Path] = field(default_factory=list)  # parcels.csv and parcels.gpkg with --parcels
    clean: Path | None = None
    """map_clean.tif (``--mmu`` / ``--majority``), None without cleaning."""
    clean_accuracy: MapAccuracy | None = None

    def summary(self) -> dict:
        return {
            "cog": str(self.cog),
            "probabilities": str(self.probabilities) if self.probabilities else None,
            "preview": str(self.preview),
            "areas_csv": str(self.areas_csv),
            "hectares": self.hectares,
            "grid": self.grid.to_dict(),
            "year": self.year,
            "n_tiles": self.n_tiles,
            "n_tiles_resumed": self.n_tiles_resumed,
            "n_pixels_classified": self.n_pixels_classified,
            "seconds": round(self.seconds, 3),
            "pixels_per_second": round(self.pixels_per_second, 1),
            "bytes_fetched": self.bytes_fetched,
            "bytes_per_pixel": round(self.bytes_per_pixel, 2),
            "min_bytes_per_pixel": self.min_bytes_per_pixel,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "accuracy": self.accuracy.to_dict() if self.accuracy else None,
            "workers": self.workers,
            "notes": self.notes,
            "domain_shift": self.domain_shift,
            "clean": str(self.clean) if self.clean else None,
            "clean_accuracy": self.clean_accuracy.to_dict() if self.clean_accuracy else None,
        }


def composite_settings(spec: FeatureSpec, season: SeasonSpan) -> dict:
    """How the map composites (its ledger settings and the COG's ``gee_crop_season`` tag): the season
    span, the clear threshold and the gap limit."""
    return {"season": season.to_dict(), "threshold": spec.cloud_threshold, "max_gap_bins": spec.max_gap_bins}


def _finished_outputs(out_dir: Path, ledger: RunLedger) -> bool:
    """Whether the ledger records the finishing step and every final output is still as it was written."""
    outputs = ledger.data.get(FINISHED_KEY) or {}
    return bool(outputs) and all(
        (out_dir / name).is_file() and file_sha256(out_dir / name) == digest for name, digest in outputs.items()
    )


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
    ledger = RunLedger.open(
        out_dir / TILES_DIR / LEDGER_NAME, settings, units="tiles", overwrite=overwrite, save_every_s=LEDGER_SAVE_S
    )
    if not overwrite and (out_dir / MAP_NAME).exists() and _finished_outputs(out_dir, ledger):
        raise OutputExistsError(f"{out_dir / MAP_NAME} exists; pass --overwrite to replace it, or another --out")
    ledger.data.pop(FINISHED_KEY, None)
    return ledger


@dataclass
class MapJob:
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
    notes: list[str] = field(default_factory=list)
    """What planning changed and the user should know (a region clipped to the data)."""


def plan_job(source: FeatureSource, model: ModelFile, settings: MapSettings, *, cut: bool = True) -> MapJob:
    """Everything a map decides before its first request (shared by the run and ``--dry-run``, so
    the dry run's tiles, requests and bytes are the run's). ``cut`` False: no request tiles (``tiles``
    empty; the on-server route cuts its own export tiles, :mod:`gee_crop.mapping.server_map`)."""
    check_precision(model, settings.precision)
    contract = model.contract
    region = settings.region
    if region is None:
        region = source.footprint()
        if region is None:
            raise InputError(
                f"mapping from the {source.description} needs a region; pass --region aoi.geojson or --bbox"
            )
    validate_region(region)
    region, note = region_on_source(region, source)
    latitude = region.centroid.y
    year = settings.year
    if year is None:
        year = source.infer_year(contract, latitude)
    season = contract.season.span_at(int(year), latitude)
    max_gap_bins = settings.max_gap_bins
    spec = contract if max_gap_bins is None else dataclasses.replace(contract, max_gap_bins=int(max_gap_bins))
    source.check_season(spec, season, latitude)
    check_model_matches(contract, season, model.path, source.sensor)

    crs = settings.crs or source.default_crs(region)
    scale = output_scale(source, region, crs, settings.scale)
    check_region_pixels(region, scale, crs)
    grid = grid_for_region(region, crs=crs, scale=scale, origin=source.default_grid_origin(crs))
    values_per_pixel = len(contract.bands) * contract.n_bins  # the season's bins, or an EMIT model's months
    limit = source.tile_size_limit(values_per_pixel)
    tile_size = settings.tile_size
    if tile_size is not None and limit is not None and tile_size > limit:
        raise InputError(
            f"--tile-size {tile_size} exceeds the {source.description}'s request limit for "
            f"{values_per_pixel} uint16 bands; use --tile-size {limit} or less"
        )
    tile_size = tile_size or limit or LOCAL_TILE_SIZE
    region_grid = reproject_geometry(region, WGS84, grid.crs)
    tiles = plan_tiles(grid, tile_size, region_grid) if cut else []
    if cut and not tiles:
        raise EmptyResultError(
            f"the region holds no pixel centre of the {grid.scale:g} {grid.units} grid (it is smaller than a "
            "pixel, or a sliver between pixel centres), so the map would be empty; give a larger region"
        )
    return MapJob(
        contract, spec, season, int(year), grid, region, region_grid, tile_size, tiles, [note] if note else []
    )


def output_scale(source: FeatureSource, region: shapely.Geometry, crs: str, scale: float | None) -> float:
    """The output pixel size in the units of ``crs``: ``scale`` when given, checked against the CRS's unit
    and the source's pixels (:func:`~gee_crop.mapping.tiling.check_scale`); else the source's own pixel,
    converted to ``crs``'s unit (10 m is about 9e-05 degree in EPSG:4326)."""
    native_crs = source.default_crs(region)
    native_m = source.default_scale() * metres_per_unit(native_crs)[1]
    if scale is None:
        return source.default_scale() if crs == native_crs else native_m / metres_per_unit(crs)[1]
    check_scale(scale, crs, native_m)
    return float(scale)


def _settings(settings: MapSettings | None, options: dict) -> MapSettings:
    """``settings`` (default: MapSettings()) with ``options`` (MapSettings field names) changed."""
    return dataclasses.replace(settings or MapSettings(), **options)


def run_map(
    source: FeatureSource,
    model: ModelLike,
    out_dir: str | os.PathLike,
    settings: MapSettings | None = None,
    *,
    cropland: Callable[[OutputGrid, Tile], np.ndarray] | None = None,
    tile_hook: Callable[[Tile], None] | None = None,
    **options,
) -> MapResult:
    """Map ``settings.region`` (WGS84; default: the source's footprint) with a gee-crop model: an ONNX
    CropNet (or its ``model.pt`` on the torch backend, ``precision`` "fp32" or "bf16"), read once.

    ``options`` change single :class:`~gee_crop.mapping.request.MapSettings` fields (``tile_size=16``).
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
    settings = _settings(settings, options)
    model, out_dir = read_model_file(model), Path(out_dir)
    source = source_for_model(source, model.contract, settings.year)
    if settings.workers is not None and int(settings.workers) < 1:
        raise InputError(f"--workers {settings.workers} must be at least 1")
    in_flight = in_flight_requests(source, settings.in_flight, settings.scheduler)
    job = plan_job(source, model, settings)
    spec, season, grid, tile_size, tiles = job.spec, job.season, job.grid, job.tile_size, job.tiles
    ledger_settings = {
        "model_sha256": model.sha256,
        "source": source.description,
        "grid": grid.to_dict(),
        "tile_size": tile_size,
        "spec": composite_settings(spec, season),
        "region_wkt": job.region.wkt,
        "probabilities": settings.probabilities,
        "precision": str(settings.precision),
        "cropland_mask": cropland is not None or bool(getattr(source, "cropland_only", False)),
    }
    ledger = _open_ledger(out_dir, ledger_settings, settings.overwrite)
    ledger.register(t.name for t in tiles)
    done = set(ledger.done(t.name for t in tiles))
    todo = [t for t in tiles if t.name not in done]
    # one tile per core, each onnxruntime session single-threaded: compositing (numpy, one core) and
    # inference then overlap instead of alternating; with fewer tiles, the cores go to the sessions
    cores = os.cpu_count() or 1
    workers, note = worker_count(settings.workers, len(todo), tile_size * tile_size * source.bytes_per_pixel(season))
    plan = TilePlan(
        source,
        model,
        spec,
        season,
        grid,
        job.region_grid,
        ledger.folder,
        settings.probabilities,
        settings.batch_size,
        max(1, cores // workers),
        list(settings.providers) or None,
        str(settings.precision),
        cropland,
        tile_hook,
        summary_of(model.meta),
    )

    def record(report: TileReport) -> None:
        if report.status == "done":  # the tile's shift tally is kept with it, so a resumed map scores it
            ledger.finish(report.tile.name, tile_path(plan, report.tile), shift=report.shift)

    tiles_started = time.perf_counter()
    try:
        ran = (
            {r.tile: r for r in execute(plan, todo, settings.scheduler, workers, settings.progress, record, in_flight)}
            if todo
            else {}
        )
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
            "to retry only the failed ones"
        )
    result = _finish(
        out_dir,
        plan,
        tiles,
        reports,
        source,
        job.year,
        started,
        tiles_seconds,
        workers=workers,
        notes=job.notes + ([note] if note else []),
        shift_tallies={t.name: ledger.units.get(t.name, {}).get("shift") for t in tiles},
        cleaning=(settings.mmu, settings.majority),
    )
    # the finishing step is recorded last: a kill before this line leaves a map that a rerun finishes
    ledger.data[FINISHED_KEY] = {
        name: file_sha256(out_dir / name) for name in FINAL_NAMES if (out_dir / name).is_file()
    }
    ledger.save()
    return result


def measure_inference_rate(
    model: ModelLike,
    spec: FeatureSpec,
    precision: str = "fp32",
    providers: list[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    n_pixels: int = 2048,
) -> float:
    """Pixels per second of the model on this machine (all cores, one session), timed on ``n_pixels``
    constant reflectance inputs after a warm-up batch: the local compute rate of a dry run."""
    predictor = open_predictor(model, precision, providers, threads=os.cpu_count() or 1, cache=True)
    inputs = np.full((n_pixels, *spec.input_shape), 0.2, dtype=np.float32)
    predictor.predict_proba(inputs[:batch_size], batch_size)
    started = time.perf_counter()
    predictor.predict_proba(inputs, batch_size)
    return n_pixels / max(time.perf_counter() - started, 1e-9)


def plan_map(
    source: FeatureSource,
    model: ModelLike,
    out_dir: str | os.PathLike,
    settings: MapSettings | None = None,
    *,
    rates: Rates | None = None,
    **options,
) -> MapEstimate:
    """``gee-crop map --dry-run``: the tiles, requests and bytes of the run :func:`run_map` would do
    with the same settings, its Earth Engine and local time and its output size, with nothing fetched
    and nothing written. ``rates``: default the documented defaults of :mod:`gee_crop.mapping.estimate`;
    a local inference rate they lack is measured here (:func:`measure_inference_rate`)."""
    settings = _settings(settings, options)
    model, out_dir = read_model_file(model), Path(out_dir)
    source = source_for_model(source, model.contract, settings.year)
    job = plan_job(source, model, settings)
    season, grid, tiles = job.season, job.grid, job.tiles
    rates = rates or Rates()
    local_rate = rates.local_pixels_per_second
    if local_rate is None:
        local_rate = measure_inference_rate(
            model, job.spec, settings.precision, list(settings.providers) or None, settings.batch_size
        )
        rates = dataclasses.replace(rates, local_pixels_per_second=local_rate)
    done = [t for t in tiles if (out_dir / TILES_DIR / f"{t.name}.tif").is_file()]
    todo = [t for t in tiles if t not in done]
    region_pixels = sum(int(region_mask(grid, t, job.region_grid).sum()) for t in todo)
    request_bytes = [source.request_bytes(t, season) for t in todo]
    fetched = sum(request_bytes)
    flight = in_flight_requests(source, settings.in_flight, settings.scheduler)
    requests = len(todo) if source.max_in_flight() is not None else 0
    fetch_s = 0.0
    if requests:
        per_tile = fetched / requests
        fetch_s = requests / fetch_tiles_per_second(per_tile, flight or 1, rates) + rates.seconds_per_request
    n_workers, _ = worker_count(settings.workers, len(todo), job.tile_size**2 * source.bytes_per_pixel(season))
    largest = max((t.n_pixels for t in tiles), default=0)
    memory = largest * (
        (flight or 0) * len(job.contract.bands) * job.contract.n_bins * 2 + n_workers * source.bytes_per_pixel(season)
    )
    requested_pixels = sum(t.n_pixels for t in todo)
    return MapEstimate(
        n_tiles=len(tiles),
        n_tiles_done=len(done),
        grid_pixels=grid.width * grid.height,
        region_pixels=region_pixels,
        tile_size=job.tile_size,
        requests=requests,
        bytes_fetched=fetched,
        bytes_per_pixel=fetched / requested_pixels if requested_pixels else 0.0,
        min_bytes_per_pixel=job.contract.min_bytes_per_pixel,
        fetch_seconds=fetch_s,
        local_seconds=region_pixels / local_rate,
        output_bytes=output_bytes(grid.width * grid.height, len(job.contract.classes), settings.probabilities),
        memory_bytes=int(memory),
        in_flight=flight or 0,
        workers=n_workers,
        rates=rates,
        requested_pixels=requested_pixels if requests else 0,
    )


def _finish(
    out_dir: Path,
    plan: TilePlan,
    tiles: list[Tile],
    reports: list[TileReport],
    source: FeatureSource,
    year: int,
    started: float,
    tiles_seconds: float,
    *,
    workers: int = 1,
    notes: list[str] | None = None,
    shift_tallies: dict[str, dict | None] | None = None,
    cleaning: tuple[float | None, int | None] = (None, None),
) -> MapResult:
    grid = plan.grid
    tile_paths = {t: tile_path(plan, t) for t in tiles}
    tags = {
        "gee_crop_season": json.dumps(composite_settings(plan.spec, plan.season)),
        "year": str(year),
        "source": source.description,
    }
    if plan.probabilities:
        writers.assemble_cog(
            tile_paths,
            grid,
            out_dir / PROBABILITIES_NAME,
            bands=list(range(3, 3 + len(plan.spec.classes))),
            tags=tags,
            classes=plan.spec.classes,
        )
    counts = writers.assemble_cog(
        tile_paths, grid, out_dir / MAP_NAME, bands=[1, 2], tags=tags, classes=plan.spec.classes
    )
    if not counts.sum():
        for name in (MAP_NAME, PROBABILITIES_NAME):
            (out_dir / name).unlink(missing_ok=True)
        raise EmptyResultError(_why_empty(plan, year))
    if isinstance(source, EmitSource):  # EMIT images part of the world: say how much of the region it missed
        region_pixels = sum(int(region_mask(grid, t, plan.region).sum()) for t in tiles)
        coverage = source.coverage_note(int(counts.sum()), region_pixels)
        notes = [*(notes or []), *([coverage] if coverage else [])]
    rows = writers.area_table(counts, grid, plan.spec.classes)
    writers.write_area_csv(rows, out_dir / AREAS_NAME)
    clean = _clean_map(out_dir, grid, tiles, cleaning, tags, plan.spec.classes)
    # the stack's own labels are read with the paper's legend: compare only a model of the paper's classes
    accuracy, reference = _accuracy(out_dir / MAP_NAME, source, grid) if plan.spec.classes == CLASSES else (None, None)
    writers.write_preview(
        out_dir / MAP_NAME,
        out_dir / PREVIEW_NAME,
        reference=reference,
        classes=plan.spec.classes,
        title=f"gee-crop map, season {year}" + (f" (OA {accuracy.overall_accuracy:.1%} vs labels)" if accuracy else ""),
    )
    done = [r for r in reports if r.status == "done"]
    work_seconds = sum(r.seconds for r in done)
    n_classified = sum(r.n_classified for r in done)
    requested = sum(r.tile.n_pixels for r in done)
    fetched = sum(r.bytes_fetched for r in done)
    result = MapResult(
        out_dir=out_dir,
        cog=out_dir / MAP_NAME,
        preview=out_dir / PREVIEW_NAME,
        areas_csv=out_dir / AREAS_NAME,
        probabilities=out_dir / PROBABILITIES_NAME if plan.probabilities else None,
        hectares={r["class"]: r["hectares"] for r in rows},
        grid=grid,
        year=int(year),
        n_tiles=len(tiles),
        n_tiles_resumed=sum(r.status == "skipped" for r in reports),
        n_pixels_classified=n_classified,
        seconds=time.perf_counter() - started,
        pixels_per_second=n_classified / tiles_seconds if n_classified else 0.0,
        bytes_fetched=fetched,
        bytes_per_pixel=fetched / requested if requested else 0.0,
        min_bytes_per_pixel=plan.spec.min_bytes_per_pixel,
        accuracy=accuracy,
        clean=clean,
        clean_accuracy=_accuracy(clean, source, grid)[0] if clean and accuracy else None,
        reports=reports,
        workers=workers,
        notes=list(notes or []),
        domain_shift=map_shift(shift_tallies or {}, available=plan.domain is not None),
        stage_seconds={
            "read": sum(r.read_seconds for r in done),
            "inference": sum(r.inference_seconds for r in done),
            "write": work_seconds - sum(r.read_seconds + r.inference_seconds for r in done),
        },
    )
    writers.write_atomic(
        out_dir / SUMMARY_NAME, lambda tmp: tmp.write_text(json.dumps(result.summary(), indent=1), encoding="utf-8")
    )
    page = map_report_html(result.summary(), PREVIEW_NAME)
    writers.write_atomic(out_dir / REPORT_NAME, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return result


def _clean_map(
    out_dir: Path,
    grid: OutputGrid,
    tiles: list[Tile],
    cleaning: tuple[float | None, int | None],
    tags: dict,
    classes: tuple[str, ...],
) -> Path | None:
    """map_clean.tif: map.tif's class band cleaned tile by tile with a halo (:mod:`gee_crop.mapping.cleaning`);
    without cleaning, a map_clean.tif left by an earlier run of this folder is removed (it would not match)."""
    mmu, majority = cleaning
    if mmu is None and majority is None:
        (out_dir / CLEAN_NAME).unlink(missing_ok=True)
        return None
    min_pixels = cleaning_module.mmu_pixels(mmu, writers.pixel_area_m2(grid)) if mmu is not None else None
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".clean_") as tmp, rasterio.open(out_dir / MAP_NAME) as src:

        def read(row: int, col: int, h: int, w: int) -> np.ndarray:
            return src.read(1, window=rasterio.windows.Window(col, row, w, h))

        paths = {}
        for tile, cleaned in cleaning_module.clean_tiles(read, grid.height, grid.width, tiles, min_pixels, majority):
            paths[tile] = writers.write_tile(Path(tmp) / f"{tile.name}.tif", cleaned[None], grid, tile)
        clean_tags = {**tags, "cleaning": json.dumps({"mmu_ha": mmu, "mmu_pixels": min_pixels, "majority": majority})}
        writers.assemble_cog(paths, grid, out_dir / CLEAN_NAME, bands=[1], tags=clean_tags, classes=classes)
    return out_dir / CLEAN_NAME


def _why_empty(plan: TilePlan, year: int) -> str:
    """Why a map classified no pixel, and what to change."""
    if isinstance(plan.source, EmitSource):
        return plan.source.empty_message()
    masked = (
        " or outside the cropland mask (--worldcover: no class-40 pixel under the region?)" if plan.cropland else ""
    )
    return (
        f"the map has no classified pixel: every pixel of the region is gap-heavy (a run of more than "
        f"{plan.spec.max_gap_bins} windows without a clear observation in the season of {year}){masked}; "
        "no map was written: check --year and the region, or raise --max-gap-bins"
    )


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
