"""`gee-crop check-parity` end to end against the fake client backed by the real Earth Engine patch.

The fake reproduces a known service behaviour: overlapping Sentinel-2 tiles deliver two granules of
one day at a pixel (``same_day_duplicates``). The sample table keeps the better one; a server
composite that counts both differs from the training composite, and check-parity must say so.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.earthengine import client as ee_client
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.offline_ee import initialize_offline

PARIS = (2.35, 48.85)


@pytest.fixture
def patch_region(tmp_path):
    """The footprint of the (moved) patch, a little inside its edge pixels."""
    fake = FakeEarthEngineClient(anchor=PARIS)
    w, e = float(fake.lon.min()) + 2e-4, float(fake.lon.max()) - 2e-4
    s, n = float(fake.lat.min()) + 2e-4, float(fake.lat.max()) - 2e-4
    path = tmp_path / "patch.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}))
    return path


def _run(monkeypatch, tmp_path, region, **fake_options):
    initialize_offline()
    fake = FakeEarthEngineClient(anchor=PARIS, same_day_duplicates=True, **fake_options)
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    out = tmp_path / "parity.json"
    result = CliRunner().invoke(main, ["check-parity", "--region", str(region), "--year", "2019", "--points", "40",
                                       "--project", "p", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result.output, json.loads(out.read_text())


def test_same_day_duplicates_merged_on_the_server_give_parity(monkeypatch, tmp_path, patch_region):
    output, report = _run(monkeypatch, tmp_path, patch_region)
    assert report["n_compared"] >= 20 and report["agree"] and report["max_abs_dn"] <= 1.0
    assert report["same_day_duplicates"] > 0 and report["points_with_same_day_duplicates"] == report["n_client"]
    assert "agree" in output and "same-day duplicate acquisitions" in output


def test_a_server_that_counts_duplicates_twice_is_reported(monkeypatch, tmp_path, patch_region):
    output, report = _run(monkeypatch, tmp_path, patch_region, server_keeps_duplicates=True)
    assert not report["agree"] and report["n_differing"] > 0 and report["max_abs_dn"] > 100
    assert "composites DIFFER" in output and "same-day duplicate acquisitions" in output


def test_check_parity_without_credentials_refuses(tmp_path, monkeypatch, patch_region):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    result = CliRunner().invoke(main, ["check-parity", "--region", str(patch_region), "--project", "p"])
    assert result.exit_code == 1 and "earthengine authenticate" in result.output
