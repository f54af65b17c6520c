"""Running a sampling job on Earth Engine: each tile streamed (interactive) or exported by a batch task,
through a bounded task queue that resumes.

State lives in a :class:`~gee_crop.ledger.RunLedger` next to the output (``<out>.parts/manifest.json``:
the job's settings and each tile's state, task id, attempts, cost and row count). A rerun with the same
settings skips finished tiles, restarts failed ones and polls the export tasks it already started;
nothing is fetched twice. A pilot of the same job (``sample --pilot N``, ``<out>.pilot/``) exported some
tiles to the very asset ids the run uses: the run imports the pilot's finished tiles (their part, task
and EECU usage) into its ledger and adopts its unfinished tasks (:func:`import_pilot`), so it neither
exports them again (which the service answers "Cannot overwrite asset") nor pays their EECU twice. A
job's export tasks are polled one ``getOperation`` each (``client.poll_tasks``). What a finished tile's
rows become is the caller's (:data:`StoreRows`): this
module only reaches the server, through the client.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ee
import pandas as pd
import shapely
from pyproj import Geod
from shapely import geometry as sg
from tqdm import tqdm

from gee_crop.atomic import atomic_write
from gee_crop.config import ExportDestination, SamplingMode
from gee_crop.earthengine.labels import check_label_asset, check_request_size, check_table_asset
from gee_crop.earthengine.sampling import (
    DEFAULT_EXPORT_TO,
    S2_ROWS,
    Bounds,
    SamplingJob,
    TileRows,
    export_config,
    export_names,
    features_to_frame,
    job_tiles,
    read_export_csv,
    samples_folder,
)
from gee_crop.errors import EarthEngineError, InputError, RegionError
from gee_crop.ledger import DONE, RunLedger
from gee_crop.sensors import SENSORS

#: Interactive (streamed) jobs above this many tiles are refused: use batch exports instead.
MAX_INTERACTIVE_TILES = 16
MAX_TASK_ATTEMPTS = 3
#: An interactive request has five minutes ("Computation timed out." after that,
#: https://developers.google.com/earth-engine/guides/processing_environments) and a streamed tile is one such
#: request per page: a tile runs interactively only when its estimate is at most INTERACTIVE_SAFETY of it.
INTERACTIVE_LIMIT_S = 300.0
INTERACTIVE_SAFETY = 0.5
#: Seconds an interactive sampling request takes per km² of tile when nothing measured it (a planning
#: figure, not a documented one: a 0.1-degree cell, ~80 km², in ~16 s; a 1-degree tile, ~8,000 km², in ~27 min,
#: so tiles up to ~750 km² stream);
#: `gee-crop doctor` measures the account's own (``sampling_seconds_per_km2`` of its pilot file).
DEFAULT_SAMPLING_S_PER_KM2 = 0.2
_GEOD = Geod(ellps="WGS84")
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
PARTS_SUFFIX = ".parts"
PILOT_SUFFIX = ".pilot"
#: Settings a pilot's ledger holds beside the job's fingerprint.
PILOT_ONLY_SETTINGS = ("mode", "export_to", "pilot_tiles")
#: Ledger fields of a tile's export task, carried over when the run imports a pilot's tile.
TASK_FIELDS = ("task_id", "attempts", "batch_eecu_usage_seconds", "start_timestamp_ms", "update_timestamp_ms")

#: Turns the rows of a finished tile (columns of ``sampling.row_properties``) into the tile's part and
#: finishes its unit in the ledger: ``store(job, ledger, unit, rows)``.
StoreRows = Callable[[SamplingJob, RunLedger, str, pd.DataFrame], None]


@dataclass(frozen=True)
class ExportTarget:
    """Where a job's batch export tasks write their parts and how they are collected: built once (from
    the sampling request) and handed whole to the run, the pilot and the task queue."""

    destination: str = DEFAULT_EXPORT_TO
    bucket: str | None = None
    folder: str | None = None
    exports_dir: Path | None = None  # the local folder synced with Drive/GCS exports
    poll_s: float = 30.0
    max_queued: int = MAX_QUEUED_TASKS


#: Exports to Earth Engine table assets, read back by gee-crop itself.
ASSET_EXPORTS = ExportTarget()


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
    units: list[str] = field(default_factory=list)  # the tiles' ledger units, in tile order


def tile_area_km2(job: SamplingJob, bounds: Bounds) -> float:
    """Geodesic area (km²) of the job's area inside a tile's box: what its request samples."""
    part = shapely.intersection(job.geometry, sg.box(*bounds))
    return abs(_GEOD.geometry_area_perimeter(part)[0]) / 1e6 if not part.is_empty else 0.0


@dataclass(frozen=True)
class InteractiveEstimate:
    """How long the largest tile of a job would take as one interactive request, against the limit."""

    seconds: float
    area_km2: float
    rate_s_per_km2: float = DEFAULT_SAMPLING_S_PER_KM2
    rate_source: str = "planning default"

    @property
    def fits(self) -> bool:
        """True when the largest tile finishes well inside the interactive limit."""
        return self.seconds <= INTERACTIVE_SAFETY * INTERACTIVE_LIMIT_S

    def line(self) -> str:
        verdict = "fits" if self.fits else "does NOT fit"
        return (
            f"largest tile {self.area_km2:,.1f} km2: ~{self.seconds:,.0f} s as one interactive request at "
            f"{self.rate_s_per_km2:g} s/km2 ({self.rate_source}); {verdict} the interactive limit of "
            f"{INTERACTIVE_LIMIT_S:.0f} s (with a {1 / INTERACTIVE_SAFETY:g}x margin)"
        )


def interactive_estimate(
    job: SamplingJob, rate_s_per_km2: float | None = None, rate_source: str = "planning default"
) -> InteractiveEstimate:
    """The interactive time of the job's largest tile (``rate_s_per_km2`` None: the planning default)."""
    rate = DEFAULT_SAMPLING_S_PER_KM2 if rate_s_per_km2 is None else float(rate_s_per_km2)
    area = max((tile_area_km2(job, b) for b in job_tiles(job).values()), default=0.0)
    source = rate_source if rate_s_per_km2 is not None else "planning default"
    return InteractiveEstimate(area * rate, area, rate, source)


