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
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import ee
import shapely
from shapely import geometry as sg
from tqdm import tqdm

from gee_crop.classes import CLASSES, Legend, user_legend
from gee_crop.config import GRID_CELL_DEG, SAMPLES_PER_CELL_DEFAULT, acquisition_window
from gee_crop.countries import country_geometry, country_of, country_spec, read_accuracy_table
from gee_crop.data import ee_rows
from gee_crop.data.regions import WGS84, read_region
from gee_crop.data.sampling import sample_from_files
from gee_crop.features.seasons import with_season_year, with_season_years
from gee_crop.data.table import read_table, write_table
from gee_crop.data.vectors import class_counts, is_vector_file, read_label_features
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.collections import check_cloud_band, check_threshold
from gee_crop.earthengine.labels import check_inline_size, check_label_asset, check_table_asset
from gee_crop.earthengine.sampling import (DEFAULT_EXPORT_TO, DEFAULT_TILE_DEG, Bounds, OwnLabels, SamplingJob,
                                           export_config, export_names, samples_folder, tile_graph)
from gee_crop.errors import EarthEngineError, InputError, OutputExistsError, RegionError, SeasonError
from gee_crop.ledger import DONE, RunLedger
from gee_crop.mapping.tiling import OutputGrid, Tile
from gee_crop.season import Season
from gee_crop.types import SampleSeries, concat

#: Interactive (streamed) jobs above this many tiles are refused: use batch exports instead.
MAX_INTERACTIVE_TILES = 16
S2_SR_FIRST_DATE = dt.date(2017, 3, 28)  # first image of COPERNICUS/S2_SR_HARMONIZED
MAX_TASK_ATTEMPTS = 3
TERMINAL_OK = "COMPLETED"
TERMINAL_BAD = ("FAILED", "CANCELLED", "CANCEL_REQUESTED", "UNKNOWN")
#: Batch quotas (https://developers.google.com/earth-engine/guides/usage): about 2 tasks run at once
#: per project by default, at most 3,000 tasks wait in a user's queue ("Too many tasks already in the
#: queue (3000)."), a project holds at most 10,000 assets. gee-crop keeps at most MAX_QUEUED_TASKS of
#: its own tasks queued (the rest of the queue stays free) and starts the next as others finish.
MAX_QUEUED_TASKS = 100
USER_QUEUE_LIMIT = 3000
MAX_ASSETS = 10_000
CONCURRENT_TASKS = 2
QUEUE_FULL_MESSAGE = "too many tasks already in the queue"
LEDGER_NAME = "manifest.json"
#: A class of a user's own legend needs at least this many samples: fewer cannot train nor score it.
MIN_CLASS_SAMPLES = 10
#: Earth Engine table asset ids (what --labels names when it is not a file).
ASSET_ID = re.compile(r"^(projects/[^/]+/assets/|users/)\S+$")
#: Decimals of tile bounds (degrees): edges computed on the cell grid land exactly on the multiples.
BOUNDS_DECIMALS = 9


# ------------------------------------------------------------------ planning

def check_year(year: int, hemisphere: str, today: dt.date | None = None,
               window: tuple[dt.date, dt.date] | None = None) -> None:
    """SeasonError when Sentinel-2 SR has no data for the year's acquisition window (``window``: a
    user's own season)."""
    start, end = window or acquisition_window(year, hemisphere)
    today = today or dt.date.today()
    if end <= S2_SR_FIRST_DATE:
        raise SeasonError(f"--year {year} has no Sentinel-2 L2A data on Earth Engine ({hemisphere} window "
                          f"{start}..{end}, data start {S2_SR_FIRST_DATE}); use --year "
                          f"{2018 if hemisphere == 'south' else 2017} or later (the paper uses 2023)")
    if start >= today:
        raise SeasonError(f"--year {year} is in the future (window starts {start}); use a past year, "
                          "e.g. --year 2023")


