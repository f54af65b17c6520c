"""Issue 16, "Earth Engine as it really behaves": one test (or more) per numbered item, each against
the real algorithm signatures (earthengine-api's algorithms.json), the real command-line tool's
parser, or the fake client raising the service's documented error texts. Items 11 and 13 (timeouts,
network errors, the request cap, deadlines) are in test_client_http.py; item 9's gap filling in
test_composite_gapfill.py and its end-to-end check in tests/cli/test_check_parity_cli.py."""
from __future__ import annotations

import argparse
import configparser
import datetime as dt
import json
import re
import shlex

import ee
import ee.cli.commands as ee_cli
import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.classes import Legend
from gee_crop.config import BANDS
from gee_crop.countries import country_spec
from gee_crop.data.table import read_table
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine import collections, composite, labels, sampling
from gee_crop.earthengine.client import StoredCredentials
from gee_crop.earthengine.graph import invocations, resolved, walk_calls
from gee_crop.ledger import RunLedger
from gee_crop.data.sample_jobs import plan_job, store_part
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.earthengine import tasks
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.offline_ee import algorithms_json_path
from gee_crop.testing.paths import REPO_ROOT
from gee_crop.types import SamplingRules

PARIS = (2.35, 48.85)
BOX = [2.3, 48.8, 2.4, 48.9]
FRA_LABELS = "projects/p/assets/gee-crop/labels/FRA_RPG_2019"


@pytest.fixture(scope="module")
def signatures() -> dict[str, dict]:
    """Server algorithm name -> signature (arguments with types, return type)."""
    with open(algorithms_json_path(), encoding="utf-8") as fh:
        return {a["name"].split("/")[-1]: a for a in json.load(fh)["algorithms"]}


@pytest.fixture
def aoi(tmp_path):
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9],
                                                                   [2.3, 48.9], [2.3, 48.8]]]}))
    return path


@pytest.fixture
def use_fake(monkeypatch):
    def install(**kwargs):
        fake = FakeEarthEngineClient(anchor=PARIS, **kwargs)
        monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
        return fake

    return install


def run(*args):
    return CliRunner().invoke(main, ["sample", *map(str, args)])


def _arguments_valid(obj, signatures) -> None:
    """Every call of the graph names a server algorithm and only arguments of its signature."""
    for call in walk_calls(resolved(obj)):
        name = call["function"]
        if name.startswith("<"):
            continue
        assert name in signatures, f"{name} is not a server algorithm"
        allowed = {a["argumentName"] for a in signatures[name].get("arguments", [])}
        assert set(call["arguments"]) <= allowed, (name, set(call["arguments"]) - allowed)


# 1 ------------------------------------------------------------------------------ asset folders, overwrite

def test_asset_exports_create_their_folders_and_overwrite(use_fake, tmp_path, aoi):
    """Exports do not create missing folders: the fake fails an export into a folder never made with
    the service's text ("Asset '…' does not exist or doesn't allow this operation."), and an export
    over an existing asset without overwrite with "Cannot overwrite asset '…'."."""
    fake = use_fake(existing_assets={FRA_LABELS})
    out = tmp_path / "aoi.parquet"
    args = ("--region", aoi, "--year", 2019, "--mode", "export", "--export-to", "asset", "--project", "p",
            "--per-cell", 20, "--out", out)
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert [f for m, f in fake.graphs if m == "create_folder"] == [
        "projects/p/assets/gee-crop", "projects/p/assets/gee-crop/samples"]
    again = run(*args, "--overwrite")  # the tile's asset exists now: replaced, not refused
    assert again.exit_code == 0, again.output
    configs = [c for m, c in fake.graphs if m == "start_export"]
    assert [c["overwrite"] for c in configs] == [False, True]
    task = ee_client._export_task(configs[-1])
    assert task.config["assetExportOptions"]["earthEngineDestination"]["overwrite"] is True
    assert all(t["error"] is None for t in fake.tasks.values())
    assert len(read_table(out)) > 0


