"""`gee-crop sample --year` writes each sample's season year into the table (offline: a fake Earth
Engine serves the real Flanders 2019 patch)."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import SEASON_YEAR_COLUMN, read_table
from gee_crop.earthengine import client as ee_client
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.offline_ee import initialize_offline

PARIS = (2.35, 48.85)  # the fake moves the patch here, inside France


def test_sample_year_is_written_per_sample(tmp_path, monkeypatch):
    initialize_offline()
    fake = FakeEarthEngineClient(anchor=PARIS)
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.9], [2.3, 48.8]]]}))
    out = tmp_path / "paris.parquet"
    result = CliRunner().invoke(main, ["sample", "--region", str(aoi), "--year", "2018", "--per-cell", "20",
                                       "--project", "p", "--mode", "interactive", "--out", str(out)])
    assert result.exit_code == 0, result.output
    column = pq.read_table(out, columns=[SEASON_YEAR_COLUMN]).column(SEASON_YEAR_COLUMN)
    assert column.null_count == 0 and set(column.to_pylist()) == {2018}
    assert read_table(out).season_counts == {2018: 8}  # the fake's 8 spaced samples, of the job's season
