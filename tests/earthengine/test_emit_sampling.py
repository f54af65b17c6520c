"""`gee-crop sample --emit`: the plan without credentials, and the EMIT rows' graph of a real job's tile
(offline graph checks: the rows are read at the same points as the Sentinel-2 series, on the 60 m grid of
the tile's UTM zone; no EMIT values are served offline, see tests/earthengine/test_emit.py for those)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.earthengine import sampling
from gee_crop.earthengine.graph import invocations
from gee_crop.pipeline.sample import plan
from gee_crop.testing.paths import REPO_ROOT

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


def test_the_run_with_emit_is_refused_until_it_is_wired(tmp_path):
    out = tmp_path / "t.parquet"
    result = CliRunner().invoke(main, ["sample", "--region", AOI, "--year", "2023", "--emit", "--out", str(out)])
    assert result.exit_code == 1 and "--emit is planned by --dry-run only" in result.output
    assert not out.exists()


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