def own_labels(labels: str, label_field: str | None, legend: Legend | None,
               region_geometry=None) -> OwnLabels:
    """A user's labels for an Earth Engine job: a vector file (read, mapped, checked against the region
    and the request size) or a table asset id. InputError naming the fix for each bad input."""
    if not label_field:
        raise InputError(f"--labels {labels} needs --label-field NAME: the field that holds each feature's label")
    if legend is None:
        raise InputError("own labels need a legend: --legend legend.csv (label value -> class name or 'exclude') "
                         "or --classes a,b,c,other (label values that are class names)")
    if ASSET_ID.match(str(labels)) and not Path(labels).exists():
        return OwnLabels(str(labels), legend, label_field, asset=str(labels))
    if not is_vector_file(labels):
        raise InputError(f"--labels {labels} is neither a vector file (.geojson, .gpkg, .shp) nor an Earth Engine "
                         "table asset id (projects/PROJECT/assets/NAME)")
    features = read_label_features(labels, label_field, legend, region=region_geometry)
    own = OwnLabels(str(labels), legend, label_field, features.geometries, features.classes)
    check_inline_size(own.geojson(), str(labels))
    check_point_classes(features)
    return own


def check_point_classes(features) -> None:
    """InputError when a class of labelled points only has fewer than MIN_CLASS_SAMPLES points: each
    point is one sample, so the class could never reach the minimum (caught before any request)."""
    points = features.subset(features.is_point)
    polygon_classes = set(features.classes[~features.is_point].tolist())
    few = {c: n for c, n in class_counts(points).items()
           if n < MIN_CLASS_SAMPLES and features.legend.classes.index(c) not in polygon_classes}
    if few:
        listed = ", ".join(f"{c} ({n})" for c, n in few.items())
        raise InputError(f"{features.source}: class(es) {listed} have fewer than {MIN_CLASS_SAMPLES} labelled points; "
                         "label more, or map them to another class (or 'exclude') in the legend")


def check_class_sizes(series: SampleSeries, source: str) -> None:
    """InputError when a class of a user's own class list got fewer than MIN_CLASS_SAMPLES samples (such
    a class can neither be trained nor scored); nothing is written."""
    if series.classes == CLASSES:
        return
    counts = {c: int((series.crop_class == c).sum()) for c in series.classes}
    few = {c: n for c, n in counts.items() if n < MIN_CLASS_SAMPLES}
    if few:
        listed = ", ".join(f"{c} ({n})" for c, n in few.items())
        raise InputError(f"{source}: class(es) {listed} got fewer than {MIN_CLASS_SAMPLES} samples; merge them into "
                         "another class (or 'exclude') in the legend, label more fields, or raise --per-cell / "
                         "lower --spacing-m and --buffer-m")


def plan_job(*, country: str | None = None, region: str | os.PathLike | None = None, year: int = 2023,
             per_cell: int | None = None, labels: str | None = None, label_field: str | None = None,
             legend: Legend | None = None, season: Season | None = None, **options: Any) -> SamplingJob:
    """Validate the inputs of `gee-crop sample` and describe the job (no server call)."""
    if labels is not None:
        return _plan_own_labels(region, year, per_cell, labels, label_field, legend, season, country, options)
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
    job = SamplingJob(name=name, spec=spec, geometry=geometry, year=int(year),
                      per_cell=int(per_cell or spec.per_cell), from_country=region is None, season=season, **options)
    return _check_job(job, per_cell)


def _plan_own_labels(region, year, per_cell, labels, label_field, legend, season, country, options) -> SamplingJob:
    """The job of ``--labels`` on Earth Engine: the user's region (or the labels' extent) anywhere."""
    if country is not None:
        raise InputError("--labels brings your own labels: give --region AOI.geojson instead of --country")
    geometry = read_region(region) if region is not None else None
    own = own_labels(labels, label_field, legend, geometry)
    if geometry is None:
        if own.asset is not None:
            raise InputError(f"--labels {labels} is a table asset: give --region AOI.geojson (where to sample)")
        geometry = sg.box(*shapely.total_bounds(own.geometries)).buffer(0.001, join_style=2)
    name = Path(region).stem if region is not None else Path(labels).stem
    job = SamplingJob(name=name, spec=None, geometry=geometry, year=int(year),
                      per_cell=int(per_cell or SAMPLES_PER_CELL_DEFAULT), from_country=False, own_labels=own,
                      season=season, **options)
    return _check_job(job, per_cell)