def choose_mode(mode: str, n_tiles: int, estimate: InteractiveEstimate | None = None) -> SamplingMode:
    """INTERACTIVE or EXPORT. auto: interactive up to MAX_INTERACTIVE_TILES tiles whose largest fits the
    interactive limit by ``estimate`` (:func:`interactive_estimate`), else batch export."""
    if mode not in SamplingMode.values():
        raise InputError(f"--mode {mode!r}: use auto, interactive or export")
    too_slow = estimate is not None and not estimate.fits
    if mode == SamplingMode.AUTO:
        small = n_tiles <= MAX_INTERACTIVE_TILES and not too_slow
        return SamplingMode.INTERACTIVE if small else SamplingMode.EXPORT
    if mode == SamplingMode.INTERACTIVE and n_tiles > MAX_INTERACTIVE_TILES:
        raise RegionError(
            f"the region spans {n_tiles} tiles, too large for interactive mode (at most "
            f"{MAX_INTERACTIVE_TILES}); use --mode export (batch tasks) or a smaller --region"
        )
    if mode == SamplingMode.INTERACTIVE and estimate is not None and too_slow:
        raise RegionError(
            f"interactive mode cannot finish this job: {estimate.line()}; use --mode export (batch tasks) "
            "or a smaller --tile-deg"
        )
    return SamplingMode(mode)


