"""Sources: the local stack composites like training, the Earth Engine path decodes to the same input."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr

from gee_crop.config import BANDS
from gee_crop.data.patch import patch_pixels, read_patch
from gee_crop.earthengine.composite import composite_band_names
from gee_crop.errors import InputError
from gee_crop.features.composite import median_features
from gee_crop.mapping.sources import (EarthEngineSource, LocalStackSource, decode_pixels, open_local_stack,
                                      quantize_dn)
from gee_crop.mapping.tiling import grid_for_region, plan_tiles
from gee_crop.testing.fake_ee_patch import PatchComputePixels


@pytest.fixture
def patch_grid(local_source, patch_stack):
    return grid_for_region(local_source.footprint(), crs=patch_stack.crs, scale=10,
                           origin=local_source.default_grid_origin(patch_stack.crs))


def test_local_tile_equals_training_features(patch_dir, local_source, patch_grid, spec_2019):
    """Mapping input = the training features (gee_crop.features.median_features) of the same pixels."""
    tile = plan_tiles(patch_grid, 24)[4]  # rows 24..47, cols 24..47
    composite = local_source.read_tile(patch_grid, tile, spec_2019)
    rows, cols = np.meshgrid(np.arange(24, 48), np.arange(24, 48), indexing="ij")
    series = patch_pixels(read_patch(patch_dir), rows.ravel(), cols.ravel())
    training = median_features(series, year=2019, max_gap_bins=spec_2019.max_gap_bins,
                               threshold=spec_2019.threshold)
    assert training.n_bins == spec_2019.season.n_bins == 43
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
                                                           spec_2019):
    fake = PatchComputePixels(patch_stack, spec_2019)
    source = EarthEngineSource(fake)
    for tile in plan_tiles(patch_grid, 40):  # 4 tiles, two of them partial
        local = local_source.read_tile(patch_grid, tile, spec_2019)
        remote = source.read_tile(patch_grid, tile, spec_2019)
        np.testing.assert_array_equal(remote.valid, local.valid)
        np.testing.assert_array_equal(remote.reflectance(), local.reflectance())
        assert remote.bytes_fetched == tile.n_pixels * 10 * 43 * 2  # uint16, nothing more
    assert len(fake.requests) == 4  # one multi-band request per tile
    request = fake.requests[0]
    assert request["band_ids"] == composite_band_names(43) and request["band_ids"][:2] == ["B2_t00", "B2_t01"]
    graph = request["expression"].serialize()
    assert "COPERNICUS/S2_SR_HARMONIZED" in graph and "2019-05-01" in graph


def test_decode_pixels_is_band_major(spec_2019):
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


def test_netcdf_stack_reads_like_the_patch(tmp_path, patch_stack):
    s = patch_stack
    ds = xr.Dataset({b: (("time", "y", "x"), s.dn[..., i]) for i, b in enumerate(BANDS)},
                    coords={"time": s.dates.astype("datetime64[ns]"), "y": s.y, "x": s.x}, attrs={"epsg": 32631})
    ds["SCL"] = (("time", "y", "x"), s.cloud.astype(np.uint8))
    ds.to_netcdf(tmp_path / "stack.nc")
    stack = open_local_stack(tmp_path / "stack.nc")
    np.testing.assert_array_equal(stack.dn, s.dn)
    np.testing.assert_array_equal(stack.cloud, s.cloud)
    np.testing.assert_array_equal(stack.dates, s.dates)
    assert (stack.crs, stack.cloud_kind, stack.upper_left) == ("EPSG:32631", "scl", s.upper_left)
    del ds["B8A"]
    ds.to_netcdf(tmp_path / "no_b8a.nc")
    with pytest.raises(InputError, match="missing: B8A"):
        open_local_stack(tmp_path / "no_b8a.nc")


def test_south_up_stack_is_read_north_up(tmp_path, patch_stack):
    s = patch_stack
    flipped = xr.Dataset({b: (("time", "y", "x"), s.dn[:, ::-1, :, i]) for i, b in enumerate(BANDS)},
                         coords={"time": s.dates.astype("datetime64[ns]"), "y": s.y[::-1], "x": s.x},
                         attrs={"epsg": 32631})
    flipped["SCL"] = (("time", "y", "x"), s.cloud[:, ::-1].astype(np.uint8))
    flipped.to_netcdf(tmp_path / "south_up.nc")
    stack = open_local_stack(tmp_path / "south_up.nc")
    np.testing.assert_array_equal(stack.y, s.y)
    np.testing.assert_array_equal(stack.dn, s.dn)
    assert stack.upper_left == s.upper_left


def test_geotiff_stack_with_earth_engine_band_names(tmp_path, patch_stack):
    s, dates = patch_stack, slice(40, 44)  # four real May 2019 acquisitions
    names, bands = [], []
    for k in range(40, 44):
        day = str(s.dates[k]).replace("-", "")
        for i, band in enumerate(BANDS):
            names.append(f"{day}T105031_{day}T105351_T31UES_{band}")
            bands.append(s.dn[k, :, :, i])
        names.append(f"{day}T105031_{day}T105351_T31UES_SCL")
        bands.append(s.cloud[k].astype(np.uint16))
    path = tmp_path / "stack.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=len(bands), dtype="uint16",
                       crs="EPSG:32631", transform=s.grid().affine) as dst:
        dst.write(np.stack(bands))
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
    stack = open_local_stack(path)
    np.testing.assert_array_equal(stack.dates, s.dates[dates])
    np.testing.assert_array_equal(stack.dn, s.dn[dates])
    np.testing.assert_array_equal(stack.cloud, s.cloud[dates])
    np.testing.assert_allclose(stack.x, s.x)
    np.testing.assert_allclose(stack.y, s.y)


def test_unknown_stack_inputs_are_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_local_stack(tmp_path / "nothing.nc")
    (tmp_path / "stack.csv").write_text("x")
    with pytest.raises(InputError, match="unknown stack format"):
        open_local_stack(tmp_path / "stack.csv")


def test_stack_sampled_on_another_grid_uses_nearest_pixels(local_source, spec_2019):
    """A 20 m output grid picks the stack pixel under each 20 m pixel centre (nearest neighbour)."""
    from gee_crop.mapping.tiling import OutputGrid, Tile

    grid = OutputGrid("EPSG:32631", (20.0, 0.0, 574680.0, 0.0, -20.0, 5622440.0), 32, 32)
    row, col, inside = local_source.source_index(grid, Tile(0, 0, 32, 32))
    assert inside.all()
    assert row[:, 0].tolist() == [2 * i + 1 for i in range(32)] or row[:, 0].tolist() == [2 * i for i in range(32)]
    assert (col[0] == row[:, 0]).all()


def test_cropland_mask_is_applied_on_the_server(offline_ee, patch_stack, spec_2019):
    from shapely.geometry import box

    from gee_crop.config import WORLDCOVER_IMAGE

    region = box(4.06, 50.744, 4.066, 50.748)
    plain = EarthEngineSource(None).image(region, spec_2019).serialize()
    masked = EarthEngineSource(None, cropland_only=True).image(region, spec_2019).serialize()
    assert WORLDCOVER_IMAGE not in plain and WORLDCOVER_IMAGE in masked
    assert '"Image.unmask"' in masked and '"Image.updateMask"' in masked


def test_band_descriptions_are_parsed_to_date_and_band():
    from gee_crop.mapping.stacks import _DESCRIPTION, _band_name

    cases = {"20190501T105031_20190501T105351_T31UES_B8A": ("20190501", "B8A"),
             "2019-05-01_B02": ("2019-05-01", "B02"), "20190501_cs_cdf": ("20190501", "cs_cdf"),
             "20190501_cs": ("20190501", "cs"), "S2B_20190501_SCL": ("20190501", "SCL")}
    for description, expected in cases.items():
        m = _DESCRIPTION.search(description)
        assert (m["date"], m["band"]) == expected, description
    assert _band_name("B02") == "B2" and _band_name("B8A") == "B8A"
    assert _DESCRIPTION.search("B8A") is None