def _check_job(job: SamplingJob, per_cell: int | None) -> SamplingJob:
    if per_cell is not None and per_cell < 1:
        raise InputError(f"--per-cell {per_cell} must be at least 1 (METHOD.md: 1 in USA, 5 elsewhere)")
    check_cloud_band(job.cloud_band)
    check_threshold(job.threshold)
    if job.buffer_m < 0:
        raise InputError(f"--buffer-m {job.buffer_m} is negative; use 0 (no buffer) or more (paper: 60)")
    ratio = job.tile_deg / job.cell_deg
    if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
        raise InputError(f"tile size {job.tile_deg} deg must be a multiple of the {job.cell_deg} deg "
                         "cell so that no cell is split between tiles")
    check_year(job.year, job.hemisphere, window=job.window if job.season is not None else None)
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
            _store_part(ledger, unit, ee_rows.rows_to_series(rows, region=job.name, cloud_band=job.cloud_band,
                                                             classes=job.classes))
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
    return ee_rows.rows_to_series(rows, region=job.name, cloud_band=job.cloud_band, classes=job.classes)


def check_export_target(client, job: SamplingJob, destination: str, bucket: str | None, n_tiles: int) -> None:
    """InputError when the export target cannot work: a missing bucket or project, Drive with
    credentials that have none (see ``StoredCredentials.drive_refusal``), more tiles than assets."""
    if destination == "gcs" and not bucket:
        raise InputError("--export-to gcs needs --bucket NAME (a Cloud Storage bucket you can write)")
    if destination == "asset" and not job.project:
        raise InputError("--export-to asset needs --project MY-PROJECT (the assets are written there)")
    credentials = getattr(client, "credentials", None)
    refusal = credentials.drive_refusal() if destination == "drive" and credentials is not None else None
    if refusal:
        raise InputError(f"--export-to drive cannot work here: {refusal}; use --export-to asset (the "
                         "default: gee-crop reads the tables back itself) or --export-to gcs --bucket NAME")
    if destination == "asset" and n_tiles > MAX_ASSETS:
        raise InputError(f"{n_tiles} tiles would make {n_tiles} table assets, more than a project's "
                         f"{MAX_ASSETS:,} assets; use a larger --tile-deg or --export-to gcs --bucket NAME")


def _record_status(ledger: RunLedger, unit: str, status: dict) -> str:
    """Store a task's state, error and cost (EECU-seconds, start/update times) in the ledger."""
    fields = {"state": status.get("state", "UNKNOWN")}
    if "error_message" in status:
        fields["error"] = status["error_message"]
    for key in ("batch_eecu_usage_seconds", "start_timestamp_ms", "update_timestamp_ms"):
        if status.get(key) is not None:
            fields[key] = status[key]
    ledger.update(unit, **fields)
    return fields["state"]


