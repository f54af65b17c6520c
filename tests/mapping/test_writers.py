"""Writers: per-tile GeoTIFFs, COG assembly with overviews, area table, preview."""
from __future__ import annotations

import errno

import numpy as np
import pytest
import rasterio

from gee_crop.classes import CLASSES
from gee_crop.errors import OutputWriteError
from gee_crop.mapping import writers
from gee_crop.mapping.tiling import OutputGrid, plan_tiles


@pytest.fixture
def synthetic_tiles(tmp_path):
    """Synthetic class tiles (values = tile index mod 7) of a 1000 x 1100 px grid in 300 px tiles."""
    grid = OutputGrid("EPSG:32631", (10.0, 0.0, 500000.0, 0.0, -10.0, 5600000.0), 1100, 1000)
    paths, expected = {}, np.full((1000, 1100), 255, np.uint8)
    for i, tile in enumerate(plan_tiles(grid, 300)):
        if i == 5:
            continue  # a tile outside the region: never written, must read as nodata
        probabilities = np.zeros((tile.height, tile.width, 7), np.float32)
        probabilities[..., i % 7] = 0.9
        probabilities[..., (i + 1) % 7] = 0.1
        valid = np.ones((tile.height, tile.width), bool)
        valid[0, 0] = False
        bands = writers.encode_bands(probabilities, valid, with_probabilities=True)
        paths[tile] = writers.write_tile(tmp_path / f"{tile.name}.tif", bands, grid, tile)
        expected[tile.row_off:tile.row_off + tile.height, tile.col_off:tile.col_off + tile.width] = bands[0]
    return grid, paths, expected


def test_assembled_cog_is_tiled_with_overviews_and_exact_values(tmp_path, synthetic_tiles):
    grid, paths, expected = synthetic_tiles
    counts = writers.assemble_cog(paths, grid, tmp_path / "map.tif", bands=[1, 2])
    with rasterio.open(tmp_path / "map.tif") as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.block_shapes[0] == (512, 512) and src.overviews(1) == [2, 4]
        assert src.descriptions == ("class", "confidence")
        assert src.crs.to_epsg() == 32631 and src.transform.c == 500000.0
        np.testing.assert_array_equal(src.read(1), expected)
        assert src.read(2)[1, 1] == 90 and src.read(2)[0, 0] == 255
        assert src.colormap(1)[255][3] == 0 and src.colormap(1)[6][:3] == (190, 190, 190)
    np.testing.assert_array_equal(counts, np.bincount(expected[expected != 255], minlength=7))
    assert not list(tmp_path.glob(".*"))


def test_probabilities_cog(tmp_path, synthetic_tiles):
    grid, paths, _ = synthetic_tiles
    counts = writers.assemble_cog(paths, grid, tmp_path / "p.tif", bands=list(range(3, 10)))
    assert not counts.any()
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.count == 7 and src.descriptions == tuple(f"p_{c}" for c in CLASSES)
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.read(1)[1, 1] == 90 and src.read(2)[1, 1] == 10  # tile 0: corn 0.9, soybeans 0.1


def test_area_table_in_hectares(synthetic_tiles):
    grid, _, _ = synthetic_tiles
    rows = writers.area_table(np.array([100, 0, 0, 50, 0, 0, 850]), grid)
    assert [r["class"] for r in rows] == list(CLASSES)
    assert rows[0] == {"class": "corn", "pixels": 100, "hectares": 1.0, "percent": 10.0}
    assert rows[6]["hectares"] == 8.5


def test_pixel_area_of_a_geographic_grid_shrinks_with_latitude():
    equator = OutputGrid("EPSG:4326", (0.001, 0.0, 0.0, 0.0, -0.001, 0.0005), 10, 1)
    north = OutputGrid("EPSG:4326", (0.001, 0.0, 0.0, 0.0, -0.001, 60.0005), 10, 1)
    assert writers.pixel_area_m2(equator) == pytest.approx(111.195 ** 2, rel=1e-3)
    assert writers.pixel_area_m2(north) / writers.pixel_area_m2(equator) == pytest.approx(0.5, rel=1e-3)


def test_failed_tile_write_leaves_nothing(tmp_path, monkeypatch, synthetic_tiles):
    grid, paths, _ = synthetic_tiles
    tile = next(iter(paths))
    with rasterio.open(paths[tile]) as src:
        bands = src.read()

    class FullDisk:
        def __init__(self, path, *args, **kwargs):
            open(path, "wb").write(b"II*\x00partial")  # half a TIFF on disk

        def __enter__(self):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __exit__(self, *args):
            return False

    monkeypatch.setattr(writers.rasterio, "open", FullDisk)
    with pytest.raises(OutputWriteError, match="No space left on device"):
        writers.write_tile(tmp_path / "t.tif", bands, grid, tile)
    assert not (tmp_path / "t.tif").exists() and not list(tmp_path.glob(".t.tif*"))


def test_preview_png_with_reference(tmp_path, synthetic_tiles):
    grid, paths, expected = synthetic_tiles
    writers.assemble_cog(paths, grid, tmp_path / "map.tif", bands=[1, 2])
    png = writers.write_preview(tmp_path / "map.tif", tmp_path / "map.png", title="synthetic",
                                reference=expected)
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.shape[0] == 500 and image.shape[1] == 1200  # two panels + legend at 100 dpi