def test_fake_refuses_what_the_service_refuses():
    fake = FakeEarthEngineClient(anchor=PARIS, existing_assets=set())
    config = sampling.export_config(ee.FeatureCollection([]), "asset", "t", asset_id="projects/p/assets/a/b/t")
    task = fake.start_export(config)
    assert fake.task_status(task)["error_message"] == (
        "Asset 'projects/p/assets/a/b' does not exist or doesn't allow this operation.")
    assert fake.ensure_folder("projects/p/assets/a/b") == ["projects/p/assets/a", "projects/p/assets/a/b"]


# 2 ------------------------------------------------------------------------------ export targets, Drive

def test_default_export_target_is_an_asset_gee_crop_reads_back(use_fake, tmp_path, aoi):
    fake = use_fake(existing_assets={FRA_LABELS})
    result = run("--region", aoi, "--year", 2019, "--mode", "export", "--project", "p", "--out", tmp_path / "t.parquet")
    assert result.exit_code == 0, result.output and "wrote" in result.output
    assert {c["destination"] for m, c in fake.graphs if m == "start_export"} == {"asset"}


@pytest.mark.parametrize("kind,reason", [("service_account", "service account has no Google Drive"),
                                         ("gcloud", "carry no Google Drive scope")])
def test_drive_is_refused_for_credentials_without_drive(use_fake, tmp_path, aoi, kind, reason):
    fake = use_fake(credentials=StoredCredentials(kind, tmp_path / "creds.json"), existing_assets={FRA_LABELS})
    result = run("--region", aoi, "--year", 2019, "--mode", "export", "--export-to", "drive", "--project", "p",
                 "--out", tmp_path / "t.parquet")
    assert result.exit_code == 1 and reason in result.output and "--export-to asset" in result.output
    assert not [g for m, g in fake.graphs if m == "start_export"]  # refused before any task


def test_earthengine_api_lower_bound_requests_the_drive_scope():
    """The Drive scope is requested by default from earthengine-api 1.5.12 on."""
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "setup.cfg")
    requirement = [r for r in config["options"]["install_requires"].split() if r.startswith("earthengine-api")][0]
    assert requirement == "earthengine-api>=1.5.12"
    assert ee_client.DRIVE_SCOPE in ee.oauth.SCOPES


# 3 ------------------------------------------------------------------------------ label upload route

@pytest.mark.parametrize("country,kind", [("BEL", "table"), ("ARG", "image")])
def test_label_upload_commands_parse_with_the_real_cli_and_use_a_bucket(use_fake, tmp_path, country, kind):
    fake = use_fake(existing_assets=set())
    region = {"BEL": [4.0, 50.9, 4.1, 51.0], "ARG": [-61.0, -33.1, -60.9, -33.0]}[country]
    result = run("--country", country, "--region", _box_file(tmp_path, region), "--year", 2023, "--project", "proj",
                 "--out", tmp_path / "x.parquet")
    assert result.exit_code == 1
    commands = re.findall(r"`earthengine upload ([^`]+)`", result.output)
    assert len(commands) == 1
    parser = argparse.ArgumentParser(prog="earthengine")
    ee_cli.UploadCommand(parser)
    parsed = parser.parse_args(shlex.split(commands[0]))
    assert parsed.upload_cmd == kind and parsed.asset_id == country_spec(country).asset_id(2023, "proj")
    sources = parsed.src_file if kind == "table" else parsed.src_files
    ee_cli._check_valid_files(sources)  # the tool takes gs:// sources only
    if kind == "image":
        assert parsed.pyramiding_policy == ["MODE"]  # class codes: no MEAN pyramids
    assert "projects/proj/assets/gee-crop/labels" in [f for m, f in fake.graphs if m == "create_folder"]


def _box_file(tmp_path, box):
    w, s, e, n = box
    path = tmp_path / "box.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}))
    return path


# 4 ------------------------------------------------------------------------------ all-digit codes as strings