def run_exports(client, job: SamplingJob, tiles: dict[str, Bounds], ledger: RunLedger, *,
                destination: str, bucket: str | None = None, folder: str | None = None,
                exports_dir: Path | None = None, poll_s: float = 30.0,
                sleep: Callable[[float], None] = time.sleep, wait: bool = True,
                progress: bool = True, overwrite: bool = False,
                max_queued: int = MAX_QUEUED_TASKS) -> list[str]:
    """Run one table export per unfinished tile through a bounded queue; collect finished ones.

    Each pass starts tasks while fewer than ``max_queued`` of the job's tasks are unfinished (a
    full user queue, "Too many tasks already in the queue", waits for the next pass), then reads
    every task's state with ONE ``listOperations`` (:meth:`list_tasks`), records its EECU usage and
    times in the ledger and collects the finished ones. Failed tasks are restarted (at most
    MAX_TASK_ATTEMPTS per tile across reruns). Returns the descriptions of tiles still waiting.
    """
    check_export_target(client, job, destination, bucket, len(tiles))
    if destination == "asset":
        client.ensure_folder(samples_folder(job.project))
    waiting: list[str] = []
    active = [u for u in tiles if ledger.entry(u)["state"] != DONE]
    with _progress(len(tiles), len(tiles) - len(active), f"export tasks {job.name}", progress) as bar:
        while active:
            _start_tasks(client, job, tiles, ledger, active, destination=destination, bucket=bucket,
                                   folder=folder, overwrite=overwrite, max_queued=max_queued)
            statuses = client.list_tasks()  # one listOperations for every task of the pass
            still, finished = [], 0
            for unit in active:
                entry = ledger.entry(unit)
                if entry.get("task_id") is None:
                    still.append(unit)  # not started yet (queue bound)
                    continue
                status = statuses.get(entry["task_id"]) or client.task_status(entry["task_id"])
                if _record_status(ledger, unit, status) != TERMINAL_OK:
                    still.append(unit)  # running, or failed: restarted on the next pass
                    continue
                series = _fetch_export(client, job, int(unit), destination, exports_dir)
                if series is None:
                    waiting.append(export_names(job, int(unit))[0])
                    continue
                _store_part(ledger, unit, series)
                finished += 1
                bar.update(1)
            active = still
            if active and not wait:
                waiting.extend(export_names(job, int(u))[0] for u in active)
                break
            unstarted = any(ledger.entry(u).get("task_id") is None for u in active)
            if active and not (finished and unstarted):
                sleep(poll_s)  # no queue slot was freed for a waiting tile: let the tasks run
    return waiting


def _start_tasks(client, job: SamplingJob, tiles: dict[str, Bounds], ledger: RunLedger, active: list[str], *,
                 destination: str, bucket: str | None, folder: str | None, overwrite: bool,
                 max_queued: int) -> int:
    """Start the tasks of ``active`` tiles that have none (or a failed one) while the queue has room;
    the number started."""
    queued = sum(1 for u in active if ledger.entry(u).get("task_id") is not None
                 and ledger.entry(u)["state"] not in (*TERMINAL_BAD, TERMINAL_OK))
    started = 0
    for unit in active:
        entry, index = ledger.entry(unit), int(unit)
        if entry.get("task_id") is not None and entry["state"] not in TERMINAL_BAD:
            continue
        if queued >= max_queued:
            break
        attempts = entry.get("attempts", 0)
        description, asset = export_names(job, index)
        if attempts >= MAX_TASK_ATTEMPTS:
            raise EarthEngineError(
                f"export {description} failed {attempts} times ({entry.get('error', 'no message')}); "
                "try --tile-deg 0.5 or --tile-scale 4, then rerun with --overwrite")
        config = export_config(tile_graph(job, index, tiles[unit]), destination, description,
                               cloud_band=job.cloud_band, folder=folder, bucket=bucket, asset_id=asset,
                               overwrite=overwrite or attempts > 0)
        try:
            task_id = client.start_export(config)
        except EarthEngineError as exc:
            if QUEUE_FULL_MESSAGE in str(exc).lower():
                break  # the user's queue is full (other jobs too): start more on a later pass
            raise
        # the task id must survive a crash before the status poll
        ledger.update(unit, task_id=task_id, state="READY", attempts=attempts + 1)
        queued += 1
        started += 1
    return started


def assemble(ledger: RunLedger, units: list[str], out: Path, season: Season | None = None,
             year: int | None = None) -> int:
    """Concatenate the finished parts into the sample table at ``out`` (with the job's own ``season``,
    and ``year`` as every sample's ``season_year``); the number of samples."""
    parts = [read_table(path) for path in map(ledger.output_path, units) if path is not None]
    if not parts or sum(len(p) for p in parts) == 0:
        raise SeasonError(
            "Earth Engine returned no samples: no labelled pixel with a cloud-free acquisition in the "
            "region and year; check --year (labels and Sentinel-2 must both exist) and the region")
    table = concat(parts)
    table.season = season
    with_season_year(table, year)
    check_class_sizes(table, f"the samples of {out}")
    write_table(table, out)
    return len(table)


