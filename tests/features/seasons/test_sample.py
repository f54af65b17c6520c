"""`gee-crop sample --year` writes each sample's season year into the table (offline: a fake Earth
Engine serves the real Flanders 2019 patch); `sample --source` infers it in the table's own season."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import SEASON_YEAR_COLUMN, read_table
from gee_crop.earthengine import client as ee_client
from gee_crop.season import Season
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.offline_ee import initialize_offline

PARIS = (2.35, 48.85)  # the fake moves the patch here, inside France


def test_sample_year_is_written_per_sample(tmp_path, monkeypatch):
    initialize_offline()
    fake = FakeEarthEngineClient(anchor=PARIS, existing_assets={"projects/p/assets/gee-crop/labels/FRA_RPG_2018"})
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


def test_local_sample_with_its_own_season_infers_years_in_that_season(tmp_path, patch_dir):
    """`sample --source` with `--season-start 11-01`: each sample's year is the one whose OWN season
    (1 Nov .. 30 Apr, a local calendar) its dates cover, not the paper's May-Nov season of the dates.
    The Flanders patch (Aug 2018 - Nov 2019) covers the winter of 2018/19, i.e. the season of 2018; the
    paper's season would say 2019, whose own season (from 1 Nov 2019) holds almost nothing."""
    out = tmp_path / "winter.parquet"
    result = CliRunner().invoke(main, ["sample", "--source", str(patch_dir), "--season-start", "11-01",
                                       "--season-days", "180", "--buffer-m", "10", "--spacing-m", "20",
                                       "--per-cell", "2000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = read_table(out)
    assert table.season == Season((11, 1), 180, 5, 0)
    assert table.season_counts == {2018: 477}
