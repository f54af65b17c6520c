"""EMIT end to end on the strict double: `sample --emit` -> `train --features emit_june_august` (RF-500, and a
tiny CropNet 1D) -> `evaluate` -> `export` -> `map`, with REAL EMIT reflectance (the 10 x 10 cube of
../shared/data/emit laid over the double's patch, moved near Paris). SYNTHETIC, because no real EMIT pair of
months or cloud flag exists in the data (gee_crop/testing/fake_emit.py): the cube is served as a June and an
August 2023 acquisition (and the Flanders 2019 patch served four years later: EMIT starts in August
2022), June flagged cloudy in the scene's top row and August in its right column."""

from __future__ import annotations

import json
import re

import ee
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from pyproj import Transformer
from shapely import contains_xy
from shapely import geometry as sg

from gee_crop.cli import main
from gee_crop.classes import NO_CLASS
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.emit import map_band_names, map_composite
from gee_crop.errors import EarthEngineError
from gee_crop.models.io import read_model_file
from gee_crop.models.predict import open_predictor
from gee_crop.sensors import EMIT
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.fake_emit import EmitAcquisition, EmitScene
from gee_crop.testing.offline_ee import initialize_offline
from gee_crop.testing.paths import demo_patch_dir
from tests.cli.errors import user_error

PARIS = (2.35, 48.85)
FRA_LABELS = {"projects/p/assets/gee-crop/labels/FRA_RPG_2023"}
MONTHS = "2023-06 and 2023-08"


def _double() -> FakeEarthEngineClient:
    fake = FakeEarthEngineClient(anchor=PARIS, existing_assets=FRA_LABELS, years_later=4)
    june, august = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    june[0, :], august[:, 9] = True, True  # SYNTHETIC cloud flags
    fake.emit = EmitScene.over(fake.patch, (EmitAcquisition("2023-06-14", june), EmitAcquisition("2023-08-20", august)))
    return fake


