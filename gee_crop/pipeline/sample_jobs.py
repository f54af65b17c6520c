"""Sampling jobs: split a region into tiles, stream small jobs, run large ones as batch exports, resume.

State lives next to the output: ``<out>.parts/manifest.json`` (the job's parameters and each tile's
state, task id and row count) and ``<out>.parts/tile_XXXX.parquet`` (finished tiles, written
atomically). A rerun with the same parameters skips finished tiles, restarts failed ones, and polls
the export tasks it already started; nothing is fetched twice. The final table is assembled from
the parts and written atomically.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import ee
from shapely import geometry as sg

from gee_crop.atomic import write_json_atomic
from gee_crop.config import (CLEAR_THRESHOLD, GRID_CELL_DEG, INWARD_BUFFER_M, SAMPLE_SPACING_M,
                             acquisition_window, hemisphere_of)
from gee_crop.data import ee_rows
from gee_crop.data.regions import country_geometry, read_region
from gee_crop.data.table import read_table, write_table
from gee_crop.types import SampleSeries, concat
from gee_crop.earthengine.collections import check_cloud_band, check_threshold
from gee_crop.earthengine.labels import CountrySpec, check_label_asset, country_spec, reference_labels
from gee_crop.earthengine.sampling import country_boundary, export_config, sampling_graph
from gee_crop.errors import EarthEngineError, InputError, OutputExistsError, RegionError, SeasonError

DEFAULT_TILE_DEG = 1.0
#: Interactive (streamed) jobs above this many tiles are refused: use batch exports instead.
MAX_INTERACTIVE_TILES = 16
S2_SR_FIRST_DATE = dt.date(2017, 3, 28)  # first image of COPERNICUS/S2_SR_HARMONIZED
MAX_TASK_ATTEMPTS = 3
TERMINAL_OK = "COMPLETED"
TERMINAL_BAD = ("FAILED", "CANCELLED", "CANCEL_REQUESTED", "UNKNOWN")
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Tile:
    """One piece of a job: ``bounds`` (west, south, east, north) degrees, aligned to the cell grid."""

    index: int
    bounds: tuple[float, float, float, float]
    geometry: Any  # shapely geometry: the part of the region inside the tile (WGS84)


@dataclass
class SamplingJob:
    """Everything that defines a sampling run (its fingerprint guards resumes)."""

    name: str
    spec: CountrySpec
    geometry: Any
    year: int
    per_cell: int
    cloud_band: str = "cs"
    threshold: float = CLEAR_THRESHOLD
    buffer_m: float = INWARD_BUFFER_M
    cell_deg: float = GRID_CELL_DEG
    spacing_m: float = SAMPLE_SPACING_M
    seed: int = 0
    tile_deg: float = DEFAULT_TILE_DEG
    tile_scale: float = 1.0
    project: str | None = None
    from_country: bool = True
    accuracy: dict[int, set[int]] | None = None

    @property
    def hemisphere(self) -> str:
        return hemisphere_of(self.geometry.centroid.y)

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        """Raw acquisition window (METHOD.md: Jan–Dec north, Jul–Jun south)."""
        return acquisition_window(self.year, self.hemisphere)

    def fingerprint(self) -> dict:
        return {"name": self.name, "country": self.spec.code, "year": self.year,
                "per_cell": self.per_cell, "cloud_band": self.cloud_band, "threshold": self.threshold,
                "buffer_m": self.buffer_m, "cell_deg": self.cell_deg, "spacing_m": self.spacing_m,
                "seed": self.seed, "tile_deg": self.tile_deg,
                "bounds": [round(b, 6) for b in self.geometry.bounds]}


def check_year(year: int, hemisphere: str, today: dt.date | None = None) -> None:
    """SeasonError when Sentinel-2 SR has no data for the year's acquisition window."""
    start, end = acquisition_window(year, hemisphere)
    today = today or dt.date.today()
    if end <= S2_SR_FIRST_DATE:
        raise SeasonError(f"--year {year} has no Sentinel-2 L2A data on Earth Engine ({hemisphere} window "
                          f"{start}..{end}, data start {S2_SR_FIRST_DATE}); use --year "
                          f"{2018 if hemisphere == 'south' else 2017} or later (the paper uses 2023)")
    if start >= today:
        raise SeasonError(f"--year {year} is in the future (window starts {start}); use a past year, "
                          "e.g. --year 2023")


