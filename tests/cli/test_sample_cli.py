"""`gee-crop sample` end to end offline: a fake Earth Engine client serves the real patch."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import read_table
from gee_crop.earthengine import client as ee_client
from gee_crop.testing.offline_ee import initialize_offline
from gee_crop.testing.fake_ee import FakeEarthEngineClient, FakeInterrupt

PARIS = (2.35, 48.85)  # the fake moves the Flanders patch here, inside France
#: the RPG tables these French jobs read: the strict fake refuses label assets a test did not declare
FRA_LABELS = {f"projects/p/assets/gee-crop/labels/FRA_RPG_{year}" for year in (2018, 2019, 2023)}


@pytest.fixture
def use_fake(monkeypatch):
    initialize_offline()

    def install(**kwargs):
        kwargs.setdefault("existing_assets", FRA_LABELS)
        fake = FakeEarthEngineClient(anchor=PARIS, **kwargs)
        monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
        return fake

    return install


@pytest.fixture
def aoi(tmp_path):
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.9], [2.3, 48.8]]]}}))
    return path


@pytest.fixture
def wide_aoi(tmp_path):
    """Two 1-degree tiles; the (moved) patch lies in the first."""
    path = tmp_path / "wide.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[2.3, 48.8], [3.4, 48.8], [3.4, 48.9], [2.3, 48.9], [2.3, 48.8]]]}))
    return path


def run(*args):
    return CliRunner().invoke(main, ["sample", *map(str, args)])


def _option_fields(value) -> dict:
    """The request's leaf fields, named as options, with their values (its groups opened)."""
    import dataclasses

    leaves = {}
    for f in dataclasses.fields(value):
        inner = getattr(value, f.name)
        leaves.update(_option_fields(inner) if dataclasses.is_dataclass(inner) else {f.name: inner})
    return leaves


def test_the_request_is_the_commands_options_with_their_defaults():
    """SamplingRequest's fields (in its groups) are the options of `gee-crop sample`, named alike, each once,
    with the same defaults (so a request built in Python is the command line's), and the choices are its
    Enums' values."""
    import dataclasses

    import click

    from gee_crop.config import ExportDestination, SamplingMode
    from gee_crop.data.sample_request import SamplingRequest

    command = main.get_command(click.Context(main), "sample")
    given = command.make_context("sample", []).params
    default = SamplingRequest()
    assert _option_fields(default).keys() == given.keys()
    assert len(given) == sum(  # no option in two groups
        len(dataclasses.fields(inner)) if dataclasses.is_dataclass(inner) else 1
        for inner in (getattr(default, f.name) for f in dataclasses.fields(default)))
    assert SamplingRequest.from_options(**given) == default
    choices = {p.name: list(p.type.choices) for p in command.params if isinstance(p.type, click.Choice)}
    assert choices["mode"] == list(SamplingMode.values()) and choices["export_to"] == ["asset", "drive", "gcs"]
    request = SamplingRequest.from_options(**{**given, "mode": "export", "export_to": "gcs"})
    assert request.tasks.mode is SamplingMode.EXPORT and request.tasks.export_to is ExportDestination.GCS
    assert request.tasks.target.destination is ExportDestination.GCS


def test_the_request_keeps_every_option_it_is_given():
    """Synthetic values: each option, given a value other than its default, lands in the request under
    its own name; a name that is no option is refused, not dropped."""
    import click

    from gee_crop.data.sample_request import SamplingRequest

    command = main.get_command(click.Context(main), "sample")
    given = command.make_context("sample", []).params
    choices = {"mode": "export", "export_to": "drive", "cloud_band": "cs_cdf"}

    def other(name, value):
        if name in choices:
            return choices[name]
        if isinstance(value, bool):
            return not value
        return value + 1 if isinstance(value, (int, float)) else f"x{name}"

    changed = {name: other(name, value) for name, value in given.items()}
    assert all(changed[name] != value for name, value in given.items())
    assert _option_fields(SamplingRequest.from_options(**changed)) == changed
    with pytest.raises(TypeError):
        SamplingRequest.from_options(**given, tile_size=3)


