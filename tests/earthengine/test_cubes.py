"""composite_cube through the real xee backend, offline: ee.data.computeValue (xee's metadata request)
and ee.data.computePixels (xee's pixel requests) are answered from the real demo patch, composited
with the training code (gee_crop.testing.fake_ee_patch plays the server)."""
from __future__ import annotations

import json
import sys

import ee
import numpy as np
import pytest
from numpy.lib.recfunctions import repack_fields
from shapely.geometry import box

from gee_crop.config import BANDS, S2_COLLECTION
from gee_crop.data.regions import reproject_geometry
from gee_crop.data.stacks import open_local_stack
from gee_crop.errors import XeeMissingError
from gee_crop.features.composite import arrays_from_stack, composite_medians, fill_gaps
from gee_crop.features.indices import ndvi
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.cubes import composite_cube, ndvi_cube
from gee_crop.season import Season, SeasonSpan
from gee_crop.testing.fake_ee_patch import PatchComputePixels

# xee 0.1.2's own use of affine's deprecated `*`
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

ROWS, COLS = slice(8, 40), slice(16, 56)  # a 32 x 40 px window of the 64 x 64 px patch


def _invocations(expression: ee.ComputedObject) -> tuple[dict, list[dict]]:
    """The serialized graph's value table and every function invocation in it (each node once)."""
    graph = json.loads(expression.serialize(for_cloud_api=True))
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "functionInvocationValue" in node:
                found.append(node["functionInvocationValue"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(graph["values"])
    return graph["values"], found


def _constant(values: dict, arg: dict):
    """Resolve a serialized argument made of constants (following valueReferences)."""
    if "valueReference" in arg:
        return _constant(values, values[arg["valueReference"]])
    if "arrayValue" in arg:
        return [_constant(values, v) for v in arg["arrayValue"]["values"]]
    return arg["constantValue"]


class XeeServer:
    """Answers xee's two kinds of requests from the patch; records what was asked."""

    def __init__(self, patch_fake: PatchComputePixels, n_bins: int):
        self.pixels, self.n_bins = patch_fake, n_bins
        self.metadata_functions: set[str] = set()
        self.requests: list[dict] = []

    def compute_value(self, obj):
        _, calls = _invocations(obj)
        self.metadata_functions = {c["functionName"] for c in calls}
        data_type = {"type": "PixelType", "precision": "int", "min": 0, "max": 65535}
        first = {"type": "Image", "bands": [{"id": b, "data_type": data_type} for b in BANDS], "properties": {}}
        # size, collection properties, first image, [system:id list, system:time_start list]
        return [self.n_bins, {}, first, [[], []]]

    def compute_pixels(self, params: dict) -> np.ndarray:
        values, calls = _invocations(params["expression"])
        (to_list,) = [c["arguments"] for c in calls if c["functionName"] == "Collection.toList"]
        # xee stacks the images of one band with addBands(names=[band]); the composite's own addBands
        # (the window index band) has no names
        (add_bands,) = [c["arguments"] for c in calls
                        if c["functionName"] == "Image.addBands" and "names" in c["arguments"]]
        offset = _constant(values, to_list["offset"]) if "offset" in to_list else 0
        count = _constant(values, to_list["count"])
        (band,) = _constant(values, add_bands["names"])
        collections = {_constant(values, c["arguments"]["id"]) for c in calls
                       if c["functionName"] == "ImageCollection.load"}
        self.requests.append({"band": band, "bins": (offset, count), "grid": params["grid"],
                              "collections": collections, "format": params.get("fileFormat")})
        names = [f"{band}_t{k:02d}" for k in range(offset, offset + count)]
        # the server answers a packed array of just these bands (a field selection is a padded view)
        return repack_fields(self.pixels.compute_pixels(params["expression"], params["grid"], names))


@pytest.fixture(scope="module")
def patch_stack(patch_dir):
    return open_local_stack(patch_dir)


def _serve(monkeypatch, stack, spec: FeatureSpec, season: SeasonSpan) -> XeeServer:
    server = XeeServer(PatchComputePixels(stack, spec, season), season.n_bins)
    monkeypatch.setattr(ee.data, "computeValue", server.compute_value)
    monkeypatch.setattr(ee.data, "computePixels", server.compute_pixels)
    return server


def _window_region(stack):
    """WGS84 polygon of the ROWS x COLS window of the patch (its UTM pixel edges)."""
    x0, y1 = stack.upper_left
    res = stack.resolution
    utm = box(x0 + COLS.start * res, y1 - ROWS.stop * res, x0 + COLS.stop * res, y1 - ROWS.start * res)
    return reproject_geometry(utm, stack.crs, "EPSG:4326")


def _client_composite(stack, spec: FeatureSpec, season: SeasonSpan) -> tuple[np.ndarray, np.ndarray]:
    """Client-side composite of the window: (10, n_bins, h, w) reflectance (NaN where dropped), keep."""
    dn = stack.dn[:, ROWS, COLS]
    t, h, w, n_bands = dn.shape
    arrays = arrays_from_stack(dn.reshape(t, h * w, n_bands).transpose(1, 0, 2),
                               stack.cloud[:, ROWS, COLS].reshape(t, h * w).T, stack.dates,
                               stack.cloud_kind, spec.cloud_threshold)
    medians = composite_medians(arrays, season.start_day, season.window_days, season.n_bins)
    filled, keep = fill_gaps(medians, spec.max_gap_bins)
    filled[~keep] = np.nan
    return filled.reshape(h, w, n_bands, -1).transpose(2, 3, 0, 1), keep.reshape(h, w)


@pytest.mark.parametrize("max_gap_bins", [8, 4])
def test_cube_equals_client_composite_of_the_real_patch(monkeypatch, patch_stack, max_gap_bins):
    season = Season().span(2019, "north")
    spec = FeatureSpec(cloud_threshold=0.75, max_gap_bins=max_gap_bins)
    server = _serve(monkeypatch, patch_stack, spec, season)

    cube = composite_cube(_window_region(patch_stack), season, crs=patch_stack.crs, scale=10,
                          max_gap_bins=max_gap_bins)
    assert server.requests == []  # lazy: opening asks only for metadata
    values = cube.values

    expected, keep = _client_composite(patch_stack, spec, season)
    assert cube.dims == ("band", "bin", "y", "x") and values.shape == (10, 43, 32, 40)
    assert values.dtype == np.float32
    assert cube["band"].values.tolist() == list(BANDS)
    assert cube["bin"].values.tolist() == list(range(43))
    assert cube["bin_start"].values[[0, 1, 42]].astype("datetime64[D]").astype(str).tolist() == [
        "2019-05-01", "2019-05-06", "2019-11-27"]
    # pixel centres of the window in the patch's UTM grid
    np.testing.assert_allclose(cube["x"].values, patch_stack.x[COLS])
    np.testing.assert_allclose(cube["y"].values, patch_stack.y[ROWS])
    # uint16 DN rounding is the only difference from the client-side composite
    assert np.array_equal(np.isnan(values), np.isnan(expected))
    np.testing.assert_allclose(values, expected, atol=0.5e-4 + 1e-6, equal_nan=True)
    assert np.array_equal(~np.isnan(values).all(axis=(0, 1)), keep)
    # the 2019 season of this patch has long cloudy gaps: the limit masks part of the window (51 %
    # of the pixels at 8 bins, 71 % at 4), never all of it
    assert 0 < (~keep).sum() < keep.size
    # one request per band for all 43 windows (not one per band and window), from the S2 composite
    assert sorted(r["band"] for r in server.requests) == sorted(BANDS)
    assert {r["bins"] for r in server.requests} == {(0, 43)}
    assert all(S2_COLLECTION in r["collections"] for r in server.requests)
    assert {"Collection.size", "Collection.first", "Collection.reduceColumns"} <= server.metadata_functions


def test_ndvi_cube_is_ndvi_of_the_composite(monkeypatch, patch_stack):
    season = Season().span(2019, "north")
    spec = FeatureSpec()
    server = _serve(monkeypatch, patch_stack, spec, season)

    cube = composite_cube(_window_region(patch_stack), season, crs=patch_stack.crs)
    index = ndvi_cube(cube)
    values = index.values

    assert sorted(r["band"] for r in server.requests) == ["B4", "B8"]  # only red and NIR are fetched

    assert index.dims == ("bin", "y", "x") and values.shape == (43, 32, 40)
    np.testing.assert_array_equal(values, ndvi(cube.values, band_axis=0))
    # against the unrounded client composite: DN rounding moves NDVI of dark pixels by < 1e-3
    expected = ndvi(_client_composite(patch_stack, spec, season)[0], band_axis=0)
    np.testing.assert_allclose(values, expected, atol=1e-3, equal_nan=True)
    assert 0.6 < np.nanmax(values) <= 1  # crops reach a dense canopy during the season


def test_missing_xee_names_the_extra_to_install(monkeypatch, patch_stack):
    monkeypatch.setitem(sys.modules, "xee", None)  # makes `import xee` raise ImportError
    with pytest.raises(XeeMissingError, match=r"pip install 'gee-crop\[notebooks\]'"):
        composite_cube(_window_region(patch_stack), Season().span(2019), crs=patch_stack.crs)
