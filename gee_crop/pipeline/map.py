"""The functions behind ``gee-crop map``: one :class:`~gee_crop.mapping.request.MapRequest` in, the model
file read once, the source opened, and the engine (:mod:`gee_crop.mapping.engine`) run or planned with the
request's settings, whole. ``--pilot N`` sends N of the run's own tile requests, profiled, and saves what
they cost for the dry run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gee_crop.atomic import write_json_atomic
from gee_crop.config import SourceKind
from gee_crop.earthengine.pilot import job_or_account_pilot, pilot_file
from gee_crop.errors import InputError
from gee_crop.mapping.engine import MapResult, plan_job, plan_map, run_map
from gee_crop.mapping.estimate import MapEstimate, Rates
from gee_crop.mapping.parcels import checked_parcels, with_parcel_table
from gee_crop.mapping.pilot import PilotMeasurement, measure_pilot
from gee_crop.mapping.request import MapRequest, OnServer
from gee_crop.mapping.server_map import ServerMapResult, plan_server_map, run_server_map
from gee_crop.mapping.server_parcels import server_parcels
from gee_crop.mapping.server_plan import ServerMapPlan
from gee_crop.mapping.sources import EarthEngineSource
from gee_crop.models.io import ModelFile, read_model_file
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
        parcels = checked_parcels(request.parcels, request.settings.region or source.footprint())
        result = run_map(source, read_model_file(request.model), request.out_dir, request.settings, cropland=cropland)
        return result if parcels is None else with_parcel_table(result, parcels, request.min_parcel_pixels)


def plan(request: MapRequest) -> MapEstimate:
    """``gee-crop map --dry-run``: the run :func:`run` would do with the same request, at the rates of the
    output's pilot (else the doctor's, else the defaults); no credentials needed, nothing fetched or written."""
    source, _ = request.source.open(client=_NOT_CONNECTED)
    checked_parcels(request.parcels, request.settings.region or source.footprint())  # as the run refuses them
    return plan_map(
        source, read_model_file(request.model), request.out_dir, request.settings, rates=pilot_rates(request.out_dir)
    )


def pilot(request: MapRequest, client: object | None = None) -> PilotMeasurement:
    """``gee-crop map --pilot N``: :func:`~gee_crop.mapping.pilot.measure_pilot` on the run's own plan, saved
    to ``<out>.pilot/pilot.json`` for ``--dry-run``. ``client``: the Earth Engine client (None: connect)."""
    assert request.pilot is not None, "pilot() is called for --pilot N"
    if request.source.kind != SourceKind.EARTHENGINE:
        raise InputError("--pilot measures Earth Engine requests; map a --region (or --bbox) on Earth Engine")
    source, _ = request.source.open(client=client)
    model = read_model_file(request.model)
    job = plan_job(source, model, request.settings)
    saved = pilot_file(request.out_dir)
    with claim_output(saved, folder=False, overwrite=True):
        measured = measure_pilot(source, model, job, request.settings, request.pilot)
        write_json_atomic(saved, measured.to_dict(), indent=2)
    return dataclasses.replace(measured, file=saved)


def _on_server(request: MapRequest, client: object | None) -> tuple[OnServer, EarthEngineSource, ModelFile]:
    if request.on_server is None or request.source.kind != SourceKind.EARTHENGINE:
        raise InputError("--on-server maps on Earth Engine: give --country, --region or --bbox, not --source")
    source, _ = request.source.open(client=client)
    assert isinstance(source, EarthEngineSource)  # an Earth Engine request opens the Earth Engine source
    return request.on_server, source, read_model_file(request.model)


def plan_on_server(request: MapRequest) -> ServerMapPlan:
    """``gee-crop map --on-server --dry-run``: the export tasks, EECU and bytes home; no credentials needed."""
    on_server, source, model = _on_server(request, _NOT_CONNECTED)
    server_parcels(request.parcels, request.settings.region)  # as the run refuses them
    return plan_server_map(source, model, request.settings, request.out_dir, on_server, pilot_rates(request.out_dir))


def run_on_server(request: MapRequest, client: object | None = None) -> ServerMapResult:
    """``gee-crop map --on-server``: the batch export tasks (resumable), then the download unless
    ``--keep-on-server``; with ``--parcels``, their table too. ``client``: the Earth Engine client (None: connect)."""
    with claim_output(request.out_dir, folder=True, overwrite=request.settings.overwrite, resumes=True):
        parcels = server_parcels(request.parcels, request.settings.region, request.min_parcel_pixels)
        on_server, source, model = _on_server(request, client)
        return run_server_map(
            source.client, source, model, request.out_dir, request.settings, on_server, parcels=parcels
        )


def map_command(request: MapRequest) -> MapResult | MapEstimate | ServerMapPlan | ServerMapResult:
    """The plan of ``request`` with ``dry_run``, else its run (on the server with ``on_server``)."""
    if request.on_server is not None:
        return plan_on_server(request) if request.dry_run else run_on_server(request)
    return plan(request) if request.dry_run else run(request)
