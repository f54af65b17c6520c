"""The functions behind ``gee-crop map``: one :class:`~gee_crop.mapping.request.MapRequest` in, the model
file read once, the source opened, and the engine (:mod:`gee_crop.mapping.engine`) run or planned with the
request's settings, whole. ``--pilot N`` sends N of the run's own tile requests, profiled, and saves what
they cost for the dry run."""

from __future__ import annotations

import statistics
from pathlib import Path

from gee_crop.atomic import write_json_atomic
from gee_crop.config import SourceKind
from gee_crop.earthengine.pilot import job_or_account_pilot, pilot_file, pilot_tiles
from gee_crop.errors import InputError
from gee_crop.mapping.engine import MapResult, measure_inference_rate, plan_job, plan_map, run_map
from gee_crop.mapping.estimate import MapEstimate, Rates
from gee_crop.mapping.request import MapRequest
from gee_crop.mapping.sources import CompositeRequest
from gee_crop.models.io import ModelFile
from gee_crop.outputs import claim_output

#: the Earth Engine client of a dry run: planning sends no request, so it needs no credentials.
_NOT_CONNECTED = object()


def pilot_rates(out_dir: Path) -> Rates | None:
    """The rates a pilot measured for ``out_dir`` (``<out_dir>.pilot/pilot.json``), else those ``gee-crop
    doctor`` measured for the account, else None."""
    found = job_or_account_pilot(out_dir)
    return Rates.from_pilot(found) if found is not None else None


def run(request: MapRequest) -> MapResult:
    """``gee-crop map``: open the source the request names and map with its settings, holding the output
    folder's lock (``gee_crop.outputs``); the engine resumes finished tiles or refuses a finished map."""
    with claim_output(request.out_dir, folder=True, overwrite=request.settings.overwrite, resumes=True):
        source, cropland = request.source.open()
        return run_map(source, ModelFile.read(request.model), request.out_dir, request.settings, cropland=cropland)


def plan(request: MapRequest) -> MapEstimate:
    """``gee-crop map --dry-run``: the run :func:`run` would do with the same request, at the rates of the
    output's pilot (else the doctor's, else the defaults); no credentials needed, nothing fetched or written."""
    source, _ = request.source.open(client=_NOT_CONNECTED)
    return plan_map(
        source, ModelFile.read(request.model), request.out_dir, request.settings, rates=pilot_rates(request.out_dir)
    )


def pilot(request: MapRequest, client: object | None = None) -> dict:
    """``gee-crop map --pilot N``: N tiles spread over the run's own plan (:func:`plan_job`, the tiles the run
    and its dry run have), each fetched with the run's own composite request under the profiler; their
    seconds per request, bytes per second and EECU per tile (and per pixel) go to ``<out>.pilot/pilot.json``,
    which ``--dry-run`` then prices the job with. ``client``: the Earth Engine client (None: connect)."""
    n = request.pilot
    assert n is not None, "pilot() is called for --pilot N"
    if request.source.kind != SourceKind.EARTHENGINE:
        raise InputError("--pilot measures Earth Engine requests; map a --region (or --bbox) on Earth Engine")
    source, _ = request.source.open(client=client)
    model = ModelFile.read(request.model)
    job = plan_job(source, model, request.settings)
    composite = CompositeRequest(job.grid, job.spec, job.season, job.region_grid)
    saved = pilot_file(request.out_dir)
    tiles = [job.tiles[i] for i in pilot_tiles(len(job.tiles), n)]
    measured = []
    with claim_output(saved, folder=False, overwrite=True):
        for tile in tiles:
            with source.client.profiling() as profile:  # type: ignore[attr-defined]
                fetched = source.read_tile(tile, composite)
            measured.append((tile.n_pixels, fetched.bytes_fetched, profile.seconds, profile.eecu_seconds))
        pixels = sum(m[0] for m in measured)
        seconds = [m[2] for m in measured]
        eecu = [m[3] for m in measured if m[3] is not None]
        result = {
            "tiles_measured": len(measured),
            "tiles_in_job": len(job.tiles),
            "seconds_per_request": statistics.median(seconds),
            "bytes_per_second": sum(m[1] for m in measured) / max(sum(seconds), 1e-9),
            "eecu_seconds_per_tile": statistics.fmean(eecu) if eecu else None,
            "eecu_seconds_per_pixel": sum(eecu) / pixels if eecu and len(eecu) == len(measured) else None,
            "local_pixels_per_second": measure_inference_rate(
                model, job.spec, request.settings.precision, list(request.settings.providers) or None
            ),
            "tile_size": job.tile_size,
        }
        write_json_atomic(saved, result, indent=2)
    return {**result, "file": str(saved)}


def pilot_lines(result: dict) -> list[str]:
    """What ``map --pilot`` prints."""
    eecu = result["eecu_seconds_per_tile"]
    return [
        f"pilot: {result['tiles_measured']} of {result['tiles_in_job']} tiles fetched and profiled: "
        f"{result['seconds_per_request']:.2f} s per request, {result['bytes_per_second'] / 1e6:.2f} MB/s, "
        + (f"{eecu:.2f} EECU-s per tile" if eecu is not None else "no EECU profile returned"),
        f"rates saved to {result['file']}; `--dry-run` with the same options now prices the whole map with them",
    ]


def map_command(request: MapRequest) -> MapResult | MapEstimate:
    """The plan of ``request`` with ``dry_run``, else its run."""
    return plan(request) if request.dry_run else run(request)