def _box(path, west, south, east, north):
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[west, south], [east, south], [east, north], [west, north], [west, south]]]}))
    return path


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def emit_run(tmp_path_factory):
    """The EMIT table of a `sample --emit` run on the double, and the double."""
    initialize_offline()
    fake = _double()
    folder = tmp_path_factory.mktemp("emit_e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
        aoi = _box(folder / "aoi.geojson", 2.3, 48.8, 2.4, 48.9)
        cli("sample", "--region", aoi, "--year", 2023, "--emit", "--per-cell", 60, "--buffer-m", 0,
            "--project", "p", "--out", folder / "t.parquet")
    return folder, fake


def _map(folder, fake, monkeypatch, model, region, out):
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    return CliRunner().invoke(main, ["map", "--region", str(region), "--model", str(model), "--year", "2023",
                                     "--project", "p", "--out", str(out), "--quiet"])


def _expected(fake, grid_path):
    """Per output pixel: (covered, scene row, scene col) from the double's scene and the map's own grid."""
    with rasterio.open(grid_path) as src:
        classes, transform, crs, (h, w) = src.read(1), src.transform, src.crs.to_string(), src.shape
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x, y = rasterio.transform.xy(transform, rows.ravel() - 0.5, cols.ravel() - 0.5)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(np.array(x), np.array(y))
    scene = fake.emit
    row, col, inside = scene.cells(lon - fake.shift[0], lat - fake.shift[1])
    clear = inside & ~scene.acquisitions[0].cloudy[row, col] & ~scene.acquisitions[1].cloudy[row, col]
    return classes, clear.reshape(h, w), row.reshape(h, w), col.reshape(h, w), (lon.reshape(h, w), lat.reshape(h, w))


def test_emit_table_trains_evaluates_exports_and_maps_where_emit_is_clear(emit_run, monkeypatch):
    folder, fake = emit_run
    table = folder / "t.emit.parquet"
    cli("train", table, "--features", "emit_june_august", "--arch", "random_forest", "--out", folder / "rf", "--quiet")
    forest = folder / "rf" / "model.onnx"
    scored = cli("evaluate", forest, table, "--out", folder / "rf" / "eval")
    assert re.search(r"OA\s+\d+\.\d+ %", scored.output)
    lon, lat = fake.lon, fake.lat
    region = _box(folder / "small.geojson", lon.min() - 0.004, lat.min() - 0.003, lon.max() + 0.004, lat.max() + 0.003)
    result = _map(folder, fake, monkeypatch, forest, region, folder / "map")
    assert result.exit_code == 0, result.output
    classes, clear, row, col, (plon, plat) = _expected(fake, folder / "map" / "map.tif")
    in_region = contains_xy(sg.shape(json.loads(region.read_text())), plon, plat)
    covered = clear & in_region
    assert ((classes != NO_CLASS) == covered).all() and 0 < covered.sum() < in_region.sum()
    # where covered, the forest's class of the real EMIT spectrum of that 60 m pixel (June and August: the same
    # real acquisition), month-major as in training
    kept = [EMIT.product_bands.index(b) for b in EMIT.bands]
    spectra = fake.emit.stored[row[covered], col[covered]][:, kept]
    expected = open_predictor(read_model_file(forest)).predict_proba(np.hstack([spectra, spectra])).argmax(axis=1)
    assert np.array_equal(classes[covered], expected)
    share = 100 * (1 - covered.sum() / in_region.sum())
    assert (f"warning: {share:.1f} % of the region has no clear EMIT pixel in every month of {MONTHS}: "
            "nodata there in map.tif") in result.output
    with rasterio.open(folder / "map" / "map.tif") as src:
        assert src.res == (60.0, 60.0) and src.crs.to_string() == "EPSG:32631"  # the EMIT grid on the UTM zone
    summary = json.loads((folder / "map" / "summary.json").read_text())
    assert summary["min_bytes_per_pixel"] == 4 * 244 * 2  # float32 reflectance, 244 bands, 2 months


def test_a_cropnet1d_exported_to_onnx_maps_the_same_pixels(emit_run, monkeypatch):
    folder, fake = emit_run
    table = folder / "t.emit.parquet"
    cli("train", table, "--features", "emit_june_august", "--arch", "cropnet1d", "--epochs", 2, "--widths", "8,8,8,8",
        "--out", folder / "cnn", "--quiet")
    exported = cli("export", folder / "cnn" / "model.pt", "--out", folder / "cnn" / "model.onnx", "--table", table)
    assert "parity: max |dprob|" in exported.output
    lon, lat = fake.lon, fake.lat
    region = _box(folder / "cnn.geojson", lon.min(), lat.min(), lon.max(), lat.max())
    result = _map(folder, fake, monkeypatch, folder / "cnn" / "model.onnx", region, folder / "cnn_map")
    assert result.exit_code == 0, result.output
    classes, clear, *_ , (plon, plat) = _expected(fake, folder / "cnn_map" / "map.tif")
    covered = clear & contains_xy(sg.shape(json.loads(region.read_text())), plon, plat)
    assert ((classes != NO_CLASS) == covered).all() and covered.any()
    n_classes = len(read_model_file(folder / "cnn" / "model.onnx").contract.classes)
    assert (classes[covered] < n_classes).all()


def test_a_region_emit_never_saw_clear_is_an_error_naming_the_months(emit_run, monkeypatch):
    folder, fake = emit_run
    if not (folder / "rf" / "model.onnx").exists():
        cli("train", folder / "t.emit.parquet", "--features", "emit_june_august", "--arch", "random_forest",
            "--out", folder / "rf", "--quiet")
    lon, lat = fake.lon.mean() + 0.05, fake.lat.mean()  # 3.7 km east of the scene
    region = _box(folder / "away.geojson", lon - 0.003, lat - 0.002, lon + 0.003, lat + 0.002)
    result = _map(folder, fake, monkeypatch, folder / "rf" / "model.onnx", region, folder / "away")
    assert result.exit_code == 1
    assert f"Error: EMIT has no clear pixel in every month of {MONTHS} over the region" in result.output
    assert not (folder / "away" / "map.tif").exists()


def test_a_year_before_emit_existed_is_refused_before_any_request(emit_run, monkeypatch):
    folder, fake = emit_run
    if not (folder / "rf" / "model.onnx").exists():
        cli("train", folder / "t.emit.parquet", "--features", "emit_june_august", "--arch", "random_forest",
            "--out", folder / "rf", "--quiet")
    graphs = len(fake.graphs)  # every graph the double was sent
    region = _box(folder / "early.geojson", 2.3, 48.8, 2.4, 48.9)
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    result = CliRunner().invoke(main, ["map", "--region", str(region), "--model", str(folder / "rf" / "model.onnx"),
                                       "--year", "2021", "--project", "p", "--out", str(folder / "early"), "--quiet"])
    user_error(result, "EMIT (NASA/EMIT/L2A/RFL) starts on 2022-08-09, after 2021-06, 2021-08")
    assert not (folder / "early" / "map.tif").exists() and len(fake.graphs) == graphs


def test_the_double_refuses_what_the_service_refuses():
    """A band NASA/EMIT/L2A/RFL does not have (there is no `cloud_mask` band: the flag is `cloud_flag`), and a
    request over computePixels' 48 MiB."""
    initialize_offline()
    fake = _double()
    region = ee.Geometry.Rectangle([2.3, 48.8, 2.4, 48.9])
    grid = {"dimensions": {"width": 4, "height": 4}, "crsCode": "EPSG:32631",
            "affineTransform": {"scaleX": 60.0, "shearX": 0.0, "translateX": 0.0, "shearY": 0.0, "scaleY": -60.0,
                                "translateY": 0.0}}
    with pytest.raises(EarthEngineError, match="Pattern 'cloud_mask' did not match any bands"):
        fake.compute_pixels(map_composite(region, 2023, (6,), ("cloud_mask",)), grid, map_band_names((6,), ("cloud_mask",)))
    big = {**grid, "dimensions": {"width": 160, "height": 160}}
    with pytest.raises(EarthEngineError, match="more than the 50331648"):
        fake.compute_pixels(map_composite(region, 2023, (6, 8), EMIT.bands), big, map_band_names((6, 8), EMIT.bands))


def test_an_emit_model_on_a_local_stack_or_a_pilot_is_refused_in_one_line(emit_run, monkeypatch):
    folder, fake = emit_run
    model = folder / "rf" / "model.onnx"
    if not model.exists():
        cli("train", folder / "t.emit.parquet", "--features", "emit_june_august", "--arch", "random_forest",
            "--out", folder / "rf", "--quiet")
    local = CliRunner().invoke(main, ["map", "--source", str(demo_patch_dir()), "--model", str(model),
                                      "--out", str(folder / "local")])
    assert local.exit_code == 1
    assert "Error: an EMIT model maps from EMIT on Earth Engine; give --region (or --bbox)" in local.output
    monkeypatch.setattr(ee_client, "get_client", lambda project=None, service_account_key=None: fake)
    region = _box(folder / "pilot.geojson", 2.34, 48.84, 2.36, 48.86)
    piloted = CliRunner().invoke(main, ["map", "--region", str(region), "--model", str(model), "--year", "2023",
                                        "--project", "p", "--out", str(folder / "pilot"), "--pilot", "1"])
    assert piloted.exit_code == 1 and "reads emit bands, and this source delivers sentinel2 bands only" in piloted.output
