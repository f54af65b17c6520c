"""`gee-crop sample`: a sample table from local stacks, or from Earth Engine jobs that resume.

An Earth Engine job splits its region into tiles of whole 0.1° sampling cells, streams small jobs
(paged computeFeatures) and runs large ones as batch table exports. State lives next to the output:
``<out>.parts/manifest.json`` is the job's :class:`~gee_crop.ledger.RunLedger` (the job's settings and
each tile's state, task id, attempts and row count) and ``<out>.parts/tile_XXXX.parquet`` holds the
finished tiles (written atomically, checksummed in the ledger). A rerun with the same settings skips
finished tiles, restarts failed ones and polls the export tasks it already started; nothing is
fetched twice. The final table is assembled from the parts and written atomically.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import ee
from shapely import geometry as sg
from tqdm import tqdm

from gee_crop.config import CLEAR_THRESHOLD, GRID_CELL_DEG, SAMPLES_PER_CELL_DEFAULT, acquisition_window
from gee_crop.countries import country_geometry, country_of, country_spec, read_accuracy_table
from gee_crop.data import ee_rows
from gee_crop.data.regions import WGS84, read_region
from gee_crop.data.sampling import sample_from_files
from gee_crop.data.table import read_table, write_table
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.collections import check_cloud_band, check_threshold
from gee_crop.earthengine.labels import check_label_asset
from gee_crop.earthengine.sampling import (DEFAULT_TILE_DEG, Bounds, SamplingJob, export_config, export_names,
                                           tile_graph)
from gee_crop.errors import EarthEngineError, InputError, OutputExistsError, RegionError, SeasonError
from gee_crop.ledger import DONE, RunLedger
from gee_crop.mapping.tiling import OutputGrid, Tile
from gee_crop.types import SampleSeries, concat

#: Interactive (streamed) jobs above this many tiles are refused: use batch exports instead.
MAX_INTERACTIVE_TILES = 16
S2_SR_FIRST_DATE = dt.date(2017, 3, 28)  # first image of COPERNICUS/S2_SR_HARMONIZED
MAX_TASK_ATTEMPTS = 3
TERMINAL_OK = "COMPLETED"
TERMINAL_BAD = ("FAILED", "CANCELLED", "CANCEL_REQUESTED", "UNKNOWN")
LEDGER_NAME = "manifest.json"
#: Decimals of tile bounds (degrees): edges computed on the cell grid land exactly on the multiples.
BOUNDS_DECIMALS = 9


# ------------------------------------------------------------------ planning

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
        spec = country_of(geometry)
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


def sampling_grid(tile_deg: float, cell_deg: float = GRID_CELL_DEG) -> OutputGrid:
    """The global WGS84 grid of ``cell_deg`` sampling cells; its northern edge is chosen so that
    windows of ``tile_deg`` (whole cells) start at -180° / -90°, where the cells start."""
    cells_per_tile = round(tile_deg / cell_deg)
    n_cols = math.ceil(round(360 / cell_deg) / cells_per_tile) * cells_per_tile
    n_rows = math.ceil(round(180 / cell_deg) / cells_per_tile) * cells_per_tile
    return OutputGrid(WGS84, (cell_deg, 0.0, -180.0, 0.0, -cell_deg, -90.0 + n_rows * cell_deg), n_cols, n_rows)


def tile_bounds(tile: Tile, grid: OutputGrid) -> Bounds:
    """(west, south, east, north) of a tile of the sampling grid, in degrees."""
    return tuple(round(v, BOUNDS_DECIMALS) for v in tile.bounds(grid))


def make_tiles(geometry, tile_deg: float = DEFAULT_TILE_DEG, cell_deg: float = GRID_CELL_DEG) -> list[Tile]:
    """The ``tile_deg`` windows of the sampling grid (:func:`sampling_grid`) that overlap ``geometry``
    with some area, south to north, then west to east: that order gives each tile its index (the seed
    offset and the name of its part)."""
    grid = sampling_grid(tile_deg, cell_deg)
    side = round(tile_deg / cell_deg)
    top_row = grid.height // side - 1  # tile row of the grid's northernmost tiles
    west, south, east, north = geometry.bounds
    i0, i1 = math.floor((west + 180) / tile_deg), math.ceil((east + 180) / tile_deg)
    j0, j1 = math.floor((south + 90) / tile_deg), math.ceil((north + 90) / tile_deg)
    tiles = []
    for j in range(j0, j1):
        for i in range(i0, i1):
            tile = Tile((top_row - j) * side, i * side, side, side)
            part = geometry.intersection(sg.box(*tile_bounds(tile, grid)))
            if not part.is_empty and part.area > 0:
                tiles.append(tile)
    return tiles


def job_tiles(job: SamplingJob) -> dict[str, Bounds]:
    """Ledger unit (the tile's index, as text) -> bounds of every tile of the job."""
    grid = sampling_grid(job.tile_deg, job.cell_deg)
    return {str(k): tile_bounds(t, grid) for k, t in enumerate(make_tiles(job.geometry, job.tile_deg, job.cell_deg))}


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


# ------------------------------------------------------------------ running

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


def _store_part(ledger: RunLedger, unit: str, series: SampleSeries) -> None:
    if not len(series):
        ledger.finish(unit, samples=0)
        return
    path = write_table(series, ledger.folder / f"tile_{int(unit):04d}.parquet")
    ledger.finish(unit, path, samples=int(len(series)))


def _progress(total: int, done: int, desc: str, enabled: bool) -> tqdm:
    bar = tqdm(total=total, desc=desc, unit="tile", disable=not enabled, leave=False)
    bar.update(done)
    return bar


def run_interactive(client, job: SamplingJob, tiles: dict[str, Bounds], ledger: RunLedger, *,
                    progress: bool = True) -> None:
    """Stream each unfinished tile with paged computeFeatures and store it as a part."""
    todo = [u for u in tiles if ledger.entry(u)["state"] != DONE]
    with _progress(len(tiles), len(tiles) - len(todo), f"sampling {job.name}", progress) as bar:
        for unit in todo:
            features = client.compute_features(tile_graph(job, int(unit), tiles[unit]))
            rows = ee_rows.features_to_frame(features)
            _store_part(ledger, unit, ee_rows.rows_to_series(rows, region=job.name, cloud_band=job.cloud_band))
            bar.update(1)


def _fetch_export(client, job: SamplingJob, index: int, destination: str,
                  exports_dir: Path | None) -> SampleSeries | None:
    """Rows of a finished export: read back from the asset, or from the synced CSV folder."""
    description, asset = export_names(job, index)
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


def run_exports(client, job: SamplingJob, tiles: dict[str, Bounds], ledger: RunLedger, *,
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
    active = [u for u in tiles if ledger.entry(u)["state"] != DONE]
    with _progress(len(tiles), len(tiles) - len(active), f"export tasks {job.name}", progress) as bar:
        while active:
            still = []
            for unit in active:
                entry, index = ledger.entry(unit), int(unit)
                description, asset = export_names(job, index)
                if entry.get("task_id") is None or entry["state"] in TERMINAL_BAD:
                    attempts = entry.get("attempts", 0)
                    if attempts >= MAX_TASK_ATTEMPTS:
                        raise EarthEngineError(
                            f"export {description} failed {attempts} times "
                            f"({entry.get('error', 'no message')}); try --tile-deg 0.5 or --tile-scale 4, "
                            "then rerun with --overwrite")
                    config = export_config(tile_graph(job, index, tiles[unit]), destination, description,
                                           cloud_band=job.cloud_band, folder=folder, bucket=bucket,
                                           asset_id=asset)
                    # the task id must survive a crash before the status poll
                    ledger.update(unit, task_id=client.start_export(config), state="READY", attempts=attempts + 1)
                status = client.task_status(entry["task_id"])
                ledger.update(unit, state=status.get("state", "UNKNOWN"),
                              **({"error": status["error_message"]} if "error_message" in status else {}))
                if entry["state"] != TERMINAL_OK:
                    still.append(unit)  # running, or failed: restarted on the next pass
                    continue
                series = _fetch_export(client, job, index, destination, exports_dir)
                if series is None:
                    waiting.append(description)
                    continue
                _store_part(ledger, unit, series)
                bar.update(1)
            active = still
            if active and wait:
                sleep(poll_s)
            elif active:
                waiting.extend(export_names(job, int(u))[0] for u in active)
                break
    return waiting


def assemble(ledger: RunLedger, units: list[str], out: Path) -> int:
    """Concatenate the finished parts into the sample table at ``out``; the number of samples."""
    parts = [read_table(path) for path in map(ledger.output_path, units) if path is not None]
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
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    tiles = job_tiles(job)
    chosen = choose_mode(mode, len(tiles))
    check_label_asset(client, job.spec, job.year, job.project)
    # Tasks recorded for one destination cannot be collected from another: part of the fingerprint.
    settings = {**job.fingerprint(), "mode": chosen, "export_to": export_to if chosen == "export" else None}
    ledger = RunLedger.open(out.with_name(out.name + ".parts") / LEDGER_NAME, settings, units="tiles",
                            overwrite=overwrite)
    ledger.data["mode"] = chosen
    ledger.register(tiles)  # every tile is listed (pending) before any request
    ledger.done(tiles)  # a finished tile whose part is missing or changed goes back to pending
    requests_before = getattr(client, "requests", 0)
    waiting: list[str] = []
    if chosen == "interactive":
        run_interactive(client, job, tiles, ledger, progress=progress)
    else:
        waiting = run_exports(client, job, tiles, ledger, destination=export_to, bucket=bucket,
                              folder=folder, exports_dir=Path(exports_dir) if exports_dir else None,
                              poll_s=poll_s, sleep=sleep, wait=wait, progress=progress)
    done = sum(ledger.entry(u)["state"] == DONE for u in tiles)
    result = SamplingResult(None, chosen, len(tiles), done, requests=getattr(client, "requests", 0) - requests_before,
                            pending_tasks=waiting)
    if waiting:
        where = (f"sync the exported CSVs into {exports_dir}" if exports_dir else
                 "download the exported CSVs into a folder and rerun with --exports-dir FOLDER")
        result.message = (f"{len(waiting)} of {len(tiles)} tiles are not collected yet; {where} "
                          "(rerun the same command to resume)")
        return result
    result.n_samples = assemble(ledger, list(tiles), out)
    result.out = out
    return result


# ------------------------------------------------------------------ the command

def sample(*, country: str | None, region: str | None, source: str | None, labels: str | None,
           year: int, per_cell: int | None, out: str, overwrite: bool, project: str | None = None,
           service_account_key: str | None = None, mode: str = "auto", export_to: str = "drive",
           bucket: str | None = None, exports_dir: str | None = None, cdl_accuracy: str | None = None,
           accuracy_filter: bool = True, wait: bool = True, **options) -> str:
    """Run the sampling the options describe; a one-paragraph summary for the terminal."""
    if source is not None:
        if country or region:
            raise InputError("--source samples local data; drop --country/--region, or drop --source "
                             "to sample on Earth Engine")
        if Path(out).exists() and not overwrite:
            raise OutputExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
        series = sample_from_files(source, labels, buffer_m=options["buffer_m"], cell_deg=options["cell_deg"],
                                   spacing_m=options["spacing_m"], per_cell=per_cell or SAMPLES_PER_CELL_DEFAULT,
                                   region=Path(source).name, seed=options["seed"])
        write_table(series, out)
        return f"wrote {len(series)} samples from {source} to {out}"
    if labels is not None:
        raise InputError("--labels goes with --source (local stacks); Earth Engine jobs use the "
                         "registered reference labels of the country")
    job = plan_job(country=country, region=region, year=year, per_cell=per_cell, project=project,
                   cloud_band=options["cloud_band"], threshold=options["threshold"],
                   buffer_m=options["buffer_m"], seed=options["seed"], tile_deg=options["tile_deg"],
                   tile_scale=options["tile_scale"], cell_deg=options["cell_deg"],
                   spacing_m=options["spacing_m"])
    if job.spec.accuracy_filter and accuracy_filter:
        job.accuracy = read_accuracy_table(job.year, cdl_accuracy)
    client = ee_client.get_client(project=project, service_account_key=service_account_key)
    result = run_sampling(client, job, out, mode=mode, export_to=export_to, bucket=bucket,
                          exports_dir=exports_dir, overwrite=overwrite, wait=wait)
    head = (f"{job.name} {job.year} ({job.hemisphere}, window {job.window[0]}..{job.window[1]}): "
            f"{result.tiles_done}/{result.n_tiles} tiles done in {result.mode} mode, "
            f"{result.requests} Earth Engine requests")
    if result.out is None:
        return f"{head}; {result.message}"
    return f"{head}; wrote {result.n_samples} samples to {result.out}"