def check_job_labels(client, job: SamplingJob) -> None:
    """InputError before any task when the job's labels cannot be read: a user's table asset that
    does not exist, or a country's label asset not uploaded (a user's inline labels need nothing)."""
    if job.own_labels is not None:
        if job.own_labels.asset is not None:
            check_table_asset(client, job.own_labels.asset)
    elif job.spec is not None:
        check_label_asset(client, job.spec, job.year, job.project)


def check_tile_requests(job: SamplingJob, tiles: dict[str, Bounds], rows: TileRows = S2_ROWS) -> None:
    """InputError naming the upload route before any request when a tile's request would be refused for
    its size: a user's inline labels travel inside each tile's request (only the features touching the
    tile), and the body is measured as the client serializes it (``labels.check_request_size``)."""
    own = job.own_labels
    if own is None or own.asset is not None:
        return
    for unit, bounds in tiles.items():
        check_request_size(rows.graph(job, int(unit), bounds), f"tile {unit} of {job.name}", own.source)


def pilot_ledger_path(out: str | Path) -> Path:
    """The ledger of the pilot of the job writing ``out`` (``<out>.pilot/manifest.json``)."""
    return Path(out).with_name(Path(out).name + PILOT_SUFFIX) / LEDGER_NAME


def import_pilot(ledger: RunLedger, job: SamplingJob, out: str | Path, tiles: dict[str, Bounds]) -> list[str]:
    """Bring the tiles a pilot of this very job already ran into the run's ledger; the units imported.

    The pilot exported them to the asset ids the run would use (``export_names``): a finished tile is
    imported with its part (copied into the run's folder), its task and its EECU usage; a tile whose task
    is still queued or running is adopted (the run polls that task instead of starting a second one on
    the same asset). Failed pilot tiles and pilots of other settings are left alone."""
    path = pilot_ledger_path(out)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(saved, dict) or not isinstance(saved.get("settings"), dict):
        return []
    settings = {k: v for k, v in saved["settings"].items() if k not in PILOT_ONLY_SETTINGS}
    if settings != json.loads(json.dumps(job.fingerprint())):
        return []
    pilot = RunLedger(path, saved["settings"], units="tiles")
    pilot.data = {**saved, "tiles": saved.get("tiles", {})}
    imported = []
    for unit in tiles:
        if ledger.entry(unit)["state"] == DONE or ledger.entry(unit).get("task_id") is not None:
            continue
        entry = pilot.units.get(unit)
        if entry is None:
            continue
        task = {k: entry[k] for k in TASK_FIELDS if k in entry}
        if pilot.is_done(unit):
            part = pilot.output_path(unit)
            if part is not None:
                target = ledger.folder / part.name
                atomic_write(target, functools.partial(shutil.copyfile, part))
                ledger.finish(unit, target, samples=entry.get("samples", 0), imported_from="pilot", **task)
            else:
                ledger.finish(unit, samples=entry.get("samples", 0), imported_from="pilot", **task)
            imported.append(unit)
        elif task.get("task_id") and entry.get("state") not in (*TERMINAL_BAD, TERMINAL_OK, DONE):
            ledger.update(unit, state=entry.get("state", "READY"), imported_from="pilot", **task)
            imported.append(unit)
    return imported


def check_export_target(client, project: str | None, destination: str, bucket: str | None, n_tiles: int) -> None:
    """InputError when the export target cannot work: a missing bucket or project, Drive with
    credentials that have none (see ``StoredCredentials.drive_refusal``), more tiles than assets."""
    if destination == ExportDestination.GCS and not bucket:
        raise InputError("--export-to gcs needs --bucket NAME (a Cloud Storage bucket you can write)")
    if destination == ExportDestination.ASSET and not project:
        raise InputError("--export-to asset needs --project MY-PROJECT (the assets are written there)")
    credentials = getattr(client, "credentials", None)
    refusal = (
        credentials.drive_refusal() if destination == ExportDestination.DRIVE and credentials is not None else None
    )
    if refusal:
        raise InputError(
            f"--export-to drive cannot work here: {refusal}; use --export-to asset (the "
            "default: gee-crop reads the tables back itself) or --export-to gcs --bucket NAME"
        )
    if destination == ExportDestination.ASSET and n_tiles > MAX_ASSETS:
        raise InputError(
            f"{n_tiles} tiles would make {n_tiles} assets, more than a project's "
            f"{MAX_ASSETS:,} assets; use a larger --tile-deg or --export-to gcs --bucket NAME"
        )


