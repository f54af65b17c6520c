"""``gee-crop map --pilot N`` fetches N of the run's own tiles on the service double (the shipped patch behind
computePixels, a synthetic profiler), saves seconds per request, bytes per second and EECU per tile, and
``--dry-run`` then prints the job's EECU-hours and the noncommercial tier it needs."""
from __future__ import annotations

import dataclasses
import json

import pytest
from shapely.geometry import box

from gee_crop.config import SourceKind
from gee_crop.mapping.engine import plan_job
from gee_crop.mapping.request import MapRequest, MapSettings, SourceRequest
from gee_crop.mapping.sources import EarthEngineSource
from gee_crop.models.io import ModelFile
from gee_crop.pipeline import map as map_pipeline
from gee_crop.testing.doctor_double import offline_double

#: lon/lat box inside the shipped patch (4.0585-4.0677 E, 50.7431-50.7489 N)
INSIDE_PATCH = (4.0590, 50.7435, 4.0670, 50.7485)


@pytest.fixture
def request_and_double(tmp_path, tiny_onnx, contract, season_2019, monkeypatch):
    monkeypatch.setenv("GEE_CROP_CONFIG_DIR", str(tmp_path / "config"))  # no account pilot file
    double = offline_double(contract, season_2019, "my-proj")
    request = MapRequest(
        model=tiny_onnx, out_dir=tmp_path / "map",
        source=SourceRequest(SourceKind.EARTHENGINE, encoding="uint16"),
        settings=MapSettings(region=box(*INSIDE_PATCH), year=2019, crs="EPSG:32631", tile_size=16, progress=False),
        pilot=3,
    )
    return request, double


def test_the_pilot_fetches_the_runs_own_tiles_and_the_dry_run_prices_them(request_and_double):
    request, double = request_and_double
    result = map_pipeline.pilot(request, client=double)
    job = plan_job(EarthEngineSource(double, encoding="uint16"), ModelFile.read(request.model), request.settings)
    sent = [r["grid"] for r in double.patch_pixels.requests]
    assert len(sent) == 3 and all(g in [t.ee_grid(job.grid) for t in job.tiles] for g in sent)
    saved = json.loads((request.out_dir.parent / "map.pilot" / "pilot.json").read_text())
    assert saved["tiles_measured"] == 3 and saved["tiles_in_job"] == len(job.tiles) > 3
    assert saved["seconds_per_request"] > 0 and saved["bytes_per_second"] > 0 and saved["eecu_seconds_per_tile"] > 0
    pixels = sum(g["dimensions"]["width"] * g["dimensions"]["height"] for g in sent)
    assert saved["eecu_seconds_per_pixel"] == pytest.approx(3 * saved["eecu_seconds_per_tile"] / pixels)
    assert str(result.file).endswith("pilot.json") and not request.out_dir.exists()  # nothing written to OUT

    estimate = map_pipeline.plan(dataclasses.replace(request, dry_run=True, pilot=None))
    assert estimate.rates.source.endswith("map.pilot/pilot.json")
    assert estimate.eecu_hours == pytest.approx(saved["eecu_seconds_per_pixel"] * estimate.requested_pixels / 3600)
    assert estimate.requested_pixels == sum(t.n_pixels for t in job.tiles)
    compute = next(line for line in estimate.lines() if line.startswith("Earth Engine compute"))
    assert "EECU-hours" in compute and "Community Tier" in compute and "noncommercial_tiers" in compute


def test_without_a_pilot_the_dry_run_says_the_eecu_hours_are_not_measured(request_and_double):
    request, _ = request_and_double
    estimate = map_pipeline.plan(dataclasses.replace(request, dry_run=True, pilot=None))
    assert estimate.eecu_hours is None
    assert any("EECU-hours not measured yet: `gee-crop map --pilot 3`" in line for line in estimate.lines())