def test_all_digit_codes_reach_number_format_as_numbers(signatures):
    """BEL GWSCOD_H / NLD gewascode may be strings ("0201") or doubles (201.0): Number.format must get
    a long, made by Number.parse from a String and toLong; the old graph fed Element.get (an Object,
    here a String) to it."""
    for country in ("BEL", "NLD"):
        image = labels.reference_labels(country_spec(country), 2023, project="p",
                                        region=ee.Geometry.Rectangle([4.0, 50.9, 4.1, 51.0]))
        _arguments_valid(image, signatures)
        formats = invocations(image, "Number.format")
        # Number.format('%d') needs a long: parse, then toLong (a double "201.0" parses to a double;
        # tests/earthengine/test_zero_values.py evaluates it)
        longs = [f["arguments"]["number"] for f in formats]
        assert formats and all(n["function"] == "Number.toLong" for n in longs)
        assert all(n["arguments"]["input"]["function"] == "Number.parse" for n in longs)
        for parse in invocations(image, "Number.parse"):
            source = parse["arguments"]["input"]["function"]
            assert signatures[source]["returnType"] == "String"  # ee.Algorithms.String: any object -> text
    legend = Legend.shipped("BEL_flanders.csv")
    assert legend["0201"] == legend[201] == "corn"  # the client-side reading agrees


# 5 ------------------------------------------------------------------------------ EMIT bands

def test_emit_selects_reflectance_bands_by_name_and_the_cloud_flag(signatures):
    from gee_crop.earthengine import emit

    image = emit.monthly_median(ee.Geometry.Rectangle(BOX), 2023, 6)
    _arguments_valid(image, signatures)
    selectors = [c["arguments"]["bandSelectors"] for c in invocations(image, "Image.select")]
    assert ["cloud_flag"] in selectors and not any("cloud_mask" in sel for sel in selectors if isinstance(sel, list))
    # the reflectance bands are NAMED on the server (reflectance_<i> of the kept centres), never a regex
    named = [sel for sel in selectors if isinstance(sel, dict)]
    assert named and all(sel["function"] == "List.map" for sel in named)
    assert not any(isinstance(s, str) and "*" in s for sel in selectors if isinstance(sel, list) for s in sel)
    cats = [c["arguments"]["string1"] for c in invocations(image, "String.cat")]
    assert cats == ["reflectance_"]


# 6 ------------------------------------------------------------------------------ Code Editor hand-off

def test_code_editor_hand_off_reads_the_scripts_csvs_without_earth_engine(tmp_path, monkeypatch, patch_dir):
    """The README's command reads the CSVs sample.js exported (file names as the script writes
    them) and starts nothing on Earth Engine."""
    from gee_crop.testing.fake_ee import FakeEarthEngineClient as Fake

    readme = (REPO_ROOT / "ee_scripts" / "README.md").read_text(encoding="utf-8")
    command = re.search(r"^\s+(gee-crop sample .*--from-exports.*)$", readme, re.M).group(1)
    script = (REPO_ROOT / "ee_scripts" / "sample.js").read_text(encoding="utf-8")
    description = re.search(r"description: '([^']+)' \+ YEAR \+ '([^']+)'", script)
    name = f"{description.group(1)}2019{description.group(2)}"
    folder = tmp_path / "FOLDER"
    fake = Fake(anchor=PARIS, exports_dir=folder)
    config = sampling.export_config(_tile_rows(), "drive", name)
    fake._write_csv(fake._features_of(config["collection"]), config)  # what the script's task wrote
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: pytest.fail("no Earth Engine here"))
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[1:]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    table = read_table(tmp_path / "table.parquet")
    assert len(table) > 0 and set(table.region) == {"USA"}


def _tile_rows() -> ee.FeatureCollection:
    labs = labels.reference_labels(country_spec("FRA"), 2019, project="p")
    return sampling.sampling_graph(labs, ee.Geometry.Rectangle(BOX), dt.date(2019, 1, 1), dt.date(2020, 1, 1),
                                   SamplingRules(per_cell=20, buffer_m=0))


# 7 ------------------------------------------------------------------------------ labels on their 10 m grid

