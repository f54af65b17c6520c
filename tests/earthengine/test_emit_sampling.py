"""`gee-crop sample --emit`: the plan without credentials, and the EMIT rows' graph of a real job's tile
(offline graph checks: the rows are read at the same points as the Sentinel-2 series, on the 60 m grid of
the tile's UTM zone), and the run on the strict double, which serves the real EMIT cube."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.earthengine import sampling
from gee_crop.earthengine.graph import invocations
from gee_crop.data.emit_table import read_emit_table
from gee_crop.data.table import read_table
from gee_crop.earthengine import client as ee_client
from gee_crop.pipeline.sample import plan
from gee_crop.sensors import EMIT
from gee_crop.testing.fake_ee import FakeEarthEngineClient, FakeInterrupt
from gee_crop.testing.fake_emit import EmitAcquisition, EmitScene
from gee_crop.testing.offline_ee import initialize_offline
from gee_crop.testing.paths import REPO_ROOT
from tests.cli.errors import user_error

AOI = str(REPO_ROOT / "examples" / "aoi.geojson")


def test_dry_run_plans_the_emit_part_without_credentials(monkeypatch):
    from gee_crop.earthengine import client as ee_client

    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: (_ for _ in ()).throw(AssertionError("no EE")))
    result = CliRunner().invoke(main, ["sample", "--region", AOI, "--year", "2023", "--emit", "--dry-run"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("EMIT"))
    assert "2023-06 and 2023-08, on the pixels clear in both" in line and "cloud_flag 1 excluded" in line
    assert "244 of 285 bands" in line and "488 values per sample" in line and "60 m" in line
    plain = CliRunner().invoke(main, ["sample", "--region", AOI, "--year", "2023", "--dry-run"])
    assert plain.exit_code == 0 and "EMIT" not in plain.output  # Sentinel-2 jobs plan as before


def test_months_before_emit_existed_are_refused_before_any_request(monkeypatch):
    """The catalog's extent starts on 2022-08-09: a June 2022 median (or any of 2021) would be empty."""
    from gee_crop.earthengine import client as ee_client

    assert EMIT.months_before_first_day(2022, (6, 8)) == (6,)  # August 2022 ends after the 9th
    assert EMIT.months_before_first_day(2023, (2,)) == () and EMIT.months_before_first_day(2022, (2,)) == (2,)
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: (_ for _ in ()).throw(AssertionError("no EE")))
    for year, early in ((2021, "2021-06, 2021-08"), (2022, "2022-06")):
        for extra in (["--dry-run"], ["--project", "p", "--out", "never.parquet"]):
            result = CliRunner().invoke(main, ["sample", "--region", AOI, "--year", str(year), "--emit", *extra])
            user_error(result, f"EMIT (NASA/EMIT/L2A/RFL) starts on 2022-08-09, after {early}; choose a --year "
                               "whose months EMIT observed (from 2023 on)")


PARIS = (2.35, 48.85)  # the double moves the Flanders patch (and the EMIT scene over it) here, inside France
FRA_LABELS = {"projects/p/assets/gee-crop/labels/FRA_RPG_2023"}


def _emit_double(monkeypatch, **kwargs) -> FakeEarthEngineClient:
    """The strict double near Paris serving the REAL EMIT cube over its patch as a June and an August
    acquisition of 2023, and its Sentinel-2 patch (Flanders 2019) four years later (the days, the
    patch's year and the cloud flags are SYNTHETIC: June clouded in the scene's top row,
    August in its right column; fake_emit's docstring)."""
    initialize_offline()
    fake = FakeEarthEngineClient(anchor=PARIS, existing_assets=FRA_LABELS, years_later=4, **kwargs)
    june, august = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    june[0, :], august[:, 9] = True, True
    fake.emit = EmitScene.over(fake.patch, (EmitAcquisition("2023-06-14", june), EmitAcquisition("2023-08-20", august)))
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    return fake


@pytest.fixture
def paris_aoi(tmp_path):
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.9], [2.3, 48.8]]]}))
    return path


