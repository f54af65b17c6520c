"""`gee-crop cube --source` on the real demo patch: map's composite per labelled pixel, the marker, resuming."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gee_crop.classes import NO_CLASS
from gee_crop.data.cube import CUBE_FORMAT, CUBE_VERSION, CubeStore, InputKind, input_kind
from gee_crop.data.demo import DEMO_BUFFER_M, demo_patch_dir
from gee_crop.data.sampling import stack_classes
from gee_crop.mapping import cube_build
from gee_crop.mapping.cube_build import build_cube
from gee_crop.mapping.sources import CompositeRequest, LocalStackSource
from gee_crop.mapping.tiling import Tile, stack_grid

BLOCK = 16


@pytest.fixture(scope="module")
def labelled():
    return stack_classes(demo_patch_dir(), None, DEMO_BUFFER_M)


@pytest.fixture(scope="module")
def cube(labelled, tmp_path_factory):
    out = tmp_path_factory.mktemp("cube") / "demo.zarr"
    build_cube(labelled, out, block_px=BLOCK, echo=lambda _: None)
    return CubeStore(out)


def test_cube_holds_maps_composite_of_every_labelled_pixel_and_masks_the_rest(labelled, cube):
    grid = stack_grid(labelled.stack)
    info = cube.info
    whole = LocalStackSource(labelled.stack).read_tile(
        Tile(0, 0, grid.height, grid.width), CompositeRequest(grid, info.spec, info.season)
    )
    labels = cube.labels()
    kept = (labelled.classes != NO_CLASS) & whole.valid
    assert np.array_equal(labels != NO_CLASS, kept)
    assert np.array_equal(labels[kept], labelled.classes[kept])
    composite = np.asarray(cube.group["composite"][:])
    assert composite.shape == (64, 64, 10, info.n_bins) and composite.dtype == np.uint16
    assert np.array_equal(composite[kept], whole.dn[kept])  # the very DN `map` feeds a model
    assert not composite[~kept].any()
    assert cube.block_counts.sum() == kept.sum()
    assert cube.block_counts.shape == (16, len(info.spec.classes))


def test_cube_attributes_carry_marker_contract_season_and_legend(cube):
    attrs = json.loads((cube.path / "zarr.json").read_text())["attributes"]
    assert attrs["gee_crop_cube"] == {"format": CUBE_FORMAT, "version": CUBE_VERSION}
    assert attrs["season_span"]["start"] == "2019-05-01" and attrs["season_span"]["n_bins"] == 43
    assert attrs["feature_spec"]["season"]["year_trained"] == 2019
    assert attrs["classes"] == list(cube.info.spec.classes)
    assert input_kind(cube.path) is InputKind.CUBE
    assert input_kind(demo_patch_dir()) is InputKind.STACK


def test_an_interrupted_build_resumes_from_its_finished_blocks(labelled, cube, tmp_path, monkeypatch):
    out = tmp_path / "resumed.zarr"
    real, calls = cube_build.composite_block, []

    def dies_after_five(*args):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(cube_build, "composite_block", dies_after_five)
    with pytest.raises(KeyboardInterrupt):
        build_cube(labelled, out, block_px=BLOCK, echo=lambda _: None)
    assert not out.exists() and (tmp_path / "resumed.zarr.parts" / "ledger.json").is_file()
    monkeypatch.setattr(cube_build, "composite_block", real)
    summary = build_cube(labelled, out, block_px=BLOCK, echo=lambda _: None)
    assert summary.n_resumed == 5
    assert not (tmp_path / "resumed.zarr.parts").exists()
    again = CubeStore(out)
    assert np.array_equal(again.labels(), cube.labels())
    assert np.array_equal(np.asarray(again.group["composite"][:]), np.asarray(cube.group["composite"][:]))


def test_block_offsets_find_each_labelled_pixel_in_clipped_edge_blocks(labelled, tmp_path):
    from gee_crop.training.cube_data import CubePixels

    out = tmp_path / "clipped.zarr"
    build_cube(labelled, out, block_px=24, echo=lambda _: None)  # 64 px = 24 + 24 + 16: edge blocks are clipped
    store = CubeStore(out)
    pixels = CubePixels.of(store, np.arange(9))
    whole = np.asarray(store.group["composite"][:])
    rows, cols = np.nonzero(store.labels() != 255)
    assert len(pixels) == len(rows)
    from_blocks = np.concatenate(
        [store.block(b)[0].reshape(-1, 10, store.info.n_bins)[pixels.offset[pixels.block == b]] for b in range(9)]
    )
    order = np.lexsort((cols, rows, (rows // 24) * 3 + cols // 24))  # block-major, then row-major inside
    assert np.array_equal(from_blocks, whole[rows[order], cols[order]])
