"""Sources: the local stack composites like training, the Earth Engine path decodes to the same input."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.config import BANDS
from gee_crop.data.patch import patch_pixels, read_patch
from gee_crop.earthengine.composite import composite_band_names
from gee_crop.errors import InputError
from gee_crop.features.composite import median_features
from gee_crop.mapping.sources import (CompositeRequest, EarthEngineSource, LocalStackSource, decode_pixels,
                                      quantize_dn)
from gee_crop.mapping.tiling import grid_for_region, plan_tiles
from gee_crop.testing.fake_ee_patch import PatchComputePixels


@pytest.fixture
def patch_grid(local_source, patch_stack):
    return grid_for_region(local_source.footprint(), crs=patch_stack.crs, scale=10,
                           origin=local_source.default_grid_origin(patch_stack.crs))


def test_local_tile_equals_training_features(patch_dir, local_source, patch_grid, contract, season_2019):
    """Mapping input = the training features (gee_crop.features.median_features) of the same pixels."""
    tile = plan_tiles(patch_grid, 24)[4]  # rows 24..47, cols 24..47
    composite = local_source.read_tile(tile, CompositeRequest(patch_grid, contract, season_2019))
    rows, cols = np.meshgrid(np.arange(24, 48), np.arange(24, 48), indexing="ij")
    series = patch_pixels(read_patch(patch_dir), rows.ravel(), cols.ravel())
    training = median_features(series, year=2019, max_gap_bins=contract.max_gap_bins,
                               threshold=contract.cloud_threshold)
    assert training.n_bins == season_2019.n_bins == 43
    np.testing.assert_array_equal(composite.valid.ravel(), training.keep)
    expected = quantize_dn(training.values)
    got = composite.dn.reshape(-1, len(BANDS), 43)
    np.testing.assert_array_equal(got[training.keep], expected[training.keep])
    assert (got[~training.keep] == 0).all()
    x = composite.reflectance()
    assert x.shape == (int(training.keep.sum()), 1, 10, 43) and x.dtype == np.float32
    # rounding to DN changes the training reflectance by at most half a DN
    assert np.abs(x[:, 0] - training.values[training.keep]).max() <= 0.5e-4 + 1e-7


def test_earth_engine_path_gives_the_model_identical_input(offline_ee, patch_stack, local_source, patch_grid,
                                                           contract, season_2019):
    fake = PatchComputePixels(patch_stack, contract, season_2019)
    source = EarthEngineSource(fake, encoding="uint16")
    for tile in plan_tiles(patch_grid, 40):  # 4 tiles, two of them partial
        local = local_source.read_tile(tile, CompositeRequest(patch_grid, contract, season_2019))
        remote = source.read_tile(tile, CompositeRequest(patch_grid, contract, season_2019))
        np.testing.assert_array_equal(remote.valid, local.valid)
        np.testing.assert_array_equal(remote.reflectance(), local.reflectance())
        assert remote.bytes_fetched == tile.n_pixels * 10 * 43 * 2  # uint16, nothing more
    assert len(fake.requests) == 4  # one multi-band request per tile
    request = fake.requests[0]
    assert request["band_ids"] == composite_band_names(43) and request["band_ids"][:2] == ["B2_t00", "B2_t01"]
    graph = request["expression"].serialize()
    assert "COPERNICUS/S2_SR_HARMONIZED" in graph and "2019-05-01" in graph


def test_decode_pixels_is_band_major():
    names = composite_band_names(3)
    pixels = np.zeros((2, 2), dtype=[(n, np.uint16) for n in names])
    for i, name in enumerate(names):
        pixels[name] = 100 + i
    dn = decode_pixels(pixels, 3)
    assert dn.shape == (2, 2, 10, 3)
    assert dn[0, 0, 0].tolist() == [100, 101, 102] and dn[1, 1, 9].tolist() == [127, 128, 129]
    with pytest.raises(InputError, match="lacks bands"):
        decode_pixels(pixels[names[:-1]], 3)


def test_quantize_dn_keeps_zero_for_masked_only():
    reflectance = np.array([0.12345, 0.00001, np.nan, 7.0], dtype=np.float32)
    assert quantize_dn(reflectance).tolist() == [1234, 1, 0, 65535]


def test_stack_sampled_on_another_grid_uses_nearest_pixels(local_source):
    """A 20 m output grid picks the stack pixel under each 20 m pixel centre (nearest neighbour)."""
    from gee_crop.mapping.tiling import OutputGrid, Tile

    grid = OutputGrid("EPSG:32631", (20.0, 0.0, 574680.0, 0.0, -20.0, 5622440.0), 32, 32)
    row, col, inside = local_source.source_index(grid, Tile(0, 0, 32, 32))
    assert inside.all()
    assert row[:, 0].tolist() == [2 * i + 1 for i in range(32)] or row[:, 0].tolist() == [2 * i for i in range(32)]
    assert (col[0] == row[:, 0]).all()


def test_cropland_mask_is_applied_on_the_server(offline_ee, patch_stack, contract, season_2019):
    from shapely.geometry import box

    from gee_crop.config import WORLDCOVER_IMAGE

    region = box(4.06, 50.744, 4.066, 50.748)
    plain = EarthEngineSource(None).image(region, contract, season_2019).serialize()
    masked = EarthEngineSource(None, cropland_only=True).image(region, contract, season_2019).serialize()
    assert WORLDCOVER_IMAGE not in plain and WORLDCOVER_IMAGE in masked
    assert '"Image.unmask"' in masked and '"Image.updateMask"' in masked