def test_country_export_to_asset_then_train(use_fake, tmp_path):
    fake = use_fake(fail_next=[429, 500])
    out = tmp_path / "fra.parquet"
    result = run("--country", "FRA", "--year", 2019, "--per-cell", 200, "--buffer-m", 0, "--tile-deg", 2,
                 "--project", "p", "--export-to", "asset", "--out", out)
    assert result.exit_code == 0, result.output
    assert "30/30 tiles done in export mode" in result.output  # metropolitan France + Corsica, 2 deg tiles
    assert fake.sleeps == [0.5, 1.0]  # the injected 429 and 500 were retried with backoff
    starts = [g for m, g in fake.graphs if m == "start_export"]
    assert len(starts) == 30 and starts[0]["asset_id"].startswith("projects/p/assets/gee-crop/samples/")
    table = read_table(out)
    assert set(table.region) == {"FRA"} and set(table.cloud_kind) == {"cs"}
    assert Counter(table.crop_class) == {"other": 60, "wheat": 38, "corn": 12}
    assert table.dates.min() >= np.datetime64("2019-01-01")
    trained = CliRunner().invoke(main, ["train", str(out), "--out", str(tmp_path / "run"), "--epochs", 1,
                                        "--widths", "4,4,4,4", "--quiet"])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "run" / "model.pt").exists()


def test_region_interactive_resumes_after_interrupt(use_fake, tmp_path, wide_aoi):
    out = tmp_path / "wide.parquet"
    args = ("--region", wide_aoi, "--year", 2019, "--per-cell", 20, "--project", "p", "--out", out)
    use_fake(interrupt_after=1)  # killed while fetching the second tile
    broken = run(*args)
    assert isinstance(broken.exception, FakeInterrupt) and not out.exists()
    manifest = json.loads((tmp_path / "wide.parquet.parts" / "manifest.json").read_text())
    assert manifest["mode"] == "interactive"
    assert {k: v["state"] for k, v in manifest["tiles"].items()} == {"0": "done", "1": "pending"}
    again = use_fake(fail_next=[503])
    done = run(*args)
    assert done.exit_code == 0, done.output
    assert "2/2 tiles done in interactive mode" in done.output and again.sleeps == [0.5]
    fetched = [g for m, g in again.graphs if m == "compute_features"]
    assert len(fetched) == 1  # the finished tile was not fetched again
    assert again.request_parameters(fetched[0])["region"].bounds[0] == pytest.approx(3.0)
    table = read_table(out)
    assert len(table) > 0 and all(s.startswith("wide_") for s in table.sample_id)
    params = again.request_parameters(fetched[0])
    assert (params["per_cell"], params["buffer_m"], params["spacing_m"]) == (20, 60.0, 60.0)
    # a third run finds the table: nothing is redone without --overwrite
    third = run(*args)
    assert third.exit_code == 1 and "--overwrite" in third.output


def test_drive_exports_resume_collects_synced_csvs_and_retries_failed_task(use_fake, tmp_path, aoi):
    synced = tmp_path / "drive"
    out = tmp_path / "t.parquet"
    args = ("--region", aoi, "--year", 2019, "--mode", "export", "--export-to", "drive", "--project", "p",
            "--out", out, "--exports-dir", synced)
    fake = use_fake(fail_tasks=1, running_polls=1)  # the first task fails ("Computation timed out")
    first = run(*args, "--no-wait")
    assert first.exit_code == 0, first.output
    assert "0 of 1 tiles" not in first.output and "not collected yet" in first.output and not out.exists()
    parts = tmp_path / "t.parquet.parts" / "manifest.json"
    assert json.loads(parts.read_text())["tiles"]["0"]["state"] == "FAILED"
    fake.exports_dir = synced  # Drive's files now appear in the synced folder
    done = run(*args)  # same command: restarts the failed task, polls it, reads its CSV
    assert done.exit_code == 0, done.output
    tile = json.loads(parts.read_text())["tiles"]["0"]
    assert tile["state"] == "done" and tile["attempts"] == 2
    assert [g["description"] for m, g in fake.graphs if m == "start_export"] == ["gee-crop_aoi_2019_tile0000"] * 2
    assert fake.sleeps == [30.0]  # one poll interval while the restarted task ran
    assert len(read_table(out)) == tile["samples"] > 0
    assert (synced / "gee-crop_aoi_2019_tile0000.csv").exists()


def test_local_source_needs_no_earth_engine(tmp_path, patch_dir, monkeypatch):
    monkeypatch.setattr(ee_client, "get_client", lambda **kw: pytest.fail("no Earth Engine for --source"))
    out = tmp_path / "local.parquet"
    result = run("--source", patch_dir, "--per-cell", 10, "--out", out)
    assert result.exit_code == 0, result.output
    table = read_table(out)
    assert 0 < len(table) <= 10 and table.dates.shape[1] == 72


