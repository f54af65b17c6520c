"""PatchComputePixels plays Earth Engine's computePixels on the shipped patch: a window it serves holds
the client-side (training) composite of the same pixels, in the encoding the graph asks for."""
from __future__ import annotations

import ee
import numpy as np
import pytest

from gee_crop.data.patch import patch_pixels
from gee_crop.earthengine.composite import composite_band_names, encode_sqrt8
from gee_crop.errors import EarthEngineError
from gee_crop.features.composite import median_features
from gee_crop.mapping.sources import quantize_dn
from gee_crop.testing.fake_ee_patch import PatchComputePixels, encoding_of
from tests.testing.conftest import grid_of

#: A window over the patch's south-east corner that reaches 4 px past its bottom and right edges; it holds
#: the 4 pixels (rows 50-51, cols 48-49) whose longest cloudy gap exceeds 10 bins, which the server masks.
ROW0, COL0, HEIGHT, WIDTH = 44, 40, 24, 28


def training_composite(patch, spec, rows: np.ndarray, cols: np.ndarray):
    """The training path's gap-filled 5-day medians of the patch pixels (rows, cols), 2019 season."""
    series = patch_pixels(patch, rows.ravel(), cols.ravel())
    return median_features(series, year=2019, max_gap_bins=spec.max_gap_bins, threshold=spec.cloud_threshold)


def band_major(tile: np.ndarray, n_bins: int) -> np.ndarray:
    """(h, w) structured tile -> (h * w, 10, n_bins) values."""
    return np.stack([tile[name] for name in composite_band_names(n_bins)], axis=-1).reshape(-1, 10, n_bins)


def test_a_served_window_is_the_training_composite_of_its_pixels(patch, spec, season, server):
    tile = server.compute_pixels(None, grid_of(patch, ROW0, COL0, HEIGHT, WIDTH))
    assert tile.shape == (HEIGHT, WIDTH) and tile.dtype.names == tuple(composite_band_names(43))
    inside = band_major(tile[:64 - ROW0, :64 - COL0], 43)
    rows, cols = np.meshgrid(np.arange(ROW0, 64), np.arange(COL0, 64), indexing="ij")
    expected = training_composite(patch, spec, rows, cols)
    masked = ~expected.keep
    assert masked.sum() == 4 and set(zip(rows.ravel()[masked], cols.ravel()[masked])) == {
        (50, 48), (50, 49), (51, 48), (51, 49)}
    np.testing.assert_array_equal(inside[expected.keep], quantize_dn(expected.values[expected.keep]))
    assert (inside[masked] == 0).all()  # masked on the server: arrives as 0
    assert (band_major(tile[64 - ROW0:], 43) == 0).all() and (band_major(tile[:, 64 - COL0:], 43) == 0).all()


def test_band_ids_select_fields_and_every_request_is_recorded(patch, server):
    before = len(server.requests)
    grid = grid_of(patch, 0, 0, 8, 8)
    tile = server.compute_pixels("graph", grid, ["B4_t10", "B8_t10"])
    assert tile.dtype.names == ("B4_t10", "B8_t10")
    whole = server.compute_pixels("graph", grid)
    np.testing.assert_array_equal(tile["B8_t10"], whole["B8_t10"])
    assert server.requests[before:] == [{"expression": "graph", "grid": grid, "band_ids": ["B4_t10", "B8_t10"]},
                                        {"expression": "graph", "grid": grid, "band_ids": None}]


def test_sqrt8_is_served_when_the_graph_casts_to_uint8_last(offline_ee, patch, spec, server):
    assert encoding_of(ee.Image(1).toUint8()) == "sqrt8"
    assert encoding_of(ee.Image(1).toUint8().toUint16()) == "uint16"
    assert encoding_of("not a graph") == "uint16"
    tile = server.compute_pixels(ee.Image(1).toUint8(), grid_of(patch, 20, 20, 6, 6))
    assert tile.dtype["B2_t00"] == np.uint8
    rows, cols = np.meshgrid(np.arange(20, 26), np.arange(20, 26), indexing="ij")
    expected = training_composite(patch, spec, rows, cols)
    np.testing.assert_array_equal(band_major(tile, 43), encode_sqrt8(expected.values))


def test_a_failing_tile_fails_like_the_client_after_its_retries(patch, spec, season):
    server = PatchComputePixels(patch, spec, season, fail_offsets={(16, 32)})
    with pytest.raises(EarthEngineError, match="kept failing a computePixels request after retries"):
        server.compute_pixels(None, grid_of(patch, 16, 32, 16, 16))
    assert server.compute_pixels(None, grid_of(patch, 16, 16, 16, 16)).shape == (16, 16)
    assert len(server.requests) == 2  # the failed request is recorded too


def test_the_grid_must_be_the_patch_grid(patch, server):
    grid = grid_of(patch, 0, 0, 4, 4)
    grid["affineTransform"]["scaleX"] = 20.0
    with pytest.raises(AssertionError):
        server.compute_pixels(None, grid)
