"""What a sampling job will cost: N tiles run for real and measured (``sample --pilot N``), and the
estimate of ``sample --dry-run`` at the rates they measured.

A country is hundreds to thousands of batch tasks. Before starting them, the pilot runs N tiles
spread over the job's area as batch exports (the same graphs and tasks as the full run), reads what
each cost from the task list (EECU-seconds, start and end times) and the size of what it wrote, and
extrapolates to every tile of the job, against the batch quotas
(https://developers.google.com/earth-engine/guides/usage): about 2 tasks run at once, 3,000 may
wait in a user's queue, a project holds 10,000 assets and 250 GB. EECU-hours are what noncommercial
tiers and paid plans count (https://developers.google.com/earth-engine/guides/noncommercial_tiers).
The numbers are written to ``<out>.pilot/pilot.json`` for ``--dry-run`` estimates. The pilot's tiles are
those of the full run (same graphs, same asset ids): the full run imports them from ``<out>.pilot/``
instead of exporting and paying for them again (``tasks.import_pilot``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gee_crop.atomic import write_json_atomic
from gee_crop.config import ExportDestination, SamplingMode
from gee_crop.earthengine.emit import plan_line as medians_plan_line
from gee_crop.earthengine.sampling import SamplingJob, export_names, job_tiles
from gee_crop.earthengine.tasks import (
    ASSET_EXPORTS,
    CONCURRENT_TASKS,
    LEDGER_NAME,
    MAX_ASSETS,
    MAX_QUEUED_TASKS,
    PARTS_SUFFIX,
    PILOT_SUFFIX,
    USER_QUEUE_LIMIT,
    ExportTarget,
    InteractiveEstimate,
    StoreRows,
    check_job_labels,
    check_tile_requests,
    choose_mode,
    interactive_estimate,
    run_exports,
)
from gee_crop.errors import InputError
from gee_crop.ledger import DONE, RunLedger

PILOT_FILE = "pilot.json"
ASSET_STORAGE_BYTES = 250e9


def pilot_tiles(n_tiles: int, n: int) -> list[int]:
    """``n`` tile indices spread evenly over ``n_tiles`` (tiles are ordered south to north, west to
    east, so even spacing samples the whole area)."""
    if n < 1:
        raise InputError(f"--pilot {n} must be at least 1 (3 to 5 tiles give a usable estimate)")
    return sorted({round(i) for i in np.linspace(0, n_tiles - 1, min(n, n_tiles))})


def pilot_file(out: str | os.PathLike) -> Path:
    """Where the pilot of the job writing ``out`` keeps its numbers."""
    return Path(out).with_name(Path(out).name + PILOT_SUFFIX) / PILOT_FILE


#: the folder of the account's own pilot file (``gee-crop doctor``'s measured rates); default ~/.config/gee-crop
CONFIG_ENV = "GEE_CROP_CONFIG_DIR"


def account_pilot_file() -> Path:
    """The pilot file ``gee-crop doctor`` writes its measured rates to: read by ``map --dry-run`` and
    ``sample --dry-run`` when the job has no pilot of its own (``$GEE_CROP_CONFIG_DIR``, else
    ``$XDG_CONFIG_HOME/gee-crop``, else ``~/.config/gee-crop``)."""
    folder = (
        os.environ.get(CONFIG_ENV) or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "gee-crop"
    )
    return Path(folder) / PILOT_FILE


def account_interactive_estimate(job: SamplingJob) -> InteractiveEstimate:
    """The interactive time of the job's largest tile at the rate ``gee-crop doctor`` measured for the account
    (``sampling_seconds_per_km2`` of :func:`account_pilot_file`), else at the planning default."""
    measured = account_pilot_file()
    rate = None
    if measured.is_file():
        rate = json.loads(measured.read_text(encoding="utf-8")).get("sampling_seconds_per_km2")
    return interactive_estimate(job, rate, f"measured by gee-crop doctor, {measured}")


def job_or_account_pilot(out: str | os.PathLike) -> Path | None:
    """The job's own pilot file when a pilot ran, else the account's (doctor's) when it exists, else None."""
    return next((p for p in (pilot_file(out), account_pilot_file()) if p.is_file()), None)


@dataclass
class PilotEstimate:
    """Measured per-tile costs of the pilot tiles and their extrapolation to the whole job."""

    job: str
    tiles_measured: int
    tiles_in_job: int
    eecu_hours_per_tile: float
    task_minutes_per_tile: float
    bytes_per_tile: float | None
    samples_per_tile: float
    job_eecu_hours: float
    job_task_hours: float
    job_wall_hours_at_2_tasks: float
    job_bytes: float | None
    job_tasks: int

    def lines(self) -> list[str]:
        size = f"{self.bytes_per_tile / 1e6:.2f} MB" if self.bytes_per_tile is not None else "n/a (CSV exports)"
        total = (
            f"{self.job_bytes / 1e9:.2f} GB of the {ASSET_STORAGE_BYTES / 1e9:.0f} GB asset storage"
            if self.job_bytes is not None
            else "n/a"
        )
        return [
            f"pilot of {self.job}: {self.tiles_measured} of {self.tiles_in_job} tiles measured",
            f"per tile: {self.eecu_hours_per_tile:.4f} EECU-hours, {self.task_minutes_per_tile:.1f} min of task "
            f"time, {size}, {self.samples_per_tile:.0f} samples",
            f"whole job: {self.job_eecu_hours:.2f} EECU-hours, {self.job_task_hours:.1f} task-hours "
            f"(~{self.job_wall_hours_at_2_tasks:.1f} h at {CONCURRENT_TASKS} concurrent tasks), {total}",
            f"{self.job_tasks} tasks: {'within' if self.job_tasks <= USER_QUEUE_LIMIT else 'above'} the "
            f"{USER_QUEUE_LIMIT:,}-task queue (gee-crop queues them in bounded batches), "
            f"{'within' if self.job_tasks <= MAX_ASSETS else 'ABOVE'} the {MAX_ASSETS:,} assets of a project",
        ]


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def estimate(
    job: SamplingJob, ledger: RunLedger, units: list[str], n_tiles: int, sizes: dict[str, float]
) -> PilotEstimate:
    """Per-tile means of the pilot's ledger entries, scaled to ``n_tiles``."""
    entries = [ledger.entry(u) for u in units]
    eecu_h = [e.get("batch_eecu_usage_seconds", 0.0) / 3600 for e in entries]
    minutes = [
        (e["update_timestamp_ms"] - e["start_timestamp_ms"]) / 60_000
        for e in entries
        if e.get("update_timestamp_ms") and e.get("start_timestamp_ms")
    ]
    size = _mean(list(sizes.values())) if sizes else None
    per_tile_min = _mean(minutes)
    return PilotEstimate(
        job=f"{job.name} {job.year}",
        tiles_measured=len(units),
        tiles_in_job=n_tiles,
        eecu_hours_per_tile=_mean(eecu_h),
        task_minutes_per_tile=per_tile_min,
        bytes_per_tile=size,
        samples_per_tile=_mean([e.get("samples", 0) for e in entries]),
        job_eecu_hours=_mean(eecu_h) * n_tiles,
        job_task_hours=per_tile_min * n_tiles / 60,
        job_wall_hours_at_2_tasks=per_tile_min * n_tiles / 60 / CONCURRENT_TASKS,
        job_bytes=size * n_tiles if size is not None else None,
        job_tasks=n_tiles,
    )


def run_pilot(
    client,
    job: SamplingJob,
    out: str | os.PathLike,
    n: int,
    store: StoreRows,
    *,
    target: ExportTarget = ASSET_EXPORTS,
    overwrite: bool = False,
    sleep: Callable[[float], None] | None = None,
    progress: bool = True,
) -> PilotEstimate:
    """Export ``n`` tiles of ``job`` (state in ``<out>.pilot/``), wait for them, return the estimate
    (also written to :func:`pilot_file`)."""
    poll_sleep: Callable[[float], None] = sleep if sleep is not None else getattr(client, "sleep", time.sleep)
    tiles = job_tiles(job)
    chosen = {str(k): tiles[str(k)] for k in pilot_tiles(len(tiles), n)}
    check_job_labels(client, job)
    check_tile_requests(job, chosen)
    saved = pilot_file(out)
    settings = {
        **job.fingerprint(),
        "mode": "pilot",
        "export_to": str(target.destination),
        "pilot_tiles": sorted(chosen),
    }
    ledger = RunLedger.open(saved.parent / LEDGER_NAME, settings, units="tiles", overwrite=overwrite)
    ledger.register(chosen)
    ledger.done(chosen)
    run_exports(client, job, chosen, ledger, store, target, sleep=poll_sleep, progress=progress, overwrite=overwrite)
    sizes = {}
    if target.destination == ExportDestination.ASSET:
        for unit in chosen:
            info = client.get_asset(export_names(job, int(unit))[1]) or {}
            if info.get("sizeBytes") is not None:
                sizes[unit] = float(info["sizeBytes"])
    result = estimate(job, ledger, list(chosen), len(tiles), sizes)
    write_json_atomic(saved, asdict(result), indent=2)
    return result


def dry_run_lines(job: SamplingJob, out: str | os.PathLike, mode: str = SamplingMode.AUTO) -> list[str]:
    """What a run of ``job`` into ``out`` would do: its tiles, how it would run them (interactive
    requests or batch tasks, as :func:`~gee_crop.earthengine.tasks.run_tiles` chooses) and, from the
    :func:`pilot_file` when a pilot measured them, its EECU-hours, hours and bytes. Reads the run's
    ledger and pilot file only: no server call, nothing written."""
    tiles = job_tiles(job)
    estimate = account_interactive_estimate(job)
    chosen = choose_mode(mode, len(tiles), estimate)
    manifest = Path(out).with_name(Path(out).name + PARTS_SUFFIX) / LEDGER_NAME
    done = 0
    if manifest.is_file():
        entries = json.loads(manifest.read_text(encoding="utf-8")).get("tiles", {})
        done = sum(entries.get(unit, {}).get("state") == DONE for unit in tiles)
    todo = len(tiles) - done
    how = (
        f"{todo} batch export tasks (at most {MAX_QUEUED_TASKS} queued at once, ~{CONCURRENT_TASKS} run at once)"
        if chosen == SamplingMode.EXPORT
        else f"{todo} interactive computeFeatures requests (one per tile, more for long pages)"
    )
    lines = [
        f"dry run: {job.name} {job.year}: {len(tiles)} tiles of {job.tile_deg:g} deg ({done} already done), "
        f"{chosen.value} mode: {how}",
        estimate.line(),
        *([medians_plan_line(job.year, job.hemisphere, len(tiles), job.medians)] if job.medians else []),
    ]
    measured_at = pilot_file(out)
    if measured_at.is_file():
        measured = json.loads(measured_at.read_text(encoding="utf-8"))
        per_tile_h = measured["task_minutes_per_tile"] / 60
        size = measured.get("bytes_per_tile")
        lines.append(
            f"at the pilot's rates ({measured_at}): {measured['eecu_hours_per_tile'] * todo:.2f} EECU-hours, "
            f"{per_tile_h * todo:.1f} task-hours (~{per_tile_h * todo / CONCURRENT_TASKS:.1f} h at "
            f"{CONCURRENT_TASKS} concurrent tasks)"
            + (f", {size * todo / 1e9:.2f} GB of assets" if size is not None else "")
        )
    else:
        lines.append(
            f"no pilot measured this job yet: `--pilot 4` with the same options runs 4 tiles for real "
            f"and saves their rates to {measured_at} for this estimate"
        )
    return lines