@pytest.mark.parametrize("args,message,exit_code", [
    (("--country", "XYZ"), "no reference labels are registered for country 'XYZ'", 1),
    (("--country", "FRA", "--year", 2015, "--project", "p"), "2017 or later", 1),
    (("--country", "FRA", "--mode", "interactive", "--project", "p"), "--mode export", 1),
    (("--country", "USA"), "--no-accuracy-filter", 1),
    (("--country", "FRA"), "--project", 1),
    (("--region", "SVN"), "EPSG:4326", 1),
    (("--country", "FRA", "--threshold", 2, "--project", "p"), "outside (0, 1]", 2),  # a usage error
])
def test_bad_input_is_one_line(use_fake, tmp_path, shared_data, args, message, exit_code):
    use_fake()
    if args == ("--region", "SVN"):  # the real Slovenia border, in UTM 33N
        args = ("--region", shared_data / "boundaries" / "svn_border.geojson")
    result = run(*args, "--out", tmp_path / "x.parquet")
    assert result.exit_code == exit_code and message in result.output


def test_from_exports_without_out_is_a_usage_error(tmp_path):
    result = run("--from-exports", tmp_path)  # crashed on a missing --out (TypeError) before
    assert result.exit_code == 2 and "--from-exports needs --out FILE.parquet" in result.output


def test_missing_label_asset_names_the_asset_to_upload(use_fake, tmp_path):
    use_fake(existing_assets=set())
    result = run("--country", "BEL", "--year", 2023, "--project", "proj", "--out", tmp_path / "b.parquet")
    assert result.exit_code == 1
    assert "projects/proj/assets/gee-crop/labels/BEL_LBGP_2023 does not exist; upload" in result.output


def test_pilot_runs_spread_tiles_as_batch_exports_and_extrapolates(use_fake, tmp_path):
    """Issue 16: `--pilot N` exports N tiles spread over the job, reads each task's EECU-seconds and
    times from the task list and the asset sizes, extrapolates to the job's 30 tiles and stops."""
    fake = use_fake()
    out = tmp_path / "fra.parquet"
    result = run("--country", "FRA", "--year", 2019, "--per-cell", 200, "--buffer-m", 0, "--tile-deg", 2,
                 "--project", "p", "--pilot", 3, "--out", out)
    assert result.exit_code == 0, result.output
    starts = [g for m, g in fake.graphs if m == "start_export"]
    assert [s["description"] for s in starts] == [f"gee-crop_FRA_2019_tile{i:04d}" for i in (0, 14, 29)]
    assert {s["destination"] for s in starts} == {"asset"}
    assert not out.exists()  # the pilot stops: the job itself is not run
    pilot = json.loads((tmp_path / "fra.parquet.pilot" / "pilot.json").read_text())
    assert pilot["tiles_measured"] == 3 and pilot["tiles_in_job"] == pilot["job_tasks"] == 30
    eecu = [t["batch_eecu_usage_seconds"] for t in (fake.task_status(i) for i in fake.tasks)]
    assert pilot["eecu_hours_per_tile"] == pytest.approx(sum(eecu) / 3 / 3600)
    assert pilot["job_eecu_hours"] == pytest.approx(30 * pilot["eecu_hours_per_tile"])
    assert pilot["bytes_per_tile"] > 0 and pilot["task_minutes_per_tile"] > 0
    assert "EECU-hours" in result.output and "3,000-task queue" in result.output and "10,000 assets" in result.output


def test_pilot_without_credentials_refuses_in_one_line(tmp_path, monkeypatch):
    from tests.timing import hang_guarded

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    with hang_guarded(1.0, "a pilot refusing without credentials"):
        result = run("--country", "FRA", "--year", 2019, "--project", "p", "--pilot", 2, "--out",
                     tmp_path / "f.parquet")
    assert result.exit_code == 1 and "earthengine authenticate" in result.output
    assert len(result.output.strip().splitlines()) == 1


# --------------------------------------------------------------------------- own labels, legend, season

