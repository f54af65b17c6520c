"""`gee-crop sample`: a sample table from a local stack, from exported CSVs, or from an Earth Engine job
that resumes. Every path takes the command's one :class:`SamplingRequest`; the Earth Engine paths (the
run here, ``--pilot`` and ``--dry-run`` in :mod:`gee_crop.pipeline.pilot`) plan their job with
:func:`plan`, so they run the same job. The task queue is :mod:`gee_crop.earthengine.tasks`'s, the
checks and the table :mod:`gee_crop.data.sample_jobs`'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gee_crop.data.emit_table import emit_table_path
from gee_crop.data.regions import read_region
from gee_crop.data.sample_jobs import (
    assemble,
    assemble_emit,
    exports_table,
    local_table,
    plan_job,
    store_emit_part,
    store_part,
)
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.data.table import write_table
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.emit import season_months
from gee_crop.earthengine.pilot import account_interactive_estimate
from gee_crop.earthengine.sampling import S2_ROWS, SamplingJob, TileRows, medians_rows
from gee_crop.earthengine.tasks import SamplingResult, StoreRows, run_tiles
from gee_crop.errors import InputError
from gee_crop.features.seasons import default_season, season_note
from gee_crop.ledger import RunLedger
from gee_crop.outputs import claim_output
from gee_crop.pipeline.defaults import sample_out_name, sampling_place


@dataclass(frozen=True)
class SamplingPlan:
    """The job a request describes, the table it writes and how its season was chosen."""

    job: SamplingJob
    out: str
    note: str


def plan(request: SamplingRequest) -> SamplingPlan:
    """The one planning of an Earth Engine request: its region file read (once), the season year and
    the output name chosen when not given, every input checked; no server call."""
    region = read_region(request.region) if request.region is not None else None
    if request.country is None and region is None:  # own labels alone: their extent is the place
        job = plan_job(request, request.season.year, None)
        note = season_note(job.year, job.geometry.centroid.y, given=True)
        return SamplingPlan(job, request.run.out or sample_out_name(job.name, job.year), note)
    name, latitude = sampling_place(request.country, request.region, region)
    year, note = default_season(request.season.year, latitude)
    return SamplingPlan(plan_job(request, year, region), request.run.out or sample_out_name(name, year), note)


def connect(request: SamplingRequest, job: SamplingJob):
    """The Earth Engine client of ``request``; the job's project becomes the client's when none was given."""
    connection = request.connection
    client = ee_client.get_client(project=connection.project, service_account_key=connection.service_account_key)
    job.project = job.project or getattr(client, "project", None)
    return client


def out_table(out: str | Path | None) -> Path:
    """``out`` as a Path; InputError when there is none."""
    if out is None:
        raise InputError("give --out FILE.parquet: the sample table to write")
    return Path(out)


def sample(request: SamplingRequest, echo: Callable[[str], None] = print) -> str:
    """Run the sampling ``request`` describes; a one-paragraph summary for the terminal (an Earth
    Engine job first ``echo``-es what it samples, its season and its output)."""
    if request.source is not None:
        out = out_table(request.run.out)
        with claim_output(out, folder=False, overwrite=request.run.overwrite):  # locked; refused if it exists
            series = local_table(request)
            write_table(series, out)
        counts = {c: int((series.crop_class == c).sum()) for c in series.classes}
        listed = ", ".join(f"{c} {n}" for c, n in counts.items() if n)
        return f"wrote {len(series)} samples ({listed}) from {request.source} to {out}"
    planned = plan(request)
    job = planned.job
    out = out_table(planned.out)
    emit_out = emit_table_path(out, job.medians) if job.medians is not None else None
    echo(f"sampling {job.name}, {planned.note}; writing {planned.out}" + (f" and {emit_out}" if emit_out else ""))
    # the tables are refused if they exist; their parts (OUT.parts/, the locks cover them) resume
    with contextlib.ExitStack() as claims:
        for table in (out, emit_out):
            if table is not None:
                claims.enter_context(claim_output(table, folder=False, overwrite=request.run.overwrite))
        return _run_job(request, planned, out, emit_out)


def _run_job(request: SamplingRequest, planned: SamplingPlan, out: Path, emit_out: Path | None) -> str:
    job = planned.job
    client = connect(request, job)

    def run(rows: TileRows, table: Path, store: StoreRows) -> tuple[SamplingResult, RunLedger]:
        return run_tiles(
            client,
            job,
            table,
            store,
            mode=request.tasks.mode,
            target=request.tasks.target,
            overwrite=request.run.overwrite,
            wait=not request.tasks.no_wait,
            estimate=account_interactive_estimate(job),
            rows=rows,
        )

    result, ledger = run(S2_ROWS, out, store_part)
    medians = job.medians
    emit = None
    if medians is not None and emit_out is not None and not result.pending_tasks:
        emit = run(medians_rows(medians), emit_out, store_emit_part)
    head = (
        f"{job.name} {job.year} ({job.hemisphere}, window {job.window[0]}..{job.window[1]}): "
        f"{result.tiles_done}/{result.n_tiles} tiles done in {result.mode} mode, "
        f"{result.requests} Earth Engine requests"
    )
    if result.pending_tasks:
        return f"{head}; {result.message}"
    label = medians.label if medians is not None else ""
    if emit is not None and emit[0].pending_tasks:
        return f"{head}; {label}: {emit[0].message}"
    n_samples = assemble(ledger, result.units, out, job.season, job.year)
    done = f"{head}; wrote {n_samples} samples to {out}"
    if emit is None or emit_out is None:
        return done
    n_emit = assemble_emit(emit[1], emit[0].units, emit_out, job)
    months = " and ".join(f"{job.year}-{m:02d}" for m in season_months(job.hemisphere))
    if not n_emit:
        return f"{done}; {label}: no sample is clear in every month of {months}, so no {label} table was written"
    return f"{done}; {label}: {n_emit} of them clear in every month of {months}, written to {emit_out}"


def table_from_exports(request: SamplingRequest) -> str:
    """`gee-crop sample --from-exports FOLDER`: the table of CSVs already exported (e.g. by
    ``ee_scripts/sample.js``); no Earth Engine request, no new task."""
    folder = request.run.from_exports
    assert folder is not None  # only called for --from-exports
    out = out_table(request.run.out)
    with claim_output(out, folder=False, overwrite=request.run.overwrite):
        table, n_files = exports_table(folder, request.rules.cloud_band.value)
        write_table(table, out)
    return f"wrote {len(table)} samples from {n_files} exported CSV files in {folder} to {out}"
