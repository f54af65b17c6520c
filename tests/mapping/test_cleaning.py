"""Cleaned maps (``gee-crop map --mmu HA --majority K``): the filters' known values on tiny synthetic
arrays, and on the real patch's map: map_clean.tif, cleaned tile by tile with a halo, equals the whole
map cleaned at once, pixel for pixel."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio

from gee_crop.classes import NO_CLASS
from gee_crop.errors import InputError
from gee_crop.mapping.cleaning import (
    check_cleaning,
    clean,
    clean_tiles,
    halo,
    majority_filter,
    mmu_pixels,
    sieve,
)
from gee_crop.mapping.engine import CLEAN_NAME, MAP_NAME, run_map
from gee_crop.mapping.request import MapSettings
from gee_crop.mapping.sources import LocalStackSource
from gee_crop.mapping.tiling import OutputGrid, plan_tiles

N = NO_CLASS


def test_majority_known_values_synthetic():
    """synthetic: a lone pixel takes its 3 x 3 majority; nodata stays nodata and does not vote."""
    classes = np.array(
        [
            [0, 0, 0, 1],
            [0, 2, 0, 1],
            [0, 0, 0, 1],
            [N, N, 1, 1],
        ],
        dtype=np.uint8,
    )
    out = majority_filter(classes, 3)
    # (0, 3), (1, 3): a tie of 0 and 1, the pixel's own 1 wins; (1, 1): the lone 2 takes 0 (8 votes);
    # (2, 2): window 2 0 1 / 0 0 1 / N 1 1 holds 1 x 4, 0 x 3 -> 1
    expected = np.array([[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 1, 1], [N, N, 1, 1]], dtype=np.uint8)
    assert out.tolist() == expected.tolist()
    assert majority_filter(np.full((3, 3), N, dtype=np.uint8), 3).tolist() == [[N] * 3] * 3


def test_majority_tie_without_own_class_takes_lowest_synthetic():
    """synthetic: a pixel outvoted by a tie of two other classes takes the lower class index."""
    classes = np.array([[3, 3, N], [5, 4, N], [5, N, N]], dtype=np.uint8)
    # (1, 1): 3 x 2, 5 x 2, 4 x 1 -> 3
    assert int(majority_filter(classes, 3)[1, 1]) == 3


def test_sieve_known_values_synthetic():
    """synthetic: regions under the size take the class most of their bordering pixels have; 8-connected."""
    classes = np.array(
        [
            [0, 0, 0, 0, 1, 1],
            [0, 2, 2, 0, 1, 1],
            [0, 0, 0, 0, 1, 1],
            [0, 0, 0, 3, 1, 1],
            [4, 0, 0, 0, 3, 1],
            [N, 4, 0, 0, 1, 1],
        ],
        dtype=np.uint8,
    )
    out = sieve(classes, 3)
    expected = classes.copy()
    expected[1, 1:3] = 0  # region {2, 2}: 2 px, bordered by class 0 only
    # the diagonal 3s are one 8-connected region of 2 px: 6 bordering 0s, 6 bordering 1s: a tie -> 0
    expected[3, 3] = expected[4, 4] = 0
    # the diagonal 4s (2 px): bordered by 0 x 4 (the nodata pixel does not vote) -> 0
    expected[4, 0] = expected[5, 1] = 0
    assert out.tolist() == expected.tolist()
    # 4-connected, the 3s are two 1-px regions: (3, 3) bordered by 0 x 3, 1 x 1 -> 0; (4, 4) by 1 x 3, 0 x 1 -> 1
    four = sieve(classes, 2, connectivity=4)
    assert four[3, 3] == 0 and four[4, 4] == 1 and four[1, 1] == 2  # the 2-px region is not under 2 px
    # a region with no mapped neighbour is kept; a size of 1 removes nothing
    lone = np.array([[N, N, N], [N, 5, N], [N, N, N]], dtype=np.uint8)
    assert sieve(lone, 4).tolist() == lone.tolist()
    assert sieve(classes, 1).tolist() == classes.tolist()


def test_mmu_pixels_and_halo():
    assert mmu_pixels(0.05, 100.0) == 5  # 500 m2 of 10 m pixels
    assert mmu_pixels(0.051, 100.0) == 6
    assert mmu_pixels(0.0001, 100.0) == 1
    assert halo(5, 3) == 6 and halo(None, 5) == 2 and halo(5, None) == 5


@pytest.mark.parametrize(
    "mmu, majority, problem",
    [(0.0, None, "--mmu"), (-1.0, None, "--mmu"), (math.nan, None, "--mmu"), (math.inf, None, "--mmu"),
     (None, 4, "--majority"), (None, 1, "--majority"), (None, -3, "--majority")],
)
def test_bad_cleaning_options_are_refused_in_one_line(mmu, majority, problem):
    with pytest.raises(InputError) as err:
        check_cleaning(mmu, majority)
    assert problem in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError):  # the run and its dry run both build their settings here
        MapSettings(mmu=mmu, majority=majority)


def _tilewise(raw: np.ndarray, tile_size: int, min_pixels, majority, margin=None) -> np.ndarray:
    height, width = raw.shape
    grid = OutputGrid("EPSG:32631", (10.0, 0.0, 0.0, 0.0, -10.0, 0.0), width, height)
    tiles = plan_tiles(grid, tile_size)
    out = np.full(raw.shape, N, dtype=np.uint8)
    read = lambda r, c, h, w: raw[r : r + h, c : c + w].copy()  # noqa: E731
    if margin is not None:  # a deliberately short halo: the control that shows the comparison can fail
        for tile in tiles:
            top, left = max(0, tile.row_off - margin), max(0, tile.col_off - margin)
            window = raw[top : tile.row_off + tile.height + margin, left : tile.col_off + tile.width + margin]
            cleaned = clean(window, min_pixels, majority)
            r, c = tile.row_off - top, tile.col_off - left
            out[tile.row_off : tile.row_off + tile.height, tile.col_off : tile.col_off + tile.width] = cleaned[
                r : r + tile.height, c : c + tile.width
            ]
        return out
    for tile, cleaned in clean_tiles(read, height, width, tiles, min_pixels, majority):
        out[tile.row_off : tile.row_off + tile.height, tile.col_off : tile.col_off + tile.width] = cleaned
    return out


@pytest.fixture(scope="module")
def cleaned_run(tmp_path_factory, patch_stack, tiny_onnx):
    """The real patch mapped in 16 tiles of 16 px with --mmu 0.05 --majority 3."""
    out = tmp_path_factory.mktemp("cleaned") / "map"
    return run_map(
        LocalStackSource(patch_stack), tiny_onnx, out, tile_size=16, scheduler="synchronous", progress=False,
        mmu=0.05, majority=3,
    )


def test_map_clean_tif_equals_the_whole_map_cleaned_at_once(cleaned_run):
    """map_clean.tif (cleaned tile by tile, 16 tiles) == map.tif's class band cleaned whole, pixel for pixel;
    map.tif keeps the raw classes; the cleaned COG has the same colour table and class names."""
    assert cleaned_run.n_tiles >= 4
    out = cleaned_run.out_dir
    with rasterio.open(out / MAP_NAME) as raw_src, rasterio.open(out / CLEAN_NAME) as clean_src:
        raw, cleaned = raw_src.read(1), clean_src.read(1)
        assert clean_src.colormap(1) == raw_src.colormap(1)
        assert clean_src.tags(1)["class_names"] == raw_src.tags(1)["class_names"]
        assert json.loads(clean_src.tags()["cleaning"]) == {"mmu_ha": 0.05, "mmu_pixels": 5, "majority": 3}
        assert clean_src.profile["transform"] == raw_src.profile["transform"] and clean_src.count == 1
    whole = clean(raw, mmu_pixels(0.05, 100.0), 3)
    assert np.array_equal(cleaned, whole)
    assert (cleaned != raw).sum() > 0  # the cleaning changed pixels...
    assert np.array_equal(cleaned == N, raw == N)  # ...but never mapped or unmapped one
    tiles = sorted((cleaned_run.out_dir / "tiles").glob("tile_*.tif"))
    mosaic = np.full(raw.shape, N, dtype=np.uint8)
    for path in tiles:  # map.tif is still the raw tiles' class band
        with rasterio.open(path) as src:
            name = path.stem.split("_")
            r, c = int(name[1][1:]), int(name[2][1:])
            mosaic[r : r + src.height, c : c + src.width] = src.read(1)
    assert np.array_equal(mosaic, raw)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["clean"].endswith(CLEAN_NAME)


@pytest.mark.parametrize("min_pixels, majority", [(5, None), (None, 3), (30, None), (60, 5), (5, 3)])
def test_tile_by_tile_equals_whole_on_the_real_map(cleaned_run, min_pixels, majority):
    """The real raw map in 16 tiles of 16 px, halos of up to 62 px (wider than a tile): equal to the whole."""
    with rasterio.open(cleaned_run.cog) as src:
        raw = src.read(1)
    whole = clean(raw, min_pixels, majority)
    assert not np.array_equal(whole, raw)
    assert np.array_equal(_tilewise(raw, 16, min_pixels, majority), whole)


def test_a_short_halo_shows_seams_on_the_real_map(cleaned_run):
    """Control: with no halo, the tiles disagree with the whole map (so the comparisons above can fail)."""
    with rasterio.open(cleaned_run.cog) as src:
        raw = src.read(1)
    assert not np.array_equal(_tilewise(raw, 16, 30, 3, margin=0), clean(raw, 30, 3))