def test_the_buffer_is_pinned_to_a_10_m_metric_grid_and_points_sampled_on_it(signatures):
    """Earth Engine computes an operation in the projection its output is requested in, and reproject
    pins only what is upstream of it (https://developers.google.com/earth-engine/guides/projections):
    the reproject comes AFTER the focal operations, and stratifiedSample samples in the same UTM zone
    (tests/earthengine/test_sampling_grid.py checks the values this gives)."""
    job = plan_job(SamplingRequest.from_options(country="FRA", project="p", per_cell=5), 2023)
    rows = sampling.tile_graph(job, 0, (2.0, 48.0, 3.0, 49.0))
    _arguments_valid(rows, signatures)
    sample = invocations(rows, "Image.stratifiedSample")[0]["arguments"]
    assert sample["projection"]["arguments"]["crs"] == "EPSG:32631" and sample["scale"] == 60.0
    pinned = [c for c in invocations(rows, "Image.reproject") if invocations_in(c, "Image.focalMin")]
    assert len(pinned) == 1  # reproject(... focalMin(unmask(labels)) ...)
    assert pinned[0]["arguments"]["scale"] == 10
    assert pinned[0]["arguments"]["crs"]["arguments"]["crs"] == "EPSG:32631"  # Projection("EPSG:32631"): UTM 31N
    focal = invocations(rows, "Image.focalMin")[0]["arguments"]
    assert focal["radius"] == 60.0 and focal["units"] == "meters"  # 6 pixels of 10 m, the same each way
    assert sampling.utm_crs(-93.7, 42.1) == "EPSG:32615" and sampling.utm_crs(-60.9, -33.0) == "EPSG:32720"


def invocations_in(node, function):
    from gee_crop.earthengine.graph import walk_calls

    return [c for c in walk_calls(node) if c["function"] == function]


# 8 ------------------------------------------------------------------------------ sample.js from the CSV

def test_sample_js_table_is_the_shipped_csv():
    from tests.earthengine.test_ee_scripts import js_constant

    codes, classes, default = Legend.shipped("cdl_remap.csv").lookup()
    js = dict(zip(js_constant("sample.js", "CDL_FROM"), js_constant("sample.js", "CDL_TO")))
    assert js == dict(zip(map(int, codes), classes))  # every code, not a subset
    assert js_constant("sample.js", "CDL_DEFAULT") == default
    script = (REPO_ROOT / "ee_scripts" / "sample.js").read_text(encoding="utf-8")
    assert "accuracyMask(" in script and "TIGER/2018/States" in script  # the per-state filter
    assert js_constant("sample.js", "ACCURACY") == {}  # the shipped accuracy table has no rows yet
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_tables", REPO_ROOT / "ee_scripts" / "update_tables.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.generated_block() in script  # regenerated from the CSVs, not edited by hand


# 9 ------------------------------------------------------------------------------ same-day granules

def test_server_composite_merges_same_day_granules_by_best_score(signatures):
    from gee_crop.season import Season

    image = composite.median_composite(ee.Geometry.Rectangle(BOX), Season().span(2023), cloud_band="cs_cdf")
    mosaics = invocations(image, "ImageCollection.qualityMosaic")
    assert mosaics and mosaics[0]["arguments"]["qualityBand"] == "cs_cdf"
    assert {"Date.advance", "List.sequence", "ImageCollection.fromImages"} <= {c["function"] for c in invocations(image)}


# 10 ----------------------------------------------------------------------------- table labels: bounds, paint

def test_table_labels_are_filtered_to_the_tile_and_painted(signatures):
    job = plan_job(SamplingRequest.from_options(country="FRA", project="p", per_cell=5), 2023)
    rows = sampling.tile_graph(job, 0, (2.0, 48.0, 3.0, 49.0))
    names = {c["function"] for c in invocations(rows)}
    assert "Image.paint" in names and "FeatureCollection.reduceToImage" not in names
    users = [c for c in invocations(rows) for v in c.get("arguments", {}).values()
             if isinstance(v, dict) and v.get("function") == "Collection.loadTable"
             and v["arguments"]["tableId"] == "projects/p/assets/gee-crop/labels/FRA_RPG_2023"]
    assert users, "the parcel table is read"
    for call in users:  # the national table is only ever read through a filter to the tile
        assert call["function"] == "Collection.filter"
        assert call["arguments"]["filter"]["function"] == "Filter.intersects"
    mapped = [c for c in invocations(rows, "Collection.map") if c["arguments"]["collection"] in users]
    assert mapped, "the class lookup maps over the tile's parcels"


# 12 ----------------------------------------------------------------------------- batch quotas