def plan_job(*, country: str | None = None, region: str | os.PathLike | None = None, year: int = 2023,
             per_cell: int | None = None, **options: Any) -> SamplingJob:
    """Validate the inputs of `gee-crop sample` and describe the job (no server call)."""
    if country is None and region is None:
        raise InputError("say where to sample: --country ISO3 (e.g. FRA), --region AOI.geojson, "
                         "or --source STACK for local data")
    if country is not None:
        spec = country_spec(country)
        outline = country_geometry(spec.code).intersection(sg.box(*spec.extent))
        geometry = outline if region is None else outline.intersection(read_region(region))
        if geometry.is_empty:
            raise RegionError(f"the region does not overlap {spec.code}'s labelled area {spec.extent}; "
                              "give a region inside the country")
        name = spec.code
    else:
        geometry = read_region(region)
        spec = _country_of(geometry)
        name = Path(region).stem
    if per_cell is not None and per_cell < 1:
        raise InputError(f"--per-cell {per_cell} must be at least 1 (METHOD.md: 1 in USA, 5 elsewhere)")
    check_cloud_band(options.get("cloud_band", "cs"))
    check_threshold(options.get("threshold", CLEAR_THRESHOLD))
    job = SamplingJob(name=name, spec=spec, geometry=geometry, year=int(year),
                      per_cell=int(per_cell or spec.per_cell), from_country=region is None, **options)
    if job.buffer_m < 0:
        raise InputError(f"--buffer-m {job.buffer_m} is negative; use 0 (no buffer) or more (paper: 60)")
    ratio = job.tile_deg / job.cell_deg
    if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
        raise InputError(f"tile size {job.tile_deg} deg must be a multiple of the {job.cell_deg} deg "
                         "cell so that no cell is split between tiles")
    check_year(job.year, job.hemisphere)
    return job


def _country_of(geometry) -> CountrySpec:
    from gee_crop.earthengine.labels import registry

    best, overlap = None, 0.0
    for spec in registry().values():
        area = geometry.intersection(country_geometry(spec.code)).area
        if area > overlap:
            best, overlap = spec, area
    if best is None:
        raise RegionError("the region is not inside a country with registered reference labels "
                          "(USA, FRA, BEL, NLD, GBR, AUS, ARG, CHN); give a region there, or use "
                          "--source STACK --labels RASTER for your own labels")
    return best


def make_tiles(geometry, tile_deg: float = DEFAULT_TILE_DEG) -> list[Tile]:
    """Tiles of ``tile_deg`` on a global grid (aligned with the 0.1° cells) that overlap ``geometry``."""
    west, south, east, north = geometry.bounds
    i0, i1 = math.floor((west + 180) / tile_deg), math.ceil((east + 180) / tile_deg)
    j0, j1 = math.floor((south + 90) / tile_deg), math.ceil((north + 90) / tile_deg)
    tiles = []
    for j in range(j0, j1):
        for i in range(i0, i1):
            box = (round(i * tile_deg - 180, 9), round(j * tile_deg - 90, 9),
                   round((i + 1) * tile_deg - 180, 9), round((j + 1) * tile_deg - 90, 9))
            part = geometry.intersection(sg.box(*box))
            if not part.is_empty and part.area > 0:
                tiles.append(Tile(len(tiles), box, part))
    return tiles


def tile_region(job: SamplingJob, tile: Tile) -> ee.Geometry:
    """The tile's area on the server: box ∩ catalog country outline, or box ∩ the user's polygon."""
    if job.from_country:
        box = ee.Geometry.Rectangle(list(tile.bounds), "EPSG:4326", False)
        return box.intersection(country_boundary(job.spec.code), 1)
    return ee.Geometry(sg.mapping(tile.geometry), "EPSG:4326", False)


def tile_graph(job: SamplingJob, tile: Tile) -> ee.FeatureCollection:
    """The sampling rows of one tile (graph only)."""
    start, end = job.window
    region = tile_region(job, tile)
    labels = reference_labels(job.spec, job.year, project=job.project, accuracy=job.accuracy)
    return sampling_graph(labels, region, start, end, cloud_band=job.cloud_band,
                          threshold=job.threshold, buffer_m=job.buffer_m, cell_deg=job.cell_deg,
                          spacing_m=job.spacing_m, per_cell=job.per_cell, seed=job.seed + tile.index,
                          tile_scale=job.tile_scale)


def choose_mode(mode: str, n_tiles: int) -> str:
    """'interactive' or 'export' (auto: interactive up to MAX_INTERACTIVE_TILES tiles)."""
    if mode == "auto":
        return "interactive" if n_tiles <= MAX_INTERACTIVE_TILES else "export"
    if mode == "interactive" and n_tiles > MAX_INTERACTIVE_TILES:
        raise RegionError(f"the region spans {n_tiles} tiles, too large for interactive mode (at most "
                          f"{MAX_INTERACTIVE_TILES}); use --mode export (batch tasks) or a smaller --region")
    if mode not in ("interactive", "export"):
        raise InputError(f"--mode {mode!r}: use auto, interactive or export")
    return mode


