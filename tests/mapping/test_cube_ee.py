"""`gee-crop cube --region --labels` on the strict double: the server graph (composite + painted, buffered
labels) evaluated on each block's grid from the real demo patch, against the local route's cube of the same
patch and the same polygons (the patch's own parcel raster, polygonized: real WorldCereal codes)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from rasterio import Affine
from rasterio.features import shapes
from shapely import geometry as sg

from gee_crop.classes import NO_CLASS, Legend
from gee_crop.cli import main
from gee_crop.data.cube import CubeStore
from gee_crop.data.patch import read_patch
from gee_crop.data.regions import reproject_geometry
from gee_crop.data.sample_jobs import own_labels
from gee_crop.data.sampling import stack_classes
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.labels import LABEL_BAND
from gee_crop.mapping.cube_build import build_cube
from gee_crop.mapping.cube_ee import build_ee_cube, ee_cube_plan_lines, plan_ee_cube
from gee_crop.testing.fake_ee import FakeEarthEngineClient
from gee_crop.testing.fake_ee_patch import PatchComputePixels

LEGEND = "code,class\n1110,winter_wheat\n1200,maize\n1500,other\n1510,other\n5100,other\n8100,other\n9120,other\n0,exclude\n"
MARGIN = 2  # the region: the patch less 2 px on each side (the inward buffer never looks past the patch)
BUFFER_M, BLOCK = 10.0, 32


@pytest.fixture(scope="module")
def fields(tmp_path_factory, patch_dir):
    """(GeoJSON of the patch's parcels in WGS84 with field ``code``, its legend CSV)."""
    folder = tmp_path_factory.mktemp("ee_cube_labels")
    patch = read_patch(patch_dir, with_labels=True)
    features = [
        {"type": "Feature", "properties": {"code": int(v)},
         "geometry": sg.mapping(reproject_geometry(sg.shape(g), patch.crs, "EPSG:4326"))}
        for g, v in shapes(patch.labels.astype(np.int32), transform=Affine(*patch.transform)) if v != 0
    ]
    path = folder / "fields.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    legend = folder / "legend.csv"
    legend.write_text(LEGEND)
    return path, legend


def _region(stack):
    x0, y1 = stack.upper_left
    res, n = stack.resolution, stack.shape[0]
    utm = sg.box(x0 + MARGIN * res, y1 - (n - MARGIN) * res, x0 + (n - MARGIN) * res, y1 - MARGIN * res)
    return reproject_geometry(utm, stack.crs, "EPSG:4326")


def _planned(fields, stack):
    path, legend = fields
    own = own_labels(str(path), "code", Legend.read_user(legend))
    return plan_ee_cube(_region(stack), own, buffer_m=BUFFER_M, year=2019, block_px=BLOCK)


def test_earth_engine_cube_equals_the_local_cube_of_the_same_patch_and_polygons(fields, patch_dir, patch_stack,
                                                                                tmp_path, offline_ee):
    path, legend = fields
    labelled = stack_classes(patch_dir, path, BUFFER_M, legend=Legend.read_user(legend), label_field="code")
    local = CubeStore(build_cube(labelled, tmp_path / "local.zarr", year=2019, block_px=BLOCK,
                                 echo=lambda _: None).out)
    cube = _planned(fields, patch_stack)
    server = PatchComputePixels(patch_stack, cube.info.spec, cube.info.season)
    fake = FakeEarthEngineClient(pixels=server.compute_pixels)

    summary = build_ee_cube(cube, fake, str(tmp_path / "ee.zarr"), echo=lambda _: None)
    ee_cube = CubeStore(summary.out)

    info = ee_cube.info
    assert (info.crs, info.season, info.spec.classes) == (local.info.crs, local.info.season, local.info.spec.classes)
    # the EE grid is map's UTM 10 m grid of the region: a window of the patch's grid
    col0 = round((info.transform[2] - patch_stack.upper_left[0]) / 10)
    row0 = round((patch_stack.upper_left[1] - info.transform[5]) / 10)
    assert (row0, col0) == (MARGIN, MARGIN) and (info.height, info.width) == (60, 60)
    window = (slice(row0, row0 + info.height), slice(col0, col0 + info.width))
    expected_labels = local.labels()[window]
    expected_dn = np.asarray(local.group["composite"][:])[window]
    labels, dn = ee_cube.labels(), np.asarray(ee_cube.group["composite"][:])
    # pixel for pixel: the same labelled pixels, classes and uint16 DN (no tolerance)
    assert np.array_equal(labels, expected_labels)
    assert np.array_equal(dn, expected_dn)
    kept = labels != NO_CLASS
    assert 2000 < kept.sum() < labels.size and set(np.unique(labels[kept])) == {0, 1, 2}
    assert summary.class_counts == {c: int((labels == i).sum()) for i, c in enumerate(info.spec.classes)}
    # one request per block, each asking for the composite and the painted label band
    asked = [r for r in server.requests if r["band_ids"] and LABEL_BAND in r["band_ids"]]
    assert len(asked) == 4 and all(len(r["band_ids"]) == 10 * info.n_bins + 1 for r in asked)


def test_dry_run_plans_requests_pixels_and_bytes_without_credentials(fields, patch_stack, monkeypatch):
    monkeypatch.setattr(ee_client, "get_client", lambda **kw: pytest.fail("a dry run needs no Earth Engine"))
    path, legend = fields
    result = CliRunner().invoke(main, [
        "cube", "--region", str(_write_region(patch_stack, path.parent)), "--labels", str(path),
        "--label-field", "code", "--legend", str(legend), "--year", "2019", "--block-px", str(BLOCK),
        "--dry-run", "--out", str(path.parent / "never.zarr")])
    assert result.exit_code == 0, result.output
    assert "requests: 4 computePixels" in result.output
    assert f"pixels: {60 * 60:,} requested; bytes: {60 * 60 * 431 * 2:,}" in result.output
    assert not (path.parent / "never.zarr").exists()


def test_the_real_command_refuses_in_one_line_without_credentials(fields, patch_stack, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no stored credentials
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "EE_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    path, legend = fields
    result = CliRunner().invoke(main, [
        "cube", "--region", str(_write_region(patch_stack, tmp_path)), "--labels", str(path),
        "--label-field", "code", "--legend", str(legend), "--year", "2019", "--out", str(tmp_path / "c.zarr")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    assert "credentials" in line and "earthengine authenticate" in line
    assert not (tmp_path / "c.zarr").exists()


def _write_region(stack, folder):
    region = folder / "aoi.geojson"
    region.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": sg.mapping(_region(stack))}))
    return region


def test_a_block_request_over_the_body_limit_is_refused_in_one_line_naming_the_table_asset(
        fields, patch_stack, monkeypatch, tmp_path, offline_ee):
    from gee_crop.earthengine import cube as ee_cube

    # synthetic limit: the service's 10,485,760 bytes scaled down so that the demo's parcels pass it
    monkeypatch.setattr(ee_cube, "CUBE_REQUEST_MARGIN", 10_000 / ee_cube.REQUEST_PAYLOAD_LIMIT)
    cube = _planned(fields, patch_stack)
    fake = FakeEarthEngineClient(pixels=PatchComputePixels(patch_stack, cube.info.spec, cube.info.season).compute_pixels)
    monkeypatch.setattr(ee_client, "get_client", lambda **kw: fake)
    path, legend = fields
    result = CliRunner().invoke(main, [
        "cube", "--region", str(_write_region(patch_stack, tmp_path)), "--labels", str(path),
        "--label-field", "code", "--legend", str(legend), "--year", "2019", "--block-px", str(BLOCK),
        "--buffer-m", "10", "--out", str(tmp_path / "c.zarr")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    assert "10,485,760 bytes" in line and "--labels projects/PROJECT/assets/labels" in line
    assert not [g for g in fake.graphs if g[0] == "compute_pixels"]  # refused before any request
