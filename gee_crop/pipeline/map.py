"""Wall-to-wall maps: region -> output grid -> tiles -> (Dask) composite + ONNX inference per tile ->
per-tile GeoTIFFs -> one COG, a PNG preview, an area table and, where labels exist, map accuracy.

Reruns resume: a finished tile is a file in ``<out>/tiles/`` (written atomically, so it exists only
when complete) and is never redone; ``<out>/tiles/manifest.json`` records the run's settings so a
rerun with different settings is refused instead of mixing two maps. Tiles are computed
deterministically, so a resumed map is identical to an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import shapely

from gee_crop.config import BANDS, CLASSES
from gee_crop.errors import GeeCropError, InputError, OutputExistsError
from gee_crop.mapping import writers
from gee_crop.mapping.accuracy import MapAccuracy, map_accuracy
from gee_crop.models.predict import (DEFAULT_BATCH_SIZE, check_model_matches, check_precision, model_info,
                                        predict_proba, session_for)
from gee_crop.mapping.region import WGS84, reproject_geometry, validate_region
from gee_crop.mapping.sources import CompositeSpec, FeatureSource, check_region_in_source
from gee_crop.mapping.tiling import LOCAL_TILE_SIZE, OutputGrid, Tile, grid_for_region, plan_tiles, region_mask

MAP_NAME, PREVIEW_NAME, AREAS_NAME, SUMMARY_NAME = "map.tif", "map.png", "areas.csv", "summary.json"
PROBABILITIES_NAME = "probabilities.tif"
TILES_DIR, MANIFEST_NAME = "tiles", "manifest.json"


class MapIncompleteError(GeeCropError):
    """Some tiles failed after retries; the finished ones are kept for a rerun."""


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

    def summary(self) -> dict:
        return {"cog": str(self.cog), "probabilities": str(self.probabilities) if self.probabilities else None,
                "preview": str(self.preview), "areas_csv": str(self.areas_csv),
                "hectares": self.hectares, "grid": self.grid.to_dict(), "year": self.year,
                "n_tiles": self.n_tiles, "n_tiles_resumed": self.n_tiles_resumed,
                "n_pixels_classified": self.n_pixels_classified, "seconds": round(self.seconds, 3),
                "pixels_per_second": round(self.pixels_per_second, 1), "bytes_fetched": self.bytes_fetched,
                "bytes_per_pixel": round(self.bytes_per_pixel, 2), "min_bytes_per_pixel": self.min_bytes_per_pixel,
                "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
                "accuracy": self.accuracy.to_dict() if self.accuracy else None}


@dataclass
class _Plan:
    """Everything a tile worker needs (shared read-only by all tiles)."""

    source: FeatureSource
    model_path: Path
    spec: CompositeSpec
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


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _prepare_out_dir(out_dir: Path, manifest: dict, overwrite: bool) -> Path:
    """Create ``out_dir/tiles`` (or resume into it); refuse to mix runs or overwrite a finished map."""
    tiles_dir = out_dir / TILES_DIR
    if overwrite:
        shutil.rmtree(tiles_dir, ignore_errors=True)
        for name in (MAP_NAME, PROBABILITIES_NAME, PREVIEW_NAME, AREAS_NAME, SUMMARY_NAME):
            (out_dir / name).unlink(missing_ok=True)
    elif (out_dir / MAP_NAME).exists():
        raise OutputExistsError(f"{out_dir / MAP_NAME} exists; pass --overwrite to replace it, or another --out")
    try:
        tiles_dir.mkdir(parents=True, exist_ok=True)
        probe = tiles_dir / f".write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise writers.OutputWriteError(f"cannot write to {out_dir} ({exc.strerror or exc}); choose a writable "
                                       "--out folder") from None
    manifest_path = tiles_dir / MANIFEST_NAME
    if manifest_path.exists():
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        if previous != manifest:
            changed = sorted(k for k in set(previous) | set(manifest) if previous.get(k) != manifest.get(k))
            raise OutputExistsError(f"{out_dir} holds tiles of a run with other settings ({', '.join(changed)} "
                                    "differ); rerun with the same options to resume it, or pass --overwrite")
    else:
        writers.write_atomic(manifest_path, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1),
                                                                       encoding="utf-8"))
    return tiles_dir


def process_tile(plan: _Plan, tile: Tile) -> TileReport:
    """Composite, classify and write one tile (skipped when its file exists). User-level failures
    (Earth Engine after retries, disk full) become a 'failed' report; bugs propagate."""
    path = plan.tiles_dir / f"{tile.name}.tif"
    if path.exists():
        return TileReport(tile, "skipped")
    if plan.tile_hook is not None:
        plan.tile_hook(tile)
    clock = [time.perf_counter()]

    def lap() -> float:
        clock.append(time.perf_counter())
        return clock[-1] - clock[-2]

    try:
        composite = plan.source.read_tile(plan.grid, tile, plan.spec, plan.region)
        valid = composite.valid & region_mask(plan.grid, tile, plan.region)
        if plan.cropland is not None:
            valid &= plan.cropland(plan.grid, tile)
        composite.valid = valid
        read_s = lap()
        session = session_for(plan.model_path, plan.providers, plan.threads, plan.precision)
        probabilities = np.zeros(valid.shape + (len(CLASSES),), dtype=np.float32)
        probabilities[valid] = predict_proba(session, composite.reflectance(), plan.batch_size)
        inference_s = lap()
        writers.write_tile(path, writers.encode_bands(probabilities, valid, plan.probabilities), plan.grid, tile)
    except GeeCropError as exc:
        return TileReport(tile, "failed", error=str(exc), seconds=time.perf_counter() - clock[0])
    return TileReport(tile, "done", int(valid.sum()), composite.bytes_fetched, time.perf_counter() - clock[0],
                      read_seconds=read_s, inference_seconds=inference_s)


def _execute(plan: _Plan, tiles: list[Tile], scheduler: str, workers: int, progress: bool) -> list[TileReport]:
    """Run :func:`process_tile` on every tile with Dask; a progress bar counts finished tiles."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tiles), unit="tile", desc="mapping", disable=not progress)
    try:
        if scheduler in ("synchronous", "threads"):
            import dask
            from dask.callbacks import Callback

            tasks = [dask.delayed(process_tile, pure=False)(plan, t, dask_key_name=f"tile-{t.name}") for t in tiles]
            with Callback(posttask=lambda key, *_: bar.update(1) if str(key).startswith("tile-") else None):
                return list(dask.compute(*tasks, scheduler=scheduler, num_workers=workers))
        from distributed import Client, LocalCluster, as_completed

        if scheduler == "local":
            # in-process workers (numpy and onnxruntime release the GIL), reachable from this host only
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                                   protocol="tcp://", host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        else:
            cluster, client = None, Client(scheduler)
        try:
            futures = client.map(lambda t: process_tile(plan, t), tiles, pure=False)
            reports = {}
            for future in as_completed(futures):
                report = future.result()
                reports[report.tile] = report
                bar.update(1)
            return [reports[t] for t in tiles]
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    finally:
        bar.close()