def run_tiles(
    client,
    job: SamplingJob,
    out: str | Path,
    store: StoreRows,
    *,
    mode: str = SamplingMode.AUTO,
    target: ExportTarget = ASSET_EXPORTS,
    overwrite: bool = False,
    sleep: Callable[[float], None] | None = None,
    wait: bool = True,
    progress: bool = True,
    estimate: InteractiveEstimate | None = None,
    rows: TileRows = S2_ROWS,
) -> tuple[SamplingResult, RunLedger]:
    """Run every tile of ``job`` (resumable; state in ``<out>.parts/``) and store each finished one
    with ``store``; the result (its ``out`` still None) and the ledger, whose parts make the table
    when ``result.pending_tasks`` is empty. Waits between task polls use ``sleep``, by default the
    client's own (injectable) sleep. ``estimate``: the interactive time of the largest tile (None: at the
    planning default rate, :func:`interactive_estimate`). ``rows``: what each tile returns (the Sentinel-2
    series; ``sampling.medians_rows(sensor)`` for the monthly medians of ``sample --emit`` / ``--medians``)."""
    poll_sleep: Callable[[float], None] = sleep if sleep is not None else getattr(client, "sleep", time.sleep)
    tiles = job_tiles(job)
    chosen = choose_mode(mode, len(tiles), estimate or interactive_estimate(job))
    check_job_labels(client, job)
    # Tasks recorded for one destination cannot be collected from another: part of the fingerprint.
    settings = {
        **job.fingerprint(),
        "mode": chosen.value,
        "export_to": str(target.destination) if chosen == SamplingMode.EXPORT else None,
    }
    ledger = RunLedger.open(
        Path(out).with_name(Path(out).name + PARTS_SUFFIX) / LEDGER_NAME, settings, units="tiles", overwrite=overwrite
    )
    ledger.data["mode"] = chosen.value
    ledger.register(tiles)  # every tile is listed (pending) before any request
    ledger.done(tiles)  # a finished tile whose part is missing or changed goes back to pending
    check_tile_requests(job, {u: b for u, b in tiles.items() if ledger.entry(u)["state"] != DONE}, rows)
    import_pilot(ledger, job, out, tiles)
    requests_before = getattr(client, "requests", 0)
    waiting: list[str] = []
    if chosen == SamplingMode.INTERACTIVE:
        run_interactive(client, job, tiles, ledger, store, progress=progress, rows=rows)
    else:
        waiting = run_exports(
            client,
            job,
            tiles,
            ledger,
            store,
            target,
            sleep=poll_sleep,
            wait=wait,
            progress=progress,
            overwrite=overwrite,
            rows=rows,
        )
    done = sum(ledger.entry(u)["state"] == DONE for u in tiles)
    result = SamplingResult(
        None,
        chosen.value,
        len(tiles),
        done,
        pending_tasks=waiting,
        units=list(tiles),
        requests=getattr(client, "requests", 0) - requests_before,
    )
    if waiting:
        where = (
            f"sync the exported CSVs into {target.exports_dir}"
            if target.exports_dir
            else "download the exported CSVs into a folder and rerun with --exports-dir FOLDER"
        )
        result.message = (
            f"{len(waiting)} of {len(tiles)} tiles are not collected yet; {where} (rerun the same command to resume)"
        )
    return result, ledger


def _progress(total: int, done: int, desc: str, enabled: bool) -> tqdm:
    bar = tqdm(total=total, desc=desc, unit="tile", disable=not enabled, leave=False)
    bar.update(done)
    return bar