@pytest.fixture
def own_inputs(tmp_path, shared_data):
    """Real label files and the inputs of the bad-input cases: a Kenya AOI, a legend of Malawi's crops,
    one that maps nothing, the Kenya parcels as a Shapefile in UTM without its .prj."""
    import pyogrio.raw
    import shapely
    from shapely import geometry as sg

    kenya = shared_data / "label-vectors" / "kenya_ref_african_crops_kenya_01_labels_00.geojson"
    aoi = tmp_path / "kenya_aoi.geojson"
    aoi.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon", "coordinates": [[[34.1, 0.4], [34.3, 0.4], [34.3, 0.6], [34.1, 0.6], [34.1, 0.4]]]}}))
    legend = tmp_path / "malawi.csv"
    legend.write_text("code,class\nmaize,maize\nsoy_soybeans,soybeans\ntobacco,tobacco\n*,other\n")
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("code,class\n1200,maize\n1110,wheat\n")
    features = json.loads(kenya.read_text())["features"]
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # no .prj: UTM metres, no CRS
        pyogrio.raw.write(tmp_path / "kenya_utm.shp", shapely.to_wkb([sg.shape(f["geometry"]) for f in features]),
                          [np.array([f["properties"]["Crop1"] for f in features], dtype=object)], ["crop"],
                          driver="ESRI Shapefile", geometry_type="Polygon")
    return {"kenya": kenya, "malawi": shared_data / "malawi-parcels" / "malawi_extraction_polygons.gpkg",
            "aoi": aoi, "legend": legend, "nothing": nothing, "utm_shp": tmp_path / "kenya_utm.shp"}


OWN_BAD_INPUTS = [
    (("--region", "aoi", "--labels", "malawi", "--label-field", "crop", "--legend", "legend", "--year", 2023),
     "has no field 'crop'; pass --label-field with one of: croptype"),
    (("--region", "aoi", "--labels", "malawi", "--label-field", "croptype", "--legend", "legend", "--year", 2023),
     "none of the 287 labelled features"),
    (("--labels", "malawi", "--label-field", "croptype", "--legend", "nothing", "--year", 2023),
     "maps none of the values of 'croptype'"),
    (("--labels", "kenya", "--label-field", "Crop1", "--classes", "maize,cassava,millet,other",
      "--source", "patch"), "falls on the stack"),
    (("--source", "patch", "--per-cell", 3, "--legend", "flanders"), "got fewer than 10 samples"),
    (("--labels", "kenya", "--label-field", "Crop1", "--classes", "maize,other", "--year", 2019,
      "--season-start", "03-01", "--season-days", 400), "--season-days 400 is longer than a year"),
    (("--labels", "utm_shp", "--label-field", "crop", "--classes", "maize,other", "--year", 2019),
     "declares no CRS and its coordinates"),
]


@pytest.mark.parametrize("args,message", OWN_BAD_INPUTS)
def test_own_labels_bad_input_is_one_line_and_writes_nothing(use_fake, tmp_path, own_inputs, patch_dir, args,
                                                            message):
    fake = use_fake()
    flanders = tmp_path / "flanders.csv"
    flanders.write_text("code,class\n1110,winter wheat\n1200,maize\n9120,grassland\n*,other\n0,exclude\n")
    names = {**own_inputs, "patch": patch_dir, "flanders": flanders}
    args = [names.get(a, a) if isinstance(a, str) else a for a in args]
    out = tmp_path / "own.parquet"
    result = run(*args, "--out", out)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not out.exists() and not (tmp_path / "own.parquet.parts").exists()
    assert fake.requests == 0  # every check runs before Earth Engine is asked anything


def test_own_labels_on_a_local_stack_take_the_legend(tmp_path, patch_dir, monkeypatch):
    """--source with --legend: the patch's own codes read with the user's legend (a raster needs no field)."""
    monkeypatch.setattr(ee_client, "get_client", lambda **kw: pytest.fail("no Earth Engine for --source"))
    legend = tmp_path / "legend.csv"
    legend.write_text("code,class\n1110,winter wheat\n1200,maize\n9120,grassland\n*,other\n0,exclude\n")
    out = tmp_path / "own.parquet"
    result = run("--source", patch_dir, "--legend", legend, "--per-cell", 2000, "--spacing-m", 10, "--buffer-m", 20,
                 "--out", out)
    assert result.exit_code == 0, result.output
    table = read_table(out)
    assert table.classes == ("winter_wheat", "maize", "grassland", "other")
    assert Counter(table.crop_class)["grassland"] >= 10