def test_bounded_queue_polls_only_the_jobs_tasks_and_eecu_in_the_manifest(tmp_path):
    """Issue 22 finding 11: the project holds 1,200 operations of other jobs (3 listOperations pages of
    500); each poll reads the job's started tasks only, one getOperation each, never the whole list."""
    fake = FakeEarthEngineClient(anchor=PARIS, running_polls=1, existing_assets={FRA_LABELS}, other_operations=1200)
    request = SamplingRequest.from_options(country="FRA", project="p", per_cell=20, buffer_m=0, tile_deg=2.0)
    job = plan_job(request, 2019)
    tiles = sampling.job_tiles(job)
    ledger = RunLedger.open(tmp_path / "manifest.json", job.fingerprint(), units="tiles")
    ledger.register(tiles)
    waiting = tasks.run_exports(fake, job, tiles, ledger, store_part,
                                tasks.ExportTarget("asset", max_queued=4), progress=False, sleep=fake.sleep)
    assert waiting == []
    assert fake.max_unfinished <= 4 and len(fake.tasks) == len(tiles) == 30
    assert fake.list_pages == 0, "polling paged through the project's listOperations"
    assert set(fake.get_operation_calls) == set(fake.tasks)  # the job's own tasks, and all of them
    # each task is read while RUNNING once, then COMPLETED: about 2 reads per task, not 1,230 per pass
    assert len(fake.get_operation_calls) <= 3 * len(tiles)
    entries = [ledger.entry(u) for u in tiles]
    assert all(e["state"] == "done" and e["batch_eecu_usage_seconds"] > 0 and e["update_timestamp_ms"] > 0
               for e in entries)


def test_a_full_user_queue_waits_instead_of_failing(tmp_path):
    """"Too many tasks already in the queue (3000)." at start: the run waits for a slot."""
    fake = FakeEarthEngineClient(anchor=PARIS, queue_limit=3, running_polls=1, existing_assets={FRA_LABELS})
    request = SamplingRequest.from_options(country="FRA", project="p", per_cell=20, buffer_m=0, tile_deg=2.0)
    job = plan_job(request, 2019)
    tiles = dict(list(sampling.job_tiles(job).items())[:8])
    ledger = RunLedger.open(tmp_path / "manifest.json", job.fingerprint(), units="tiles")
    ledger.register(tiles)
    assert tasks.run_exports(fake, job, tiles, ledger, store_part, tasks.ExportTarget("asset"),
                             progress=False, sleep=fake.sleep) == []
    assert fake.max_unfinished == 3 and all(ledger.entry(u)["state"] == "done" for u in tiles)


def test_more_tiles_than_assets_is_refused():
    job = plan_job(SamplingRequest.from_options(country="FRA", project="p", per_cell=5), 2019)
    with pytest.raises(Exception, match="10,000 assets"):
        tasks.check_export_target(FakeEarthEngineClient(anchor=PARIS), job.project, "asset", None, 10_001)


# 14 ----------------------------------------------------------------------------- names from region files

@pytest.mark.parametrize("stem", ["my aoi (v2) été", "x" * 150, "a/b:c"])
def test_region_stems_are_safe_in_descriptions_and_asset_ids(stem):
    job = plan_job(SamplingRequest.from_options(country="FRA", project="p", per_cell=5), 2023)
    job.name = stem
    description, asset = sampling.export_names(job, 12)
    assert re.fullmatch(r"[A-Za-z0-9.,:;_-]{1,100}", description)
    assert re.fullmatch(r"projects/p/assets/gee-crop/samples/[A-Za-z0-9_-]+", asset)
    other = sampling.export_names(job.__class__(**{**job.__dict__, "name": stem + "!"}), 12)[0]
    assert other != description  # two region files never share a task or an asset


def test_region_file_with_spaces_samples_on_the_fake(use_fake, tmp_path):
    path = tmp_path / "my aoi (v2).geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9],
                                                                   [2.3, 48.9], [2.3, 48.8]]]}))
    fake = use_fake(existing_assets={FRA_LABELS})
    result = run("--region", path, "--year", 2019, "--mode", "export", "--project", "p", "--out", tmp_path / "t.parquet")
    assert result.exit_code == 0, result.output
    config = [c for m, c in fake.graphs if m == "start_export"][0]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", config["description"]) and " " not in config["asset_id"]