def run_interactive(
    client,
    job: SamplingJob,
    tiles: dict[str, Bounds],
    ledger: RunLedger,
    store: StoreRows,
    *,
    progress: bool = True,
    rows: TileRows = S2_ROWS,
) -> None:
    """Stream each unfinished tile's ``rows`` with paged computeFeatures and store them."""
    todo = [u for u in tiles if ledger.entry(u)["state"] != DONE]
    with _progress(len(tiles), len(tiles) - len(todo), f"sampling {job.name}", progress) as bar:
        for unit in todo:
            store(
                job, ledger, unit, features_to_frame(client.compute_features(rows.graph(job, int(unit), tiles[unit])))
            )
            bar.update(1)


def export_rows(
    client, job: SamplingJob, index: int, destination: str, exports_dir: Path | None, suffix: str = ""
) -> pd.DataFrame | None:
    """Rows of tile ``index``'s finished export (``suffix``: its kind of rows, ``TileRows.suffix``): read back
    from the asset, or from the synced CSV folder (None while its files are not there)."""
    description, asset = export_names(job, index, suffix)
    if destination == ExportDestination.ASSET:
        return features_to_frame(client.compute_features(ee.FeatureCollection(asset)))
    found = sorted(Path(exports_dir).glob(f"{description}*.csv")) if exports_dir is not None else []
    if not suffix:  # an S2 tile's prefix is also the start of its medians tiles' (_emit ...): keep the S2 files only
        found = [p for p in found if not p.stem.startswith(tuple(f"{description}_{name}" for name in SENSORS))]
    return read_export_csv(found) if found else None


class ExportBatch(Protocol):
    """A job's batch export tasks as the task queue (:func:`run_task_queue`) sees them: sampling tiles
    (:class:`SamplingExports`) or map export tiles (``gee_crop.mapping.server_map``)."""

    @property
    def label(self) -> str:
        """What the progress bar says."""
        ...

    @property
    def retry_hint(self) -> str:
        """What to try when a unit's task failed MAX_TASK_ATTEMPTS times."""
        ...

    def description(self, unit: str) -> str:
        """The task description (file prefix) of ``unit``."""
        ...

    def export_config(self, unit: str, overwrite: bool) -> dict:
        """The export config of ``unit`` (``overwrite``: replace an asset an earlier attempt left)."""
        ...

    def collect(self, client: Any, ledger: RunLedger, unit: str) -> bool:
        """Finish ``unit`` (its task COMPLETED) in the ledger; False while its output is not readable yet."""
        ...


@dataclass(frozen=True)
class SamplingExports:
    """A sampling job's tiles as table exports: each finished tile's rows go to ``store``."""

    job: SamplingJob
    tiles: dict[str, Bounds]
    store: StoreRows
    target: ExportTarget = ASSET_EXPORTS
    retry_hint: str = "try --tile-deg 0.5 or --tile-scale 4, then rerun with --overwrite"
    rows: TileRows = S2_ROWS

    @property
    def label(self) -> str:
        return f"export tasks {self.job.name}{self.rows.suffix}"

    def description(self, unit: str) -> str:
        return export_names(self.job, int(unit), self.rows.suffix)[0]

    def export_config(self, unit: str, overwrite: bool) -> dict:
        description, asset = export_names(self.job, int(unit), self.rows.suffix)
        return export_config(
            self.rows.graph(self.job, int(unit), self.tiles[unit]),
            self.target.destination,
            description,
            cloud_band=self.job.cloud_band,
            folder=self.target.folder,
            bucket=self.target.bucket,
            asset_id=asset,
            overwrite=overwrite,
            selectors=self.rows.selectors(self.job),
        )

    def collect(self, client: Any, ledger: RunLedger, unit: str) -> bool:
        rows = export_rows(
            client, self.job, int(unit), self.target.destination, self.target.exports_dir, self.rows.suffix
        )
        if rows is None:
            return False
        self.store(self.job, ledger, unit, rows)
        return True


