"""``gee-crop map --on-server``: the plan without credentials, the France job's tasks against the service's
limits, and a run end to end on the strict double (its image exports evaluated on the real patch).

The classifier on the server is the one of gee_crop.models.server (``server_classification``); here a
synthetic classifier (a threshold on one band of the real composite) stands in for it, so the plumbing (tiles,
tasks, queue, ledger, download, COG) is what these tests check."""
from __future__ import annotations

import json

import ee
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.config import Encoding
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.client import REQUEST_PAYLOAD_LIMIT, request_body_bytes
from gee_crop.earthengine.composite import composite_band_names
from gee_crop.earthengine.map_exports import DEFAULT_MAX_PIXELS, TASK_LIFETIME_DAYS
from gee_crop.earthengine.tasks import ASSET_EXPORTS, MAX_ASSETS
from gee_crop.mapping.request import MapSettings
from gee_crop.mapping.server_map import MapExports, plan_server_job
from gee_crop.mapping.sources import EarthEngineSource
from gee_crop.models.io import ModelFile
from gee_crop.models.zoo import resolve_model
from gee_crop.countries import country_region
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from tests.mapping.synthetic_server import BAND, THRESHOLD
from gee_crop.testing.fake_ee_patch import PatchComputePixels
from gee_crop.testing.fake_image_exports import image_export_failure, image_export_refusal

def invoke(*args):
    return CliRunner().invoke(cli.main, ["map", *map(str, args)])


def test_dry_run_prints_the_plan_without_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    result = invoke("--region", "examples/aoi.geojson", "--year", 2023, "--on-server", "--dry-run",
                    "--out", tmp_path / "aoi")
    assert result.exit_code == 0, result.output
    assert "batch tasks: 1 (0 done)" in result.output and "Export.image to asset" in result.output
    assert "bytes home:" in result.output and "(2 B/px: class + confidence" in result.output
    assert "EECU" in result.output and "Community Tier" in result.output
    assert "430 B/px of sqrt8 composite" in result.output
    assert not (tmp_path / "aoi").exists()  # nothing written


def test_dry_run_prices_the_tasks_at_the_pilot_rate(tmp_path, monkeypatch):
    """A pilot of the same output (``map --pilot N`` wrote OUT.pilot/pilot.json) sets the EECU rate."""
    monkeypatch.setenv("GEE_CROP_CONFIG_DIR", str(tmp_path / "config"))  # no account pilot
    args = ("--region", "examples/aoi.geojson", "--year", 2023, "--on-server", "--dry-run", "--out", tmp_path / "aoi")
    default = invoke(*args)
    (tmp_path / "aoi.pilot").mkdir()
    (tmp_path / "aoi.pilot" / "pilot.json").write_text(json.dumps({"eecu_seconds_per_pixel": 0.002}))
    measured = invoke(*args)
    assert default.exit_code == measured.exit_code == 0, measured.output
    assert "(planning default)" in default.output and "aoi.pilot/pilot.json" in measured.output
    eecu = [line for line in measured.output.splitlines() if line.startswith("EECU:")][0]
    assert eecu.startswith("EECU: 0.002 EECU-s/px")


def test_without_credentials_the_run_refuses_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    result = invoke("--region", "examples/aoi.geojson", "--year", 2023, "--on-server", "--out", tmp_path / "aoi")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "earthengine authenticate" in errors[0]
    assert result.output.strip().splitlines()[-1] == errors[0]


