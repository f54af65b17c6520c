"""`gee-crop sample`'s paths share one request and one plan: the full run, `--pilot` and `--dry-run`
plan the same job from the same options (own labels, legend and season included: the real Kenya 2019
parcels of ../shared/data), a pilot of an own-label job never asks for a country's label asset, a pilot
without --out takes the run's default output name, and the region file is read once per command."""
from __future__ import annotations

import dataclasses
import inspect
import json
import types
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner

import gee_crop.pipeline.pilot as pipeline_pilot
import gee_crop.pipeline.sample as pipeline_sample
from gee_crop.cli import main
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.tasks import SamplingResult
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.offline_ee import initialize_offline

PARIS = (2.35, 48.85)  # the fake moves the Flanders patch here, inside France
FRA_LABELS = "projects/p/assets/gee-crop/labels/FRA_RPG_2019"  # the RPG table the strict fake must be told of


def run(*args):
    return CliRunner().invoke(main, ["sample", *map(str, args)])


@pytest.fixture
def kenya_job(tmp_path, shared_data):
    """Command-line options of an own-label job in Kenya where every option differs from its default."""
    aoi = tmp_path / "kenya_aoi.geojson"
    aoi.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[34.1, 0.4], [34.3, 0.4], [34.3, 0.6], [34.1, 0.6], [34.1, 0.4]]]}))
    labels = shared_data / "label-vectors" / "kenya_ref_african_crops_kenya_01_labels_00.geojson"
    return ("--region", aoi, "--labels", labels, "--label-field", "Crop1", "--classes", "maize,cassava,other",
            "--season-start", "03-01", "--season-days", "200", "--window-days", "10", "--year", 2019,
            "--per-cell", 7, "--spacing-m", 90, "--buffer-m", 30, "--cloud-band", "cs_cdf",
            "--cloud-threshold", 0.7, "--tile-deg", 0.5, "--tile-scale", 2, "--seed", 3, "--project", "demo",
            "--out", tmp_path / "kenya.parquet")


@pytest.fixture
def planned_jobs(monkeypatch):
    """The (job, out) each path hands on: the run to the task queue, the pilot to its measurement, the
    dry run to its estimate (none of which runs here; no server is reached)."""
    seen: dict[str, tuple] = {}

    def run_tiles(client, job, out, store, **kwargs):
        seen["run"] = (job, str(out))
        return SamplingResult(None, "export", 1, 0, pending_tasks=["tile0"], message="stopped here"), None

    def run_pilot(client, job, out, n, store, **kwargs):
        seen["pilot"] = (job, str(out))
        return types.SimpleNamespace(lines=lambda: ["measured"])

    def dry_run_lines(job, out, mode):
        seen["dry-run"] = (job, str(out))
        return ["planned"]

    monkeypatch.setattr(pipeline_sample, "run_tiles", run_tiles)
    monkeypatch.setattr(pipeline_pilot, "run_pilot", run_pilot)
    monkeypatch.setattr(pipeline_pilot, "dry_run_lines", dry_run_lines)
    monkeypatch.setattr(ee_client, "get_client", lambda **kwargs: types.SimpleNamespace(project="other"))
    return seen