def test_the_run_stores_the_emit_medians_beside_the_s2_table_and_resumes(monkeypatch, tmp_path, paris_aoi):
    """The case that was refused ("--emit is planned by --dry-run only") runs: each tile's EMIT graph goes
    through the client, the rows are the real cube's values at the sample points clear in both months."""
    out = tmp_path / "t.parquet"
    args = ["sample", "--region", paris_aoi, "--year", 2023, "--emit", "--per-cell", 60, "--buffer-m", 0,
            "--project", "p", "--out", out]
    fake = _emit_double(monkeypatch, interrupt_after=1)  # killed while the EMIT tile is fetched
    broken = CliRunner().invoke(main, list(map(str, args)))
    assert isinstance(broken.exception, FakeInterrupt) and not (tmp_path / "t.emit.parquet").exists()
    fake = _emit_double(monkeypatch)
    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exit_code == 0, result.output
    assert [m for m, _ in fake.graphs].count("compute_features") == 1  # the S2 tile resumed, the EMIT one fetched
    emit = read_emit_table(tmp_path / "t.emit.parquet")
    s2 = read_table(out)
    assert emit.months == (6, 8) and tuple(emit.rows.columns[4:]) == EMIT.bands
    n = len(emit.rows) // 2
    assert f"EMIT: {n} of them clear in every month of 2023-06 and 2023-08, written to" in result.output
    assert 0 < n < len(s2)  # points off the scene or under a (synthetic) cloud drop out
    scene = fake.emit
    row, col, inside = scene.cells(emit.rows.lon.to_numpy() - fake.shift[0], emit.rows.lat.to_numpy() - fake.shift[1])
    # the snapped 60 m pixel of a point may be the neighbour of the one under it: compare at the scene pixel
    # whose value the double served, found by matching one band
    assert inside.all() and not (row == 0).any() and not (col == 9).any()
    kept = [EMIT.product_bands.index(b) for b in EMIT.bands]
    values = emit.rows[list(EMIT.bands)].to_numpy()
    cube = scene.stored[:, :, kept].reshape(100, -1)
    nearest = np.abs(values[:, None, :] - cube[None]).max(axis=2).min(axis=1)
    assert nearest.max() < 1e-6  # every row is a real EMIT spectrum of a clear scene pixel
    assert values.min() > 0 and values.max() < 0.5  # real reflectance, no fill, no cloud (0.8)


def test_export_mode_runs_the_emit_tiles_as_their_own_tasks(monkeypatch, tmp_path, paris_aoi):
    """Batch exports: each tile's EMIT rows are a task and an asset of their own (names ending in _emit, so the
    S2 and EMIT exports of a tile never collide: "Cannot overwrite asset"), read back into the same table as an
    interactive run's."""
    args = ["sample", "--region", paris_aoi, "--year", 2023, "--emit", "--per-cell", 60, "--buffer-m", 0,
            "--project", "p"]
    _emit_double(monkeypatch)
    streamed = CliRunner().invoke(main, list(map(str, [*args, "--out", tmp_path / "i.parquet"])))
    fake = _emit_double(monkeypatch)
    exported = CliRunner().invoke(main, list(map(str, [*args, "--mode", "export", "--out", tmp_path / "e.parquet"])))
    assert streamed.exit_code == 0 and exported.exit_code == 0, exported.output
    assets = [config["asset_id"] for method, config in fake.graphs if method == "start_export"]
    assert assets == ["projects/p/assets/gee-crop/samples/gee-crop_aoi_2023_tile0000",
                      "projects/p/assets/gee-crop/samples/gee-crop_aoi_2023_tile0000_emit"]
    emit_config = [c for m, c in fake.graphs if m == "start_export"][1]
    assert emit_config["selectors"][:3] == ["lon", "lat", "class"] and len(emit_config["selectors"]) == 3 + 488
    a, b = read_emit_table(tmp_path / "i.emit.parquet").rows, read_emit_table(tmp_path / "e.emit.parquet").rows
    key = ["month", "lon", "lat"]
    assert len(a) > 0 and a.sort_values(key).reset_index(drop=True).equals(b.sort_values(key).reset_index(drop=True))


def test_emit_rows_are_read_at_the_s2_points_on_the_60_m_utm_grid():
    job = plan(_request()).job
    assert job.emit and job.fingerprint()["emit"] is True
    (unit, bounds), = sampling.job_tiles(job).items()
    s2 = sampling.tile_graph(job, 0, bounds)
    rows = sampling.emit_tile_graph(job, 0, bounds)
    (emit_call,) = invocations(rows, "Image.sampleRegions")
    assert emit_call["arguments"]["scale"] == 60.0
    assert emit_call["arguments"]["projection"]["arguments"]["crs"] == "EPSG:32631"  # Flanders: UTM 31N
    s2_points = [c["arguments"]["collection"] for c in invocations(s2, "Image.sampleRegions")]
    assert json.dumps(emit_call["arguments"]["collection"], sort_keys=True) == json.dumps(s2_points[0], sort_keys=True)
    assert "NASA/EMIT/L2A/RFL" in rows.serialize()


def _request() -> SamplingRequest:
    return SamplingRequest.from_options(region=AOI, project="p", year=2023, emit=True)


def test_s2_only_jobs_keep_their_fingerprint():
    job = plan(SamplingRequest.from_options(region=AOI, project="p", year=2023)).job
    assert "emit" not in job.fingerprint()