# ------------------------------------------------------------------ state

class Manifest:
    """``<out>.parts/manifest.json``: job fingerprint + per-tile state, saved atomically."""

    def __init__(self, folder: Path, fingerprint: dict) -> None:
        self.folder = folder
        self.path = folder / "manifest.json"
        self.data = {"version": MANIFEST_VERSION, "job": fingerprint, "tiles": {}}
        if self.path.exists():
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if saved.get("job") != fingerprint:
                raise OutputExistsError(
                    f"{folder} holds the parts of a different sampling job; rerun with the same "
                    "options to resume it, or pass --overwrite to start over")
            self.data = saved

    def tile(self, index: int) -> dict:
        return self.data["tiles"].setdefault(str(index), {"state": "pending", "attempts": 0})

    def part_path(self, index: int) -> Path:
        return self.folder / f"tile_{index:04d}.parquet"

    def save(self) -> None:
        write_json_atomic(self.path, self.data, sort_keys=True)


@dataclass
class SamplingResult:
    """What a run did: the table path (None until every tile is finished) and counts."""

    out: Path | None
    mode: str
    n_tiles: int
    tiles_done: int
    n_samples: int = 0
    requests: int = 0
    pending_tasks: list[str] = field(default_factory=list)
    message: str = ""


def _store_part(manifest: Manifest, tile: Tile, series: SampleSeries) -> None:
    entry = manifest.tile(tile.index)
    if len(series):
        write_table(series, manifest.part_path(tile.index))
    entry.update(state="done", samples=int(len(series)))
    manifest.save()


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="tile", disable=not enabled, leave=False)


def run_interactive(client, job: SamplingJob, tiles: list[Tile], manifest: Manifest, *,
                    progress: bool = True) -> None:
    """Stream each unfinished tile with paged computeFeatures and store it as a part."""
    todo = [t for t in tiles if manifest.tile(t.index)["state"] != "done"]
    with _progress(len(tiles), f"sampling {job.name}", progress) as bar:
        bar.update(len(tiles) - len(todo))
        for tile in todo:
            features = client.compute_features(tile_graph(job, tile))
            rows = ee_rows.features_to_frame(features)
            _store_part(manifest, tile, ee_rows.rows_to_series(rows, region=job.name, cloud_band=job.cloud_band))
            bar.update(1)


def _export_names(job: SamplingJob, tile: Tile) -> tuple[str, str | None]:
    description = f"gee-crop_{job.name}_{job.year}_tile{tile.index:04d}"
    asset = (f"projects/{job.project}/assets/gee-crop/samples/{description}" if job.project else None)
    return description, asset


def _fetch_export(client, job: SamplingJob, tile: Tile, destination: str,
                  exports_dir: Path | None) -> SampleSeries | None:
    """Rows of a finished export: read back from the asset, or from the synced CSV folder."""
    description, asset = _export_names(job, tile)
    if destination == "asset":
        rows = ee_rows.features_to_frame(client.compute_features(ee.FeatureCollection(asset)))
    else:
        if exports_dir is None:
            return None
        found = sorted(Path(exports_dir).glob(f"{description}*.csv"))
        if not found:
            return None
        rows = ee_rows.read_export_csv(found)
    return ee_rows.rows_to_series(rows, region=job.name, cloud_band=job.cloud_band)