def _comparable(value):
    """Every field of a job, down to its labels' geometries and legend, as plain comparable values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple((f.name, _comparable(getattr(value, f.name)))
                                               for f in dataclasses.fields(value))
    if isinstance(value, shapely.Geometry):
        return value.wkb_hex
    if isinstance(value, np.ndarray):
        return (value.dtype.str, tuple(_comparable(v) for v in value.tolist()))
    if isinstance(value, dict) or hasattr(value, "items"):
        return tuple(sorted((str(k), _comparable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_comparable(v) for v in (sorted(value) if isinstance(value, (set, frozenset)) else value))
    return value


def test_pilot_and_dry_run_plan_exactly_the_runs_job(kenya_job, planned_jobs):
    for extra in ((), ("--pilot", 2), ("--dry-run",)):
        result = run(*kenya_job, *extra)
        assert result.exit_code == 0, result.output
    assert set(planned_jobs) == {"run", "pilot", "dry-run"}
    (job, out), *others = planned_jobs.values()
    assert all(_comparable(other) == _comparable(job) and other_out == out for other, other_out in others)
    # every option reached the job (so the equality above compares the options, not the defaults)
    assert (job.name, job.year, job.per_cell, job.spacing_m, job.buffer_m, job.cloud_band, job.cloud_threshold,
            job.tile_deg, job.tile_scale, job.seed, job.project) == \
        ("kenya_aoi", 2019, 7, 90.0, 30.0, "cs_cdf", 0.7, 0.5, 2.0, 3, "demo")
    assert job.spec is None and job.classes == ("maize", "cassava", "other")
    assert job.own_labels.field == "Crop1" and len(job.own_labels.geometries) == 159
    assert (job.season.start_month_day, job.season.length_days, job.season.window_days) == ((3, 1), 200, 10)
    assert out.endswith("kenya.parquet")


def test_a_pilot_of_own_labels_reads_no_country_label_asset(kenya_job, monkeypatch, tmp_path):
    """The pilot checked the country's registered label asset even for a user's own labels (no country:
    AttributeError). The fake serves the patch near Paris, so the Kenya tiles export no rows."""
    initialize_offline()
    fake = FakeEarthEngineClient(anchor=PARIS)
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    result = run(*kenya_job, "--pilot", 1)
    assert result.exit_code == 0, result.output
    assert "pilot of kenya_aoi 2019: 1 of 2 tiles measured" in result.output
    starts = [config["description"] for method, config in fake.graphs if method == "start_export"]
    assert starts == ["gee-crop_kenya_aoi_2019_tile0000"]
    read = [asset for method, asset in fake.graphs if method == "get_asset"]
    assert read == ["projects/demo/assets/gee-crop", "projects/demo/assets/gee-crop/samples",
                    "projects/demo/assets/gee-crop/samples/gee-crop_kenya_aoi_2019_tile0000"]  # no label asset
    assert json.loads((tmp_path / "kenya.parquet.pilot" / "pilot.json").read_text())["tiles_in_job"] == 2


def test_a_pilot_without_out_uses_the_runs_default_name(monkeypatch, tmp_path):
    """Without --out the pilot crashed (TypeError); it now measures into the run's default table name,
    where --dry-run then finds its rates."""
    initialize_offline()
    fake = FakeEarthEngineClient(anchor=PARIS, existing_assets={FRA_LABELS})
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    monkeypatch.chdir(tmp_path)
    job = ("--country", "FRA", "--year", 2019, "--per-cell", 200, "--buffer-m", 0, "--tile-deg", 2, "--project", "p")
    piloted = run(*job, "--pilot", 1)
    assert piloted.exit_code == 0, piloted.output
    assert f"numbers saved to {Path('FRA_2019.parquet.pilot') / 'pilot.json'}" in piloted.output
    assert (tmp_path / "FRA_2019.parquet.pilot" / "pilot.json").is_file()
    priced = run(*job, "--dry-run")
    assert priced.exit_code == 0, priced.output
    assert f"at the pilot's rates ({Path('FRA_2019.parquet.pilot') / 'pilot.json'})" in priced.output


@pytest.mark.parametrize("extra", [("--year", 2019, "--out", "aoi.parquet"), ("--pilot", 1, "--year", 2019),
                                   ("--dry-run",)], ids=["run", "pilot", "dry-run"])
def test_the_region_file_is_read_once(extra, monkeypatch, tmp_path):
    """It was read twice: for the season's latitude and the output name, then again for the job."""
    initialize_offline()
    monkeypatch.chdir(tmp_path)
    region = tmp_path / "aoi.geojson"
    region.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.9], [2.3, 48.8]]]}))
    fake = FakeEarthEngineClient(anchor=PARIS, existing_assets={FRA_LABELS})
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    reads = []
    read_text = Path.read_text

    def counting(path, *args, **kwargs):
        if Path(path).resolve() == region.resolve():
            reads.append(path)
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    result = run("--region", region, "--per-cell", 20, "--project", "p", *extra)
    assert result.exit_code == 0, result.output
    assert len(reads) == 1


def test_every_path_takes_the_one_request():
    """The command's pipeline functions take the request whole (the run also an output channel)."""
    paths = (pipeline_sample.sample, pipeline_sample.table_from_exports, pipeline_sample.plan,
             pipeline_pilot.pilot, pipeline_pilot.dry_run)
    for function in paths:
        parameters = [p for p in inspect.signature(function).parameters if p != "echo"]
        assert parameters == ["request"], function.__name__
    leaves = [f.name for group in dataclasses.fields(SamplingRequest)
              for f in (dataclasses.fields(group.default_factory) if dataclasses.is_dataclass(group.default_factory)
                        else [group])]
    assert len(leaves) == len(set(leaves)) == 35  # 33 + emit + medians (issue 25)