def run_sampling(client, job: SamplingJob, out: str | os.PathLike, *, mode: str = "auto",
                 export_to: str = DEFAULT_EXPORT_TO, bucket: str | None = None, folder: str | None = None,
                 exports_dir: str | os.PathLike | None = None, overwrite: bool = False,
                 poll_s: float = 30.0, sleep: Callable[[float], None] | None = None, wait: bool = True,
                 progress: bool = True, max_queued: int = MAX_QUEUED_TASKS) -> SamplingResult:
    """Sample ``job`` into the sample table ``out`` through ``client`` (resumable).

    Waits between task polls use ``sleep``, by default the client's own (injectable) sleep.
    """
    sleep = sleep or getattr(client, "sleep", time.sleep)
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    tiles = job_tiles(job)
    chosen = choose_mode(mode, len(tiles))
    if job.own_labels is not None and job.own_labels.asset is not None:
        check_table_asset(client, job.own_labels.asset)
    elif job.spec is not None:
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
                              poll_s=poll_s, sleep=sleep, wait=wait, progress=progress, overwrite=overwrite,
                              max_queued=max_queued)
    done = sum(ledger.entry(u)["state"] == DONE for u in tiles)
    result = SamplingResult(None, chosen, len(tiles), done, requests=getattr(client, "requests", 0) - requests_before,
                            pending_tasks=waiting)
    if waiting:
        where = (f"sync the exported CSVs into {exports_dir}" if exports_dir else
                 "download the exported CSVs into a folder and rerun with --exports-dir FOLDER")
        result.message = (f"{len(waiting)} of {len(tiles)} tiles are not collected yet; {where} "
                          "(rerun the same command to resume)")
        return result
    result.n_samples = assemble(ledger, list(tiles), out, job.season, job.year)
    result.out = out
    return result


# ------------------------------------------------------------------ the command

#: File names of the CSVs of a sampling export: gee-crop's tasks and ee_scripts/sample.js alike.
EXPORT_CSV = re.compile(r"^gee-crop_(?P<name>.+)_(?P<year>\d{4})_tile(?P<tile>\d{4})")


def table_from_exports(folder: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False,
                       cloud_band: str = "cs") -> str:
    """The sample table of CSVs already exported (e.g. by ``ee_scripts/sample.js`` in the Code
    Editor) into ``folder``: no Earth Engine request, no new task. The region name of the samples is
    the ``name`` part of the files' ``gee-crop_<name>_<year>_tileNNNN`` prefix, their season year the
    ``year`` part."""
    folder, out = Path(folder), Path(out)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    found = sorted(p for p in folder.glob("*.csv") if EXPORT_CSV.match(p.name))
    if not found:
        raise InputError(f"{folder} holds no exported sample CSV (gee-crop_<name>_<year>_tileNNNN*.csv); "
                         "download the files the Code Editor script exported to Drive into it")
    names = sorted({EXPORT_CSV.match(p.name)["name"] for p in found})
    parts = [ee_rows.rows_to_series(ee_rows.read_export_csv([p for p in found if EXPORT_CSV.match(p.name)["name"] == n]),
                                    region=n, cloud_band=cloud_band) for n in names]
    for name, part in zip(names, parts):  # the export's --year, in its file names (one per name), else inferred
        years = {int(EXPORT_CSV.match(p.name)["year"]) for p in found if EXPORT_CSV.match(p.name)["name"] == name}
        if len(years) == 1:
            with_season_year(part, years.pop())
        else:
            with_season_years(part)
    table = concat(parts)
    write_table(table, out)
    return f"wrote {len(table)} samples from {len(found)} exported CSV files in {folder} to {out}"


