"""Issue 22 finding 3: the pilot and the full run write the same asset ids, so the full run imports the
pilot's finished tiles into its ledger instead of exporting them again.

On the strict double an export over an existing asset without ``overwrite`` fails with "Cannot overwrite
asset '…'." (https://developers.google.com/earth-engine/apidocs/export-table-toasset, ``overwrite``); the
run then paid the pilot's tiles twice. Real data: the Flanders patch served at Paris (FRA)."""
from __future__ import annotations

import json
from collections import Counter

from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.earthengine import client as ee_client
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.offline_ee import initialize_offline

PARIS = (2.35, 48.85)
FRA_LABELS = "projects/p/assets/gee-crop/labels/FRA_RPG_2019"


def test_the_full_run_imports_the_pilots_tiles(tmp_path, monkeypatch):
    initialize_offline()
    fake = FakeEarthEngineClient(anchor=PARIS, existing_assets={FRA_LABELS})
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[2.2, 48.6], [2.6, 48.6], [2.6, 49.0], [2.2, 49.0], [2.2, 48.6]]]}))
    out = tmp_path / "paris.parquet"
    job = ["sample", "--region", str(aoi), "--year", "2019", "--per-cell", "50", "--buffer-m", "0",
           "--tile-deg", "0.2", "--mode", "export", "--project", "p", "--out", str(out)]
    piloted = CliRunner().invoke(main, [*job, "--pilot", "2"])
    assert piloted.exit_code == 0, piloted.output
    pilot_assets = [c["asset_id"] for m, c in fake.graphs if m == "start_export"]
    assert len(pilot_assets) == 2

    full = CliRunner().invoke(main, job)
    assert full.exit_code == 0, full.output
    starts = Counter(c["asset_id"] for m, c in fake.graphs if m == "start_export")
    errors = [t["error"] for t in fake.tasks.values() if t["error"]]
    assert not any("Cannot overwrite asset" in e for e in errors), errors
    assert all(starts[a] == 1 for a in pilot_assets), f"pilot tiles exported again: {starts}"
    assert sum(starts.values()) == 4  # 4 tiles of 0.2 deg, 2 of them the pilot's

    pilot = json.loads((tmp_path / "paris.parquet.pilot" / "manifest.json").read_text())["tiles"]
    run = json.loads((tmp_path / "paris.parquet.parts" / "manifest.json").read_text())["tiles"]
    for unit, entry in pilot.items():  # the pilot's EECU is in the run's ledger once, paid once
        assert run[unit]["imported_from"] == "pilot"
        assert run[unit]["task_id"] == entry["task_id"]
        assert run[unit]["batch_eecu_usage_seconds"] == entry["batch_eecu_usage_seconds"]
    assert len({e["task_id"] for e in run.values()}) == len(run)  # one task per tile across pilot and run