def run_exports(client, job: SamplingJob, tiles: list[Tile], manifest: Manifest, *,
                destination: str, bucket: str | None = None, folder: str | None = None,
                exports_dir: Path | None = None, poll_s: float = 30.0,
                sleep: Callable[[float], None] = time.sleep, wait: bool = True,
                progress: bool = True) -> list[str]:
    """Start one table export per unfinished tile, poll them, collect finished ones as parts.

    Failed tasks are restarted (at most MAX_TASK_ATTEMPTS per tile across reruns). Returns the
    descriptions of tiles still waiting (running tasks, or CSVs not yet synced to ``exports_dir``).
    """
    if destination == "gcs" and not bucket:
        raise InputError("--export-to gcs needs --bucket NAME (a Cloud Storage bucket you can write)")
    if destination == "asset" and not job.project:
        raise InputError("--export-to asset needs --project MY-PROJECT (the assets are written there)")
    waiting: list[str] = []
    with _progress(len(tiles), f"export tasks {job.name}", progress) as bar:
        bar.update(sum(manifest.tile(t.index)["state"] == "done" for t in tiles))
        active = [t for t in tiles if manifest.tile(t.index)["state"] != "done"]
        while active:
            still = []
            for tile in active:
                entry = manifest.tile(tile.index)
                description, asset = _export_names(job, tile)
                if entry.get("task_id") is None or entry["state"] in TERMINAL_BAD:
                    if entry["attempts"] >= MAX_TASK_ATTEMPTS:
                        raise EarthEngineError(
                            f"export {description} failed {entry['attempts']} times "
                            f"({entry.get('error', 'no message')}); try --tile-deg 0.5 or --tile-scale 4, "
                            "then rerun with --overwrite")
                    config = export_config(tile_graph(job, tile), destination, description,
                                           cloud_band=job.cloud_band, folder=folder, bucket=bucket,
                                           asset_id=asset)
                    entry.update(task_id=client.start_export(config), state="READY",
                                 attempts=entry["attempts"] + 1)
                    manifest.save()  # the task id must survive a crash before the status poll
                status = client.task_status(entry["task_id"])
                entry["state"] = status.get("state", "UNKNOWN")
                if "error_message" in status:
                    entry["error"] = status["error_message"]
                manifest.save()
                if entry["state"] != TERMINAL_OK:
                    still.append(tile)  # running, or failed: restarted on the next pass
                    continue
                series = _fetch_export(client, job, tile, destination, exports_dir)
                if series is None:
                    waiting.append(description)
                    continue
                _store_part(manifest, tile, series)
                bar.update(1)
            active = still
            if active and wait:
                sleep(poll_s)
            elif active:
                waiting.extend(_export_names(job, t)[0] for t in active)
                break
    return waiting


def assemble(manifest: Manifest, tiles: list[Tile], out: Path) -> int:
    """Concatenate the finished parts into the sample table at ``out``; the number of samples."""
    parts = [read_table(manifest.part_path(t.index)) for t in tiles
             if manifest.part_path(t.index).exists()]
    if not parts or sum(len(p) for p in parts) == 0:
        raise SeasonError(
            "Earth Engine returned no samples: no labelled pixel with a cloud-free acquisition in the "
            "region and year; check --year (labels and Sentinel-2 must both exist) and the region")
    table = concat(parts)
    write_table(table, out)
    return len(table)


def run_sampling(client, job: SamplingJob, out: str | os.PathLike, *, mode: str = "auto",
                 export_to: str = "drive", bucket: str | None = None, folder: str | None = None,
                 exports_dir: str | os.PathLike | None = None, overwrite: bool = False,
                 poll_s: float = 30.0, sleep: Callable[[float], None] | None = None, wait: bool = True,
                 progress: bool = True) -> SamplingResult:
    """Sample ``job`` into the sample table ``out`` through ``client`` (resumable).

    Waits between task polls use ``sleep``, by default the client's own (injectable) sleep.
    """
    sleep = sleep or getattr(client, "sleep", time.sleep)
    out = Path(out)
    parts = out.with_name(out.name + ".parts")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    if overwrite and parts.exists():
        for p in parts.iterdir():
            p.unlink()
    tiles = make_tiles(job.geometry, job.tile_deg)
    chosen = choose_mode(mode, len(tiles))
    check_label_asset(client, job.spec, job.year, job.project)
    # Tasks recorded for one destination cannot be collected from another: part of the fingerprint.
    fingerprint = {**job.fingerprint(), "mode": chosen,
                   "export_to": export_to if chosen == "export" else None}
    manifest = Manifest(parts, fingerprint)
    manifest.data["mode"] = chosen
    for tile in tiles:
        manifest.tile(tile.index)  # every tile is listed (pending) before any request
    manifest.save()
    requests_before = getattr(client, "requests", 0)
    waiting: list[str] = []
    if chosen == "interactive":
        run_interactive(client, job, tiles, manifest, progress=progress)
    else:
        waiting = run_exports(client, job, tiles, manifest, destination=export_to, bucket=bucket,
                              folder=folder, exports_dir=Path(exports_dir) if exports_dir else None,
                              poll_s=poll_s, sleep=sleep, wait=wait, progress=progress)
    done = sum(manifest.tile(t.index)["state"] == "done" for t in tiles)
    result = SamplingResult(None, chosen, len(tiles), done, requests=getattr(client, "requests", 0) - requests_before,
                            pending_tasks=waiting)
    if waiting:
        where = (f"sync the exported CSVs into {exports_dir}" if exports_dir else
                 "download the exported CSVs into a folder and rerun with --exports-dir FOLDER")
        result.message = (f"{len(waiting)} of {len(tiles)} tiles are not collected yet; {where} "
                          "(rerun the same command to resume)")
        return result
    result.n_samples = assemble(manifest, tiles, out)
    result.out = out
    return result