def sample(*, country: str | None, region: str | None, source: str | None, labels: str | None,
           year: int, per_cell: int | None, out: str, overwrite: bool, project: str | None = None,
           service_account_key: str | None = None, mode: str = "auto", export_to: str = DEFAULT_EXPORT_TO,
           bucket: str | None = None, exports_dir: str | None = None, cdl_accuracy: str | None = None,
           accuracy_filter: bool = True, wait: bool = True, label_field: str | None = None,
           legend: str | None = None, classes: str | None = None, season_start: str | None = None,
           season_days: int | None = None, window_days: int | None = None, **options) -> str:
    """Run the sampling the options describe; a one-paragraph summary for the terminal.

    ``legend`` (a CSV: label value -> class name or 'exclude') and/or ``classes`` ("a,b,other") give
    the table its own class list; ``season_start`` (MM-DD), ``season_days`` and ``window_days`` its
    own season. Every check runs before anything is written.
    """
    own_legend = user_legend(legend, classes)
    own_season = (Season().with_overrides(season_start, season_days, window_days)
                  if (season_start, season_days, window_days) != (None, None, None) else None)
    if source is not None:
        if country or region:
            raise InputError("--source samples local data; drop --country/--region, or drop --source "
                             "to sample on Earth Engine")
        if Path(out).exists() and not overwrite:
            raise OutputExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
        series = sample_from_files(source, labels, buffer_m=options["buffer_m"], cell_deg=options["cell_deg"],
                                   spacing_m=options["spacing_m"], per_cell=per_cell or SAMPLES_PER_CELL_DEFAULT,
                                   region=Path(source).name, seed=options["seed"], legend=own_legend,
                                   label_field=label_field)
        if own_season is not None:  # each sample's season year, inferred again in the table's own season
            series.season, series.season_year = own_season, None
            with_season_years(series)
        check_class_sizes(series, f"the samples of {source}")
        write_table(series, out)
        return f"wrote {len(series)} samples ({_count_text(series)}) from {source} to {out}"
    job = job_from_options(country=country, region=region, year=year, per_cell=per_cell, project=project,
                           cdl_accuracy=cdl_accuracy, accuracy_filter=accuracy_filter, labels=labels,
                           label_field=label_field, legend=own_legend, season=own_season, **options)
    client = ee_client.get_client(project=project, service_account_key=service_account_key)
    job.project = job.project or getattr(client, "project", None)
    result = run_sampling(client, job, out, mode=mode, export_to=export_to, bucket=bucket,
                          exports_dir=exports_dir, overwrite=overwrite, wait=wait)
    head = (f"{job.name} {job.year} ({job.hemisphere}, window {job.window[0]}..{job.window[1]}): "
            f"{result.tiles_done}/{result.n_tiles} tiles done in {result.mode} mode, "
            f"{result.requests} Earth Engine requests")
    if result.out is None:
        return f"{head}; {result.message}"
    return f"{head}; wrote {result.n_samples} samples to {result.out}"


def _count_text(series: SampleSeries) -> str:
    counts = {c: int((series.crop_class == c).sum()) for c in series.classes}
    return ", ".join(f"{c} {n}" for c, n in counts.items() if n)


def job_from_options(*, country: str | None, region: str | None, year: int, per_cell: int | None,
                     project: str | None, cdl_accuracy: str | None = None, accuracy_filter: bool = True,
                     labels: str | None = None, label_field: str | None = None, legend: Legend | None = None,
                     season: Season | None = None, **options) -> SamplingJob:
    """The SamplingJob the options of `gee-crop sample` describe (no server call)."""
    job = plan_job(country=country, region=region, year=year, per_cell=per_cell, project=project,
                   labels=labels, label_field=label_field, legend=legend, season=season,
                   cloud_band=options["cloud_band"], threshold=options["threshold"],
                   buffer_m=options["buffer_m"], seed=options["seed"], tile_deg=options["tile_deg"],
                   tile_scale=options["tile_scale"], cell_deg=options["cell_deg"],
                   spacing_m=options["spacing_m"])
    if job.spec is not None and job.spec.accuracy_filter and accuracy_filter:
        job.accuracy = read_accuracy_table(job.year, cdl_accuracy)
    return job