def test_on_server_options_need_on_server(tmp_path):
    result = invoke("--region", "examples/aoi.geojson", "--keep-on-server", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "apply to --on-server" in result.output


def test_france_job_tasks_fit_the_service_limits(synthetic_server):
    """The France job (country_region: metropolitan France, ~550,000 km²): its tiles and every export
    request are built (not run) and each is checked against the limits the strict double enforces."""
    model = ModelFile.read(resolve_model(None)[0])
    source = EarthEngineSource(object())
    settings = MapSettings(region=country_region("FRA"), year=2023)
    server = plan_server_job(source, model, settings, "FRA")
    area = server.job.region_grid.area / 1e6
    assert 540_000 < area < 560_000  # km², in the grid's metres
    assert 100 <= len(server.tiles) <= MAX_ASSETS
    batch = MapExports(source, model, server, "my-proj", ASSET_EXPORTS)
    configs = {tile: batch.export_config(tile.name, overwrite=False) for tile in server.tiles}
    for tile, config in configs.items():
        assert image_export_refusal(config) is None and image_export_failure(config) is None, tile
        assert config["max_pixels"] == tile.n_pixels <= DEFAULT_MAX_PIXELS
    assert len({c["asset_id"] for c in configs.values()}) == len(configs)  # one asset per task
    # every task sends the same graph (the region's classified composite; its grid restricts the work): the
    # bodies differ only in names, so one is measured here and three go to the strict double's own checks
    body = request_body_bytes({"expression": configs[server.tiles[0]]["image"], "description": "x" * 100})
    assert body < REQUEST_PAYLOAD_LIMIT
    fake = FakeEarthEngineClient(project="my-proj", existing_assets=True)
    for tile in server.tiles[:3]:
        fake.start_export(configs[tile])  # the double's own checks: payload, refusals, queue
    assert not fake.refusals and len(fake.tasks) == 3
    assert TASK_LIFETIME_DAYS == 10  # a tile of at most 1e8 px (10,000 km² at 10 m) per task


def test_the_double_fails_an_export_over_max_pixels_and_refuses_one_without_a_grid(synthetic_server):
    image = ee.Image.constant([1, 2]).rename(["class", "confidence"]).toUint8()
    base = dict(kind="image", image=image, description="d", destination="asset", asset_id="projects/p/assets/m/t",
                crs="EPSG:32631", crs_transform=[10.0, 0.0, 0.0, 0.0, -10.0, 0.0], dimensions="20000x10000",
                max_pixels=DEFAULT_MAX_PIXELS)
    assert image_export_refusal(base) is None
    assert "default scale is 1000 m" in image_export_refusal({**base, "crs_transform": None})
    assert image_export_refusal({**base, "asset_id": "my map"}).startswith("Invalid asset ID")
    fake = FakeEarthEngineClient(project="p", existing_assets=True)
    with pytest.raises(Exception, match="default scale is 1000 m"):
        fake.start_export({**base, "dimensions": None})
    status = fake.task_status(fake.start_export(base))
    assert status["state"] == "FAILED"
    assert status["error_message"].startswith("Export too large: specified 200000000 pixels (max: 100000000).")


def test_runs_end_to_end_on_the_strict_double(tmp_path, monkeypatch, synthetic_server, patch_stack, patch_region):
    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    out = tmp_path / "patch_map"
    args = ("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server", "--project", "test-proj",
            "--out", out, "--quiet")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "1/1 export tasks done" in result.output and "(2 B/px)" in result.output
    [(task_id, task)] = fake.tasks.items()
    asset = task["config"]["asset_id"]
    assert asset.startswith("projects/test-proj/assets/gee-crop/maps/patch_2019/") and asset in fake.image_assets
    with rasterio.open(out / "map.tif") as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and src.crs.to_epsg() == 32631
        assert tuple(src.transform)[:6] == (10.0, 0.0, 574680.0, 0.0, -10.0, 5622440.0)
        classes, confidence = src.read(1), src.read(2)
        assert src.colormap(1)[0][:3] == (255, 211, 0)
    # the same composite as the map route's computePixels serves, thresholded here
    model = ModelFile.read(resolve_model(None)[0])
    season = model.contract.season.span_at(2019, 50.75)
    served = PatchComputePixels(patch_stack, model.contract, season).images[Encoding.SQRT8][BAND]
    assert BAND in composite_band_names(season.n_bins)
    expected = np.where(served == 0, 255, (served > THRESHOLD).astype(np.uint8))
    assert classes.shape == (64, 64) and (classes == expected).all()
    assert 0 < (classes == 1).sum() < (classes != 255).sum()  # both classes occur: the threshold splits the patch
    assert (confidence[classes != 255] == 77).all()
    assert (out / "map.png").read_bytes()[:4] == b"\x89PNG" and (out / "areas.csv").is_file()
    # a rerun resumes: no task is started again, nothing is downloaded again
    rerun = invoke(*args)
    assert rerun.exit_code == 0, rerun.output
    assert len(fake.tasks) == 1 and "downloaded 0 windows" in rerun.output


def test_keep_on_server_prints_the_asset_ids(tmp_path, monkeypatch, synthetic_server, patch_region):
    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    result = invoke("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server",
                    "--keep-on-server", "--project", "test-proj", "--out", tmp_path / "m", "--quiet")
    assert result.exit_code == 0, result.output
    [asset] = fake.image_assets
    assert f"  {asset}" in result.output.splitlines() and not (tmp_path / "m" / "map.tif").exists()
    assert not [g for g in fake.graphs if g[0] == "compute_pixels"]  # nothing came home


def test_assess_takes_the_map_collection_by_the_batch_route(tmp_path, monkeypatch, synthetic_server, patch_region):
    """`gee-crop assess --map <collection>` reads the on-server map where it is: the collection's tiles
    mosaicked in their own projection, its reductions as batch exports (no pixel comes home)."""
    from gee_crop.earthengine.graph import resolved, walk_calls
    from gee_crop.pipeline.assess import _map_on_earthengine

    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    result = invoke("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server",
                    "--keep-on-server", "--project", "test-proj", "--out", tmp_path / "m", "--quiet")
    assert result.exit_code == 0, result.output
    collection = "projects/test-proj/assets/gee-crop/maps/patch_2019"
    assert fake.get_asset(collection)["type"] == "IMAGE_COLLECTION" and f"--map {collection}" in result.output
    image, geometry, batch = _map_on_earthengine(fake, collection, None, 10.0)
    calls = list(walk_calls(resolved(image)))
    assert {"function": "ImageCollection.load", "arguments": {"id": collection}} in [
        {"function": c["function"], "arguments": {"id": c["arguments"].get("id")}} for c in calls]
    assert "Image.setDefaultProjection" in {c["function"] for c in calls} and batch


def test_the_shipped_student_maps_on_the_strict_double_as_it_maps_locally(
    tmp_path, monkeypatch, offline_ee, patch_stack, patch_region
):
    """The real default model (tempcnn-weu, int8 weights dequantized) classifies on the server: its map,
    exported by the double's batch task (graph evaluated on the real patch) and downloaded, gives the class
    that onnxruntime gives the same composite on the local route for >= 97.5 % of the pixels (the int8
    model's own fp32/int8 agreement is 98.1 %: tests/earthengine/test_server_inference.py)."""
    from gee_crop.mapping.sources import TileComposite, decode_pixels
    from gee_crop.models.predict import open_predictor

    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    out = tmp_path / "student_map"
    result = invoke("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server",
                    "--project", "test-proj", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "map.tif") as src:
        classes = src.read(1)
    model_path = resolve_model(None)[0]
    model = ModelFile.read(model_path)
    season = model.contract.season.span_at(2019, 50.75)
    served = PatchComputePixels(patch_stack, model.contract, season).images[Encoding.SQRT8]
    dn = decode_pixels(served, season.n_bins, Encoding.SQRT8)
    valid = (dn != 0).all(axis=(2, 3))
    local = open_predictor(model_path).predict_proba(TileComposite(dn, valid).reflectance()).argmax(axis=1)
    assert valid.sum() > 4000 and (classes[~valid] == 255).all()
    agreement = float((classes[valid] == local).mean())
    assert agreement >= 0.975, agreement


def test_export_to_cloud_storage_writes_geotiffs_there_and_says_so(tmp_path, monkeypatch, synthetic_server,
                                                                   patch_region):
    """--export-to gcs: each tile is an Export.image.toCloudStorage task into the bucket (no asset, nothing
    downloaded), and the command says where the GeoTIFFs are."""
    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    result = invoke("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server",
                    "--export-to", "gcs", "--bucket", "my-maps", "--project", "test-proj",
                    "--out", tmp_path / "gcs_map", "--quiet")
    assert result.exit_code == 0, result.output
    [(task_id, task)] = fake.tasks.items()
    config = task["config"]
    assert config["destination"] == "gcs" and config.get("bucket") == "my-maps", config
    assert not fake.image_assets and not (tmp_path / "gcs_map" / "map.tif").exists()
    assert "sync them" in result.output
    assert not [g for g in fake.graphs if g[0] == "compute_pixels"]  # nothing came home
