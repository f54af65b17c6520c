"""`gee-crop sample --dry-run`: the tiles and tasks it prints are those the real run then starts (the
fake Earth Engine client serves the real patch, moved into France)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.earthengine import client as ee_client
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.offline_ee import initialize_offline

PARIS = (2.35, 48.85)
JOB = ("--country", "FRA", "--year", "2019", "--per-cell", "200", "--buffer-m", "0", "--tile-deg", "2",
       "--project", "p")


def run(*args):
    return CliRunner().invoke(main, ["sample", *map(str, args)])


def test_dry_run_tiles_and_tasks_are_what_the_run_starts(tmp_path, monkeypatch):
    initialize_offline()

    def no_client(*args, **kwargs):
        raise AssertionError("a dry run must not reach Earth Engine")

    monkeypatch.setattr(ee_client, "get_client", no_client)
    out = tmp_path / "fra.parquet"
    dry = run(*JOB, "--dry-run", "--out", out)
    assert dry.exit_code == 0, dry.output
    assert "dry run: FRA 2019: 30 tiles of 2 deg (0 already done), export mode: 30 batch export tasks" in dry.output
    assert "no pilot measured this job yet" in dry.output and not out.exists()

    fake = FakeEarthEngineClient(anchor=PARIS, existing_assets={"projects/p/assets/gee-crop/labels/FRA_RPG_2019"})
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    real = run(*JOB, "--out", out)
    assert real.exit_code == 0, real.output
    assert "30/30 tiles done in export mode" in real.output
    assert len([g for m, g in fake.graphs if m == "start_export"]) == 30

    pilot = tmp_path / "fra.parquet.pilot" / "pilot.json"
    pilot.parent.mkdir()
    pilot.write_text(json.dumps({"eecu_hours_per_tile": 0.5, "task_minutes_per_tile": 12.0,
                                 "bytes_per_tile": 2e6}))
    monkeypatch.setattr(ee_client, "get_client", no_client)
    again = run(*JOB, "--dry-run", "--out", out)
    assert again.exit_code == 0, again.output
    assert "30 tiles of 2 deg (30 already done), export mode: 0 batch export tasks" in again.output
    fresh = run(*JOB, "--dry-run", "--out", tmp_path / "other.parquet")
    assert "(0 already done)" in fresh.output  # the pilot file of other.parquet does not exist
    out2 = tmp_path / "fra2.parquet"
    (tmp_path / "fra2.parquet.pilot").mkdir()
    (tmp_path / "fra2.parquet.pilot" / "pilot.json").write_text(pilot.read_text())
    priced = run(*JOB, "--dry-run", "--out", out2)
    assert "15.00 EECU-hours, 6.0 task-hours (~3.0 h at 2 concurrent tasks), 0.06 GB of assets" in priced.output
