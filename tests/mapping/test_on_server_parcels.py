"""``gee-crop map --on-server --parcels``: the parcel table from a ``reduceRegions`` table export on the strict
double, no pixel downloaded for it.

The parcels are the real label raster's regions of the demo patch (``label_raster_parcels``), written to a
GeoPackage. On the server, a synthetic classifier (a threshold on one band of the real composite, as in
test_on_server.py; synthetic ``p_<class>`` bands) stands in for the model: the double evaluates the reduction's
table export over that graph (``ee_grid_eval.reduced_features``, the patch composite served as for the image
exports). The local route's counting (``mapping.parcels.parcel_table``) over the map the same run downloaded
is what the table must equal: the same classifier, the same pixels."""
from __future__ import annotations

import csv

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.classes import CLASSES
from gee_crop.data.demo import demo_patch
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.client import REQUEST_PAYLOAD_LIMIT
from gee_crop.mapping.parcels import label_raster_parcels, on_grid, parcel_table, read_parcels
from gee_crop.mapping.tiling import OutputGrid
from gee_crop.testing.fake_ee import FakeEarthEngineClient

def _write(path, geoms, props, crs):
    fields = list(props[0])
    pyogrio.raw.write(
        str(path), geometry=np.array([shapely.to_wkb(g) for g in geoms], dtype=object),
        field_data=[np.array([p[f] for p in props], dtype=object if f == "label" else np.int64) for f in fields],
        fields=fields, crs=crs, geometry_type="Unknown", driver="GPKG",
    )
    return path


@pytest.fixture(scope="module")
def demo_parcels(tmp_path_factory):
    patch = demo_patch()
    parcels = label_raster_parcels(patch.classes, patch.transform, patch.crs, CLASSES)
    return _write(tmp_path_factory.mktemp("parcels") / "parcels.gpkg", parcels.geometries, parcels.properties,
                  patch.crs)


def invoke(*args):
    return CliRunner().invoke(cli.main, ["map", *map(str, args)])


def test_on_server_parcel_table_equals_the_local_count(tmp_path, monkeypatch, synthetic_server, patch_region,
                                                       demo_parcels):
    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    out = tmp_path / "m"
    args = ("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server", "--project",
            "test-proj", "--parcels", demo_parcels, "--out", out, "--quiet")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    tables = [t["config"] for t in fake.tasks.values() if t["config"].get("kind") != "image"]
    assert len(tables) == 1 and tables[0]["asset_id"] in fake.asset_rows  # one batch table export
    assert f"parcel table on Earth Engine: {tables[0]['asset_id']}" in result.output
    assert "2/2 export tasks done" in result.output  # the map's one tile and the parcel table
    fetched = [g for g in fake.graphs if g[0] == "compute_pixels"]
    assert len(fetched) == 1  # the map's one download window; the parcels fetched no pixel
    with open(out / "parcels.csv", newline="", encoding="utf-8") as f:
        server = list(csv.DictReader(f))
    # the local route's count over the map this run downloaded
    with rasterio.open(out / "map.tif") as src:
        grid = OutputGrid(src.crs.to_string(), tuple(src.transform)[:6], src.width, src.height)
        class_band, confidence = src.read(1), src.read(2)
    parcels = read_parcels(demo_parcels)
    local = parcel_table(on_grid(parcels, grid), grid, CLASSES, class_band, confidence)
    assert len(server) == len(local) == len(parcels)
    keys = ["class", "n_pixels", "share", "small", "mostly_outside", "no_interior", "overlaps"]
    as_text = [["" if r[k] is None else str(r[k]) for k in keys] for r in local]  # as the CSV writer writes
    assert [[r[k] for k in keys] for r in server] == as_text
    assert [r["parcel_id"] for r in server] == [str(p["parcel_id"]) for p in parcels.properties]
    assert {r["class"] for r in server} >= {CLASSES[0], CLASSES[1]}  # both classes win somewhere: not vacuous
    assert sum(r["no_interior"] == "True" for r in server) >= 1
    assert pyogrio.read_info(out / "parcels.gpkg")["features"] == len(parcels)
    # a rerun resumes: no task started again
    n_tasks = len(fake.tasks)
    assert invoke(*args).exit_code == 0 and len(fake.tasks) == n_tasks


def test_keep_on_server_leaves_the_parcel_table_an_asset(tmp_path, monkeypatch, synthetic_server, patch_region,
                                                         demo_parcels):
    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    result = invoke("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server",
                    "--keep-on-server", "--project", "test-proj", "--parcels", demo_parcels, "--out", tmp_path / "m",
                    "--quiet")
    assert result.exit_code == 0, result.output
    [asset] = fake.asset_rows
    assert f"parcel table on Earth Engine: {asset}" in result.output
    assert not (tmp_path / "m" / "parcels.csv").exists()
    assert not [g for g in fake.graphs if g[0] in ("compute_pixels", "compute_features")]  # nothing came home


def test_parcels_too_large_for_a_request_are_refused_naming_the_asset_route(tmp_path, monkeypatch, synthetic_server,
                                                                          patch_region, patch_stack):
    """Synthetic parcels with jagged edges (1,400 distinct parcels of 400 vertices 0.5 m apart, 2 m zigzag: simplification at 0.5 m keeps
    them) over the patch: more than 10,485,760 bytes of request."""
    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    x0, y0 = patch_stack.upper_left
    t = np.arange(0, 200, 1.0)
    geoms, props = [], []
    for k in range(1400):
        ox, oy = x0 + (k % 5) * 100.0, y0 - 20.0 - (k // 5) * 2.1
        bottom = np.column_stack([ox + t / 2, oy + 2.0 * (np.arange(t.size) % 2)])
        top = np.column_stack([ox + t[::-1] / 2, oy + 10 + 2.0 * (np.arange(t.size) % 2)])
        geoms.append(shapely.Polygon(np.vstack([bottom, top])))
        props.append({"parcel_id": k + 1})
    path = _write(tmp_path / "big.gpkg", geoms, props, patch_stack.crs)
    result = invoke("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server", "--project",
                    "test-proj", "--parcels", path, "--out", tmp_path / "m", "--quiet")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.output.strip().splitlines()[-1] == errors[0]
    assert f"{REQUEST_PAYLOAD_LIMIT:,} bytes" in errors[0] and "--parcels projects/PROJECT/assets/parcels" in errors[0]
    assert not fake.tasks  # refused before any task


def test_a_parcel_asset_that_does_not_exist_is_refused_before_any_task(tmp_path, monkeypatch, synthetic_server,
                                                                      patch_region):
    fake = FakeEarthEngineClient(project="test-proj")
    monkeypatch.setattr(ee_client, "get_client", lambda *a, **k: fake)
    result = invoke("--region", patch_region, "--year", 2019, "--crs", "EPSG:32631", "--on-server", "--project",
                    "test-proj", "--parcels", "projects/test-proj/assets/fields", "--out", tmp_path / "m", "--quiet")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "projects/test-proj/assets/fields does not exist" in errors[0]
    assert not fake.tasks
