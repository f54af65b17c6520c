"""What ``gee-crop doctor`` asks of Earth Engine and in which order (each check's own logic:
:mod:`gee_crop.earthengine.doctor`), at the shipped demo patch (Flanders, 2019), where Sentinel-2 and the
reference labels exist: one request through the project, a folder created and deleted under the asset
root, one tiny sampling request and one 64 x 64 ``computePixels`` map request (each profiled: EECU-seconds
and seconds) and ``check-parity`` on a few points. The measured rates go to the account's pilot file
(:func:`gee_crop.earthengine.pilot.account_pilot_file`), which ``map --dry-run`` and ``sample --dry-run``
read when a job has no pilot of its own. Mapping is the lowest room that has both probes' code (the map
request's source, the sampling graph); ``check-parity`` is the caller's (pipeline)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from shapely import geometry as sg

from gee_crop.atomic import write_json_atomic
from gee_crop.classes import CLASSES, Legend
from gee_crop.data.demo import demo_patch, patch_footprint
from gee_crop.earthengine import doctor as checks
from gee_crop.earthengine.client import StoredCredentials
from gee_crop.earthengine.pilot import account_pilot_file
from gee_crop.earthengine.sampling import OwnLabels, SamplingJob, tile_graph
from gee_crop.earthengine.tasks import tile_area_km2
from gee_crop.errors import EarthEngineError
from gee_crop.features.parity import ParityReport
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.sources import CompositeRequest, EarthEngineSource
from gee_crop.mapping.tiling import Tile, stack_grid
from gee_crop.season import SeasonSpan

#: where and when the probes run: the demo patch's season (Sentinel-2 L2A and labels exist there)
PROBE_YEAR = 2019
#: the map request: one tile of 64 x 64 px of the patch's own 10 m UTM grid
PROBE_TILE = 64
PARITY_POINTS = 20
DOCTOR_JSON = "doctor.json"


@dataclass(frozen=True)
class DoctorRequest:
    """One ``gee-crop doctor`` command."""

    out: Path
    project: str | None = None
    service_account_key: Path | None = None
    points: int = PARITY_POINTS
    overwrite: bool = False


@dataclass
class DoctorReport:
    checks: list[checks.Check]
    rates: dict[str, float] = field(default_factory=dict)
    rates_file: Path | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        lines = checks.table(self.checks)
        if self.rates_file is not None:
            lines.append(f"measured rates saved to {self.rates_file} (read by map --dry-run and sample --dry-run)")
        return lines

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checks": [c.to_dict() for c in self.checks], "rates": self.rates}


def probe_season(spec: FeatureSpec) -> SeasonSpan:
    """The season of the probes: ``spec``'s at the demo patch in :data:`PROBE_YEAR`."""
    return spec.season.span_at(PROBE_YEAR, patch_footprint(demo_patch()).centroid.y)


def probe_labels(area: shapely.Geometry) -> OwnLabels:
    """Inline labels of the probe: the patch area as one "other" polygon, so the sampling request needs no
    label asset of the account (the own-label route of ``gee-crop sample --labels``)."""
    legend = Legend({"other": "other"}, source="gee-crop doctor", by_name=True)
    return OwnLabels("gee-crop doctor", legend, "class", np.array([area]), np.array([CLASSES.index("other")]))


def sampling_request(client, project: str | None) -> dict:
    """One computeFeatures of the sampling graph of one tile: the patch area, its own inline labels."""
    area = patch_footprint(demo_patch())
    job = SamplingJob(
        "doctor",
        None,
        area,
        PROBE_YEAR,
        per_cell=5,
        project=project,
        from_country=False,
        own_labels=probe_labels(area),
    )
    rows = client.compute_features(tile_graph(job, 0, area.bounds))
    return {"rows": len(rows), "km2": tile_area_km2(job, area.bounds)}


def map_request(client, spec: FeatureSpec) -> dict:
    """One computePixels of the map's composite: a tile of :data:`PROBE_TILE` px of the patch's grid."""
    grid = stack_grid(demo_patch())
    tile = Tile(0, 0, min(PROBE_TILE, grid.height), min(PROBE_TILE, grid.width))
    composite = EarthEngineSource(client).read_tile(
        tile, CompositeRequest(grid, spec, probe_season(spec), shapely.box(*tile.bounds(grid)))
    )
    return {"bytes": composite.bytes_fetched, "pixels": tile.n_pixels}


def parity_check(client, out: Path, points: int, check_parity: Callable[..., ParityReport]) -> checks.Check:
    """``check_parity`` (the ``check-parity`` command's function) on ``points`` points of the patch."""
    region = out / "doctor-region.geojson"
    region.write_text(json.dumps(sg.mapping(patch_footprint(demo_patch()))), encoding="utf-8")
    try:
        report = check_parity(client, region, year=PROBE_YEAR, n_points=points)
    except EarthEngineError as exc:
        return checks.Check("parity", checks.FAIL, str(exc), "rerun `gee-crop doctor`; if it fails again, report it")
    detail = f"{report.n_compared} of {report.n_points} points compared, {report.n_differing} differ"
    if report.agree:
        return checks.Check("parity", checks.PASS, detail, measured={"n_compared": report.n_compared})
    return checks.Check(
        "parity",
        checks.FAIL,
        f"{detail}: {report.summary().splitlines()[0]}",
        "the server's composites differ from training's: run `gee-crop check-parity --points 100` on your region "
        "and report its output",
    )


def run_checks(
    client,
    stored: StoredCredentials,
    project: str | None,
    request: DoctorRequest,
    check_parity: Callable[..., ParityReport],
) -> DoctorReport:
    """Run the checks in order (a failed step skips those that need it); save the measured rates to the
    account's pilot file.
    ``request.out`` must be claimed by the caller: the parity region is written there."""
    spec = FeatureSpec()
    found: list[checks.Check] = [checks.credentials_check(stored, project)]
    role = checks.role_check(client, project)
    found.append(role)
    names = ("asset root", "sampling request", "map request", "parity")
    if not role.ok:
        found += [checks.skipped(n, "needs the project role") for n in names]
    else:
        found.append(checks.asset_root_check(client, project))
        found.append(
            checks.probe(client, "sampling request", lambda: sampling_request(client, project), "see the message")
        )
        found.append(checks.probe(client, "map request", lambda: map_request(client, spec), "see the message"))
        found.append(parity_check(client, request.out, request.points, check_parity))
    report = DoctorReport(found, checks.measured_rates(found, PROBE_TILE * PROBE_TILE))
    if report.rates:
        report.rates_file = account_pilot_file()
        write_json_atomic(report.rates_file, {**report.rates, "source": "gee-crop doctor"}, indent=2)
    return report