def run_exports(
    client,
    job: SamplingJob,
    tiles: dict[str, Bounds],
    ledger: RunLedger,
    store: StoreRows,
    target: ExportTarget = ASSET_EXPORTS,
    rows: TileRows = S2_ROWS,
    **queue: Any,
) -> list[str]:
    """Run ``tiles`` (their ``rows``) as batch table exports through the bounded queue (:func:`run_task_queue`,
    resumable; ``queue``: its keyword options, sleep, wait, progress, overwrite); the descriptions of tiles
    still waiting."""
    check_export_target(client, job.project, target.destination, target.bucket, len(tiles))
    if target.destination == ExportDestination.ASSET:
        assert job.project is not None  # check_export_target refuses an asset export without a project
        client.ensure_folder(samples_folder(job.project))
    batch = SamplingExports(job, tiles, store, target, rows=rows)
    return run_task_queue(client, batch, list(tiles), ledger, target, **queue)


def run_task_queue(
    client,
    batch: ExportBatch,
    units: list[str],
    ledger: RunLedger,
    target: ExportTarget = ASSET_EXPORTS,
    *,
    sleep: Callable[[float], None] = time.sleep,
    wait: bool = True,
    progress: bool = True,
    overwrite: bool = False,
) -> list[str]:
    """Run ``units`` of ``batch`` as batch export tasks through a bounded queue (resumable).

    Each pass starts tasks while fewer than ``target.max_queued`` of the job's tasks are unfinished (a
    full user queue, "Too many tasks already in the queue", waits for the next pass), then reads
    the state of the job's started tasks (``client.poll_tasks``: one ``getOperation`` each, not the
    project's whole ``listOperations``), records its EECU usage and
    times in the ledger and collects the finished ones. Failed tasks are restarted (at most
    MAX_TASK_ATTEMPTS per unit across reruns). Returns the descriptions of units still waiting.
    """
    waiting: list[str] = []
    active = [u for u in units if ledger.entry(u)["state"] != DONE]
    with _progress(len(units), len(units) - len(active), batch.label, progress) as bar:
        while active:
            _start_tasks(client, batch, ledger, active, target.max_queued, overwrite=overwrite)
            started = [ledger.entry(u)["task_id"] for u in active if ledger.entry(u).get("task_id") is not None]
            statuses = client.poll_tasks(started)  # the job's own tasks only, one getOperation each
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
                if not batch.collect(client, ledger, unit):
                    waiting.append(batch.description(unit))
                    continue
                finished += 1
                bar.update(1)
            active = still
            if active and not wait:
                waiting.extend(batch.description(u) for u in active)
                break
            unstarted = any(ledger.entry(u).get("task_id") is None for u in active)
            if active and not (finished and unstarted):
                sleep(target.poll_s)  # no queue slot was freed for a waiting unit: let the tasks run
    return waiting


def _start_tasks(
    client, batch: ExportBatch, ledger: RunLedger, active: list[str], max_queued: int, *, overwrite: bool
) -> int:
    """Start the tasks of ``active`` units that have none (or a failed one) while the queue has room;
    the number started."""
    queued = sum(
        1
        for u in active
        if ledger.entry(u).get("task_id") is not None and ledger.entry(u)["state"] not in (*TERMINAL_BAD, TERMINAL_OK)
    )
    started = 0
    for unit in active:
        entry = ledger.entry(unit)
        if entry.get("task_id") is not None and entry["state"] not in TERMINAL_BAD:
            continue
        if queued >= max_queued:
            break
        attempts = entry.get("attempts", 0)
        if attempts >= MAX_TASK_ATTEMPTS:
            raise EarthEngineError(
                f"export {batch.description(unit)} failed {attempts} times ({entry.get('error', 'no message')}); "
                f"{batch.retry_hint}"
            )
        config = batch.export_config(unit, overwrite or attempts > 0)
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
