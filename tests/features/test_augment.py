"""Augmentation (METHOD.md): shift, scale and warp invariants on the real patch."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.features.augment import (AugmentConfig, augmented_medians, augmented_window, spline_basis,
                                       warp_curves)
from gee_crop.features.composite import composite_medians, fill_gaps
from gee_crop.season import Season

PAPER = Season()  # the paper's 213 days in 43 windows of 5 days
ONLY_SHIFT = AugmentConfig(p_shift=1.0, p_scale=0.0, p_warp=0.0)
ONLY_SCALE = AugmentConfig(p_shift=0.0, p_scale=1.0, p_warp=0.0)
ONLY_WARP = AugmentConfig(p_shift=0.0, p_scale=0.0, p_warp=1.0)


@pytest.fixture(scope="module")
def sample(patch_arrays, season_2019):
    pick = np.random.default_rng(3).choice(len(patch_arrays), 600, replace=False)
    return patch_arrays.subset(pick), season_2019[pick]


def plain(arrays, start, window=5):
    return fill_gaps(composite_medians(arrays, start, window, 43))[0]


def test_none_equals_plain_compositing(sample):
    arrays, start = sample
    got = augmented_medians(arrays, start, PAPER, np.random.default_rng(0), AugmentConfig.none())
    np.testing.assert_array_equal(got, plain(arrays, start))


@pytest.mark.parametrize("config", [AugmentConfig(), ONLY_SHIFT, ONLY_SCALE, ONLY_WARP])
def test_bin_count_kept_and_never_discards(sample, config):
    arrays, start = sample
    got = augmented_medians(arrays, start, PAPER, np.random.default_rng(1), config)
    assert got.shape == (600, 10, 43) and got.dtype == np.float32 and np.isfinite(got).all()


def test_shift_equals_compositing_from_shifted_start(sample):
    arrays, start = sample
    shifted, window = augmented_window(start, PAPER, np.random.default_rng(5), ONLY_SHIFT)
    delta = shifted - start
    assert (window == 5).all() and delta.min() == -10 and delta.max() == 10
    got = augmented_medians(arrays, start, PAPER, np.random.default_rng(5), ONLY_SHIFT)
    np.testing.assert_array_equal(got, plain(arrays, shifted))
    # acquisitions here fall every 5 days starting on May 1 2019 itself, so a shift by -4..0 days keeps
    # every acquisition in its bin; any other shift moves acquisitions across bin edges
    changed = (got != plain(arrays, start)).any(axis=(1, 2))
    same_bins = (delta >= -4) & (delta <= 0)
    assert changed[~same_bins].all() and not changed[same_bins].any() and (~same_bins).mean() > 0.6


def test_scale_keeps_bins_and_stretches_window(sample):
    arrays, start = sample
    rng = np.random.default_rng(6)
    new_start, window = augmented_window(start, PAPER, rng, ONLY_SCALE)
    moved = new_start - start
    assert moved.min() >= -30 and moved.max() <= 10 and len(np.unique(moved)) > 30
    # Te' - Ts' lies in 213 + [-40, 40]; ceil(/43) gives 5 or 6 days, covering the whole new span
    assert set(np.unique(window)) == {5, 6}
    got = augmented_medians(arrays, start, PAPER, np.random.default_rng(6), ONLY_SCALE)
    np.testing.assert_array_equal(got, plain(arrays, new_start, window))


def test_probabilities_are_per_sample():
    start = np.full(4000, 18017)
    half_shift = AugmentConfig(p_shift=0.5, p_scale=0.0, p_warp=0.0)
    new_start, window = augmented_window(start, PAPER, np.random.default_rng(0), half_shift)
    # half the samples are shifted, by a delta in [-10, 10] that is non-zero 20 times in 21
    assert abs((new_start != start).mean() - 0.5 * 20 / 21) < 0.03 and (window == 5).all()


def test_warp_is_one_smooth_curve_shared_by_bands(sample):
    arrays, start = sample
    base = plain(arrays, start)
    got = augmented_medians(arrays, start, PAPER, np.random.default_rng(7), ONLY_WARP)
    ratio = got / base                                                # (n, 10, 43)
    assert np.isfinite(ratio).all()
    np.testing.assert_allclose(ratio, ratio[:, :1, :].repeat(10, axis=1), rtol=2e-6)
    curve = ratio[:, 0, :].astype(np.float64)
    assert 0.0 < curve.min() and curve.max() < 2.2 and abs(np.median(curve) - 1) < 0.05
    assert np.abs(np.diff(curve, 2, axis=1)).max() < 0.06           # smooth: tiny second differences
    assert curve.std(axis=1).mean() > 0.05                           # but not flat


def test_spline_basis_interpolates_its_knots():
    basis = spline_basis(41, 5)                                      # knots at bins 0, 10, 20, 30, 40
    assert basis.shape == (41, 5)
    np.testing.assert_allclose(basis.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(basis[[0, 10, 20, 30, 40]], np.eye(5), atol=1e-12)
    knots = np.array([[1.0, 1.2, 0.8, 1.1, 1.0]])
    np.testing.assert_allclose(warp_curves(knots, 41)[0, [0, 10, 20, 30, 40]], knots[0])


def test_same_seed_same_result(sample):
    arrays, start = sample
    a = augmented_medians(arrays, start, PAPER, np.random.default_rng(9), AugmentConfig())
    b = augmented_medians(arrays, start, PAPER, np.random.default_rng(9), AugmentConfig())
    c = augmented_medians(arrays, start, PAPER, np.random.default_rng(10), AugmentConfig())
    assert np.array_equal(a, b) and not np.array_equal(a, c)
