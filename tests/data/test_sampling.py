"""Local sampling on the real Flanders patch: inward buffer, grid sampling, whole pipeline."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.classes import EXCLUDE, NO_CLASS, Legend
from gee_crop.data.sampling import disk_footprint, grid_sample, inward_buffer, sample_local_stack
from gee_crop.data.table import read_table, write_table
from gee_crop.errors import InputError
from gee_crop.types import SamplingRules


def _geodesic_m(lon1, lat1, lon2, lat2):
    """Haversine distance in metres (independent of the equirectangular code under test)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


def _pairwise_min_m(lon, lat):
    d = _geodesic_m(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    d[np.diag_indices_from(d)] = np.inf
    return d.min()


# ---------------------------------------------------------------- inward buffer

def test_disk_footprint_radius_6_has_113_pixels():
    disk = disk_footprint(6)
    assert disk.shape == (13, 13)
    assert disk.sum() == 113  # Gauss circle count N(6)
    assert disk[6, 0] and disk[0, 6] and not disk[0, 0]


def test_buffer_zero_keeps_every_labelled_pixel(patch):
    assert np.array_equal(inward_buffer(patch.labels, 0, patch.resolution), patch.labels)
    assert (patch.labels != 0).sum() == 4096 - 371


def test_60m_buffer_keeps_only_pixels_whose_disk_is_one_code(patch):
    buffered = inward_buffer(patch.labels, 60, patch.resolution)
    names = Legend.worldcereal().names(buffered)
    counts = dict(zip(*np.unique(names, return_counts=True)))
    # measured on the real patch: 205 of 3725 labelled pixels survive a 60 m buffer at 10 m
    assert counts == {"corn": 6, "other": 98, "wheat": 101, EXCLUDE: 4096 - 205}
    disk = disk_footprint(6)
    h, w = patch.labels.shape
    padded = np.pad(patch.labels, 6, constant_values=-1)  # -1 = outside the grid, ignored
    for r in range(h):
        for c in range(w):
            window = padded[r:r + 13, c:c + 13][disk]
            window = window[window >= 0]
            uniform = patch.labels[r, c] != 0 and (window == patch.labels[r, c]).all()
            # kept <=> labelled and every in-grid pixel within 60 m has the same code
            assert (buffered[r, c] != 0) == uniform, (r, c)
            if uniform:
                assert buffered[r, c] == patch.labels[r, c]


def test_buffer_shrinks_a_synthetic_square_but_not_at_the_grid_edge():
    labels = np.zeros((30, 30), dtype=np.int64)  # synthetic: one 20x20 field
    labels[5:25, 5:25] = 7
    out = inward_buffer(labels, 30, 10)  # 3 px
    assert (out == 7).sum() == 14 * 14 and (out[8:22, 8:22] == 7).all()
    edge = np.zeros((30, 30), dtype=np.int64)  # synthetic: a field touching the left border
    edge[:, :10] = 7
    kept = inward_buffer(edge, 30, 10) == 7
    assert kept[:, :7].all() and not kept[:, 7:].any()


def test_buffer_rejects_negative_radius(patch):
    with pytest.raises(InputError, match="radius >= 0"):
        inward_buffer(patch.labels, -10, 10)


# ---------------------------------------------------------------- grid sampling

def test_grid_sample_spacing_cap_and_determinism_on_the_patch(patch):
    lon, lat = patch.lonlat()
    candidates = patch.labels != 0
    index = grid_sample(lon, lat, candidates, SamplingRules(spacing_m=20, per_cell=10_000, seed=3))
    assert len(index) > 300
    assert candidates.ravel()[index].all()
    assert _pairwise_min_m(lon.ravel()[index], lat.ravel()[index]) >= 20 - 1e-6
    assert np.array_equal(index, grid_sample(lon, lat, candidates, SamplingRules(spacing_m=20, per_cell=10_000, seed=3)))
    assert not np.array_equal(index, grid_sample(lon, lat, candidates, SamplingRules(spacing_m=20, per_cell=10_000, seed=4)))


def test_grid_sample_per_cell_cap_across_synthetic_cells():
    # synthetic: a 0.3 x 0.2 deg lattice every ~0.0045 deg (>= 300 m) spans 6 cells of 0.1 deg
    lon, lat = np.meshgrid(np.arange(4.001, 4.3, 0.0045), np.arange(50.001, 50.2, 0.0045))
    candidates = np.ones(lon.shape, dtype=bool)
    index = grid_sample(lon, lat, candidates, SamplingRules(per_cell=5, spacing_m=60, seed=0))
    cells = np.stack([np.floor(lon.ravel()[index] / 0.1), np.floor(lat.ravel()[index] / 0.1)], axis=1)
    _, per_cell = np.unique(cells, axis=0, return_counts=True)
    assert len(per_cell) == 6 and (per_cell == 5).all()


def test_grid_sample_spacing_holds_across_cell_borders():
    # synthetic: dense 5 m lattice straddling the 4.1 deg / 50.1 deg cell corner
    lon, lat = np.meshgrid(np.arange(4.0985, 4.1015, 0.00007), np.arange(50.099, 50.101, 0.000045))
    index = grid_sample(lon, lat, np.ones(lon.shape, bool), SamplingRules(per_cell=50, spacing_m=60, seed=1))
    assert len(index) >= 8
    assert _pairwise_min_m(lon.ravel()[index], lat.ravel()[index]) >= 60 - 1e-6


def test_grid_sample_without_candidates_is_empty(patch):
    lon, lat = patch.lonlat()
    assert grid_sample(lon, lat, np.zeros(lon.shape, bool)).size == 0


# ---------------------------------------------------------------- whole pipeline

def test_default_rules_give_at_most_5_samples_on_the_one_cell_patch(patch):
    series = sample_local_stack(patch, region="BEL")
    assert 1 <= len(series) <= 5
    assert set(series.region) == {"BEL"}
    rows, cols = series.extra["row"], series.extra["col"]
    assert _pairwise_min_m(series.lon, series.lat) >= 60 - 1e-6
    names = Legend.worldcereal().names(series.extra["source_code"])
    assert np.array_equal(names, series.crop_class)
    assert np.array_equal(series.dn, patch.dn[:, rows, cols].transpose(1, 0, 2))
    buffered = inward_buffer(patch.classes, 60, 10, nodata=NO_CLASS)
    assert (buffered[rows, cols] != NO_CLASS).all()


def test_class_buffer_counts_on_the_real_patch(patch):
    classes = patch.legend.indices(patch.labels)
    assert dict(zip(*np.unique(classes, return_counts=True))) == {NO_CLASS: 371, 0: 413, 3: 1378, 6: 1934}
    buffered = inward_buffer(classes, 60, 10, nodata=NO_CLASS)
    # measured: eroding the 7 classes keeps more 'other' than eroding the product's codes (98)
    assert dict(zip(*np.unique(buffered, return_counts=True))) == {NO_CLASS: 3859, 0: 6, 3: 101, 6: 130}
    by_code = patch.legend.indices(inward_buffer(patch.labels, 60, 10))
    assert ((by_code != NO_CLASS) <= (buffered != NO_CLASS)).all()  # code erosion removes a superset


def test_every_sample_has_a_label_and_a_clear_observation(patch):
    series = sample_local_stack(patch, SamplingRules(buffer_m=20, spacing_m=20, per_cell=10_000))
    classes = inward_buffer(patch.classes, 20, 10, nodata=NO_CLASS)
    assert (classes[series.extra["row"], series.extra["col"]] != NO_CLASS).all()
    clear_with_data = ((series.cloud == 4) | (series.cloud == 5)) & (series.dn != 0).all(axis=-1)
    assert clear_with_data.any(axis=1).all()


def test_eroding_by_source_code_also_cuts_edges_inside_other(patch):
    by_class = sample_local_stack(patch, SamplingRules(buffer_m=60, spacing_m=10, per_cell=10_000))
    by_code = sample_local_stack(patch, SamplingRules(buffer_m=60, spacing_m=10, per_cell=10_000), erode_by="code")
    assert (by_code.crop_class == "other").sum() < (by_class.crop_class == "other").sum()
    with pytest.raises(InputError, match="erode_by"):
        sample_local_stack(patch, erode_by="parcel")


@pytest.mark.parametrize(("buffer_m", "spacing_m", "expected"), [
    # measured on the real patch with seed 0 (numbers for the demo)
    (10, 10, {"corn": 118, "other": 588, "wheat": 413}),
    (20, 20, {"corn": 41, "other": 193, "wheat": 129}),
    (30, 30, {"corn": 14, "other": 73, "wheat": 50}),
])
def test_small_buffers_yield_hundreds_of_samples(patch, buffer_m, spacing_m, expected):
    series = sample_local_stack(patch, SamplingRules(buffer_m=buffer_m, spacing_m=spacing_m, per_cell=100_000))
    counts = dict(zip(*np.unique(series.crop_class.astype(str), return_counts=True)))
    assert counts == expected
    assert _pairwise_min_m(series.lon, series.lat) >= spacing_m - 1e-6


def test_same_seed_same_samples_and_table_round_trip(patch, tmp_path):
    a = sample_local_stack(patch, SamplingRules(buffer_m=20, spacing_m=20, per_cell=50, seed=7))
    b = sample_local_stack(patch, SamplingRules(buffer_m=20, spacing_m=20, per_cell=50, seed=7))
    assert np.array_equal(a.sample_id, b.sample_id) and len(a) == 50
    back = read_table(write_table(a, tmp_path / "local.parquet"))
    assert np.array_equal(back.sample_id, a.sample_id)
    assert np.array_equal(back.dn, a.dn) and np.array_equal(back.extra["row"], a.extra["row"])


def test_too_large_buffer_says_use_a_smaller_one(patch):
    with pytest.raises(InputError, match=r"no labelled pixel .* smaller --buffer-m"):
        sample_local_stack(patch, SamplingRules(buffer_m=150))  # measured: 7 px survive 120 m, none 150 m