def run_map(source: FeatureSource, model_path: str | os.PathLike, out_dir: str | os.PathLike, *,
            region: shapely.Geometry | None = None, year: int | None = None, crs: str | None = None,
            scale: float | None = None, tile_size: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
            workers: int | None = None, scheduler: str = "local", overwrite: bool = False, probabilities: bool = False,
            max_gap_bins: int | None = None, providers: list[str] | None = None, precision: str = "fp32",
            cropland: Callable[[OutputGrid, Tile], np.ndarray] | None = None, progress: bool = True,
            tile_hook: Callable[[Tile], None] | None = None) -> MapResult:
    """Map ``region`` (WGS84; default: the source's footprint) with an ONNX CropNet model (or its
    ``model.pt`` on the torch backend, ``precision`` "fp32" or "bf16").

    The season (start, length, window, bins), the clear threshold and the gap limit come from the
    model's metadata, so the map composites its input exactly as training did; ``year`` defaults to
    the season the local stack covers best (Earth Engine needs it). Writes ``map.tif`` (COG),
    ``map.png``, ``areas.csv`` and ``summary.json`` in ``out_dir``. Raises MapIncompleteError when
    tiles failed (finished tiles are kept: rerun the same call to finish).
    """
    started = time.perf_counter()
    model_path, out_dir = Path(model_path), Path(out_dir)
    check_precision(model_path, precision)
    info = model_info(model_path)
    if region is None:
        region = source.footprint()
        if region is None:
            raise InputError(f"mapping from the {source.description} needs a region; "
                             "pass --region aoi.geojson or --bbox")
    validate_region(region)
    check_region_in_source(region, source)
    latitude = region.centroid.y
    if year is None:
        year = source.infer_year(info.start_month_day, info.length_days, info.cloud_threshold, latitude)
    season = info.season(int(year), latitude)
    check_model_matches(info, season, model_path)
    spec = CompositeSpec(season, info.cloud_threshold, info.max_gap_bins if max_gap_bins is None else int(max_gap_bins))

    crs = crs or source.default_crs(region)
    grid = grid_for_region(region, crs=crs, scale=scale or source.default_scale(),
                           origin=source.default_grid_origin(crs))
    values_per_pixel = len(info.bands) * season.n_bins
    limit = source.tile_size_limit(values_per_pixel)
    if tile_size is not None and limit is not None and tile_size > limit:
        raise InputError(f"--tile-size {tile_size} exceeds the {source.description}'s request limit for "
                         f"{values_per_pixel} uint16 bands; use --tile-size {limit} or less")
    tile_size = tile_size or limit or LOCAL_TILE_SIZE
    region_grid = reproject_geometry(region, WGS84, grid.crs)
    tiles = plan_tiles(grid, tile_size, region_grid)

    manifest = {"model_sha256": _file_sha256(model_path), "source": source.description,
                "grid": grid.to_dict(), "tile_size": tile_size, "spec": spec.to_dict(),
                "region_wkt": region.wkt, "probabilities": probabilities, "precision": precision, "cropland_mask": cropland is not None
                or bool(getattr(source, "cropland_only", False))}
    tiles_dir = _prepare_out_dir(out_dir, manifest, overwrite)
    # one tile per core, each onnxruntime session single-threaded: compositing (numpy, one core) and
    # inference then overlap instead of alternating; with fewer tiles, the cores go to the sessions
    cores = os.cpu_count() or 1
    workers = max(1, min(workers or cores, len(tiles)))
    threads = max(1, cores // workers)
    plan = _Plan(source, model_path, spec, grid, region_grid, tiles_dir, probabilities, batch_size, threads,
                 providers, precision, cropland, tile_hook)
    tiles_started = time.perf_counter()
    reports = _execute(plan, tiles, scheduler, workers, progress)
    tiles_seconds = time.perf_counter() - tiles_started

    failed = [r for r in reports if r.status == "failed"]
    if failed:
        first = failed[0]
        raise MapIncompleteError(
            f"{len(failed)} of {len(tiles)} tiles failed ({first.tile.name}: {first.error}); the "
            f"{len(tiles) - len(failed)} finished tiles are kept in {tiles_dir}: rerun the same command "
            "to retry only the failed ones")
    return _finish(out_dir, plan, tiles, reports, source, year, started, tiles_seconds)


def _finish(out_dir: Path, plan: _Plan, tiles: list[Tile], reports: list[TileReport], source: FeatureSource,
            year: int, started: float, tiles_seconds: float) -> MapResult:
    grid = plan.grid
    tile_paths = {t: plan.tiles_dir / f"{t.name}.tif" for t in tiles}
    tags = {"gee_crop_season": json.dumps(plan.spec.to_dict()), "year": str(year), "source": source.description}
    if plan.probabilities:
        writers.assemble_cog(tile_paths, grid, out_dir / PROBABILITIES_NAME,
                             bands=list(range(3, 3 + len(CLASSES))), tags=tags)
    counts = writers.assemble_cog(tile_paths, grid, out_dir / MAP_NAME, bands=[1, 2], tags=tags)
    rows = writers.area_table(counts, grid)
    writers.write_area_csv(rows, out_dir / AREAS_NAME)
    accuracy, reference = _accuracy(out_dir / MAP_NAME, source, grid)
    writers.write_preview(out_dir / MAP_NAME, out_dir / PREVIEW_NAME, reference=reference,
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
        min_bytes_per_pixel=2 * len(BANDS) * plan.spec.season.n_bins, accuracy=accuracy, reports=reports,
        stage_seconds={"read": sum(r.read_seconds for r in done), "inference": sum(r.inference_seconds for r in done),
                       "write": work_seconds - sum(r.read_seconds + r.inference_seconds for r in done)})
    writers.write_atomic(out_dir / SUMMARY_NAME,
                          lambda tmp: tmp.write_text(json.dumps(result.summary(), indent=1), encoding="utf-8"))
    return result


def _accuracy(cog: Path, source: FeatureSource, grid: OutputGrid) -> tuple[MapAccuracy | None, np.ndarray | None]:
    """Map accuracy against the source's own label raster (local stacks that carry one)."""
    labels_on_grid = getattr(source, "labels_on_grid", None)
    if labels_on_grid is None:
        return None, None
    reference = labels_on_grid(grid, Tile(0, 0, grid.height, grid.width))
    if reference is None:
        return None, None
    import rasterio

    with rasterio.open(cog) as src:
        mapped = src.read(1)
    return map_accuracy(mapped, reference), reference
