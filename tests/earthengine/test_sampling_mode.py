"""Issue 22, finding 10: `sample` ran a 10,000 km² region interactively (3 tiles of 1°), where each tile
must finish as one interactive request within five minutes
(https://developers.google.com/earth-engine/guides/processing_environments). Interactive mode is now chosen
only for tiles whose estimated time fits, and the dry run prints that estimate."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from pyproj import Geod
from shapely.geometry import box, mapping

from gee_crop import cli

#: about 10,000 km² of northern France, spanning three 1-degree tiles (2°-5° E)
FRANCE_10K = box(2.55, 47.10, 4.85, 47.63)
#: a square kilometre inside the shipped patch's country (Belgium), one tile
SMALL = box(4.060, 50.744, 4.074, 50.753)


def _dry_run(tmp_path, region, code, *extra):
    path = tmp_path / f"{code}.geojson"
    path.write_text(json.dumps(mapping(region)), encoding="utf-8")
    return CliRunner().invoke(cli.main, ["sample", "--country", code, "--region", str(path), "--year", "2023",
                                         "--dry-run", "--out", str(tmp_path / f"{code}.parquet"), *extra])


@pytest.fixture(autouse=True)
def no_account_rates(tmp_path, monkeypatch):
    monkeypatch.setenv("GEE_CROP_CONFIG_DIR", str(tmp_path / "config"))


def test_a_10000_km2_region_is_sampled_by_batch_export_not_interactively(tmp_path):
    assert 9_500 < abs(Geod(ellps="WGS84").geometry_area_perimeter(FRANCE_10K)[0]) / 1e6 < 10_500
    result = _dry_run(tmp_path, FRANCE_10K, "FRA")
    assert result.exit_code == 0, result.output
    assert "3 tiles of 1 deg" in result.output, result.output
    assert "export mode" in result.output and "interactive mode" not in result.output, result.output
    assert "does NOT fit the interactive limit of 300 s" in result.output, result.output


def test_asking_for_interactive_mode_on_it_is_refused_with_the_estimate(tmp_path):
    result = _dry_run(tmp_path, FRANCE_10K, "FRA", "--mode", "interactive")
    assert result.exit_code == 1, result.output
    assert "interactive mode cannot finish this job" in result.output and "--mode export" in result.output


def test_a_small_region_stays_interactive_and_says_why(tmp_path):
    result = _dry_run(tmp_path, SMALL, "BEL")
    assert result.exit_code == 0, result.output
    assert "interactive mode" in result.output and "fits the interactive limit" in result.output, result.output


def test_the_doctors_measured_rate_replaces_the_planning_default(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "pilot.json").write_text(json.dumps({"sampling_seconds_per_km2": 500.0}))
    result = _dry_run(tmp_path, SMALL, "BEL")  # ~1 km² at 500 s/km²: too slow to stream
    assert result.exit_code == 0, result.output
    assert "export mode" in result.output and "500 s/km2 (measured by gee-crop doctor" in result.output
