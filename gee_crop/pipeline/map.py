"""The functions behind ``gee-crop map``: one :class:`~gee_crop.mapping.request.MapRequest` in, the model
file read once, the source opened, and the engine (:mod:`gee_crop.mapping.engine`) run or planned with the
request's settings, whole."""

from __future__ import annotations

from pathlib import Path

from gee_crop.earthengine.pilot import PILOT_FILE, PILOT_SUFFIX
from gee_crop.mapping.engine import MapResult, plan_map, run_map
from gee_crop.mapping.estimate import MapEstimate, Rates
from gee_crop.mapping.request import MapRequest
from gee_crop.models.io import ModelFile
from gee_crop.outputs import claim_output

#: the Earth Engine client of a dry run: planning sends no request, so it needs no credentials.
_NOT_CONNECTED = object()


def pilot_rates(out_dir: Path) -> Rates | None:
    """The rates a pilot measured for ``out_dir`` (``<out_dir>.pilot/pilot.json``), if one did."""
    pilot_file = out_dir.with_name(out_dir.name + PILOT_SUFFIX) / PILOT_FILE
    return Rates.from_pilot(pilot_file) if pilot_file.is_file() else None


def run(request: MapRequest) -> MapResult:
    """``gee-crop map``: open the source the request names and map with its settings, holding the output
    folder's lock (``gee_crop.outputs``); the engine resumes finished tiles or refuses a finished map."""
    with claim_output(request.out_dir, folder=True, overwrite=request.settings.overwrite, resumes=True):
        source, cropland = request.source.open()
        return run_map(source, ModelFile.read(request.model), request.out_dir, request.settings, cropland=cropland)


def plan(request: MapRequest) -> MapEstimate:
    """``gee-crop map --dry-run``: the run :func:`run` would do with the same request, at the rates of the
    output's pilot (else the defaults); no credentials needed, nothing fetched or written."""
    source, _ = request.source.open(client=_NOT_CONNECTED)
    return plan_map(
        source, ModelFile.read(request.model), request.out_dir, request.settings, rates=pilot_rates(request.out_dir)
    )


def map_command(request: MapRequest) -> MapResult | MapEstimate:
    """The plan of ``request`` with ``dry_run``, else its run."""
    return plan(request) if request.dry_run else run(request)
