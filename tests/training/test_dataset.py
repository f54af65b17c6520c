"""Feature pipeline shared by training, evaluation and export."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.features.spec import FeatureSpec
from gee_crop.season import Season
from gee_crop.training.dataset import AugmentedBatches, normalization_stats, series_features, stratified_split
from tests.training.realdata import MAX_GAP_BINS, labelled_pixels


def test_spec_defaults_and_meta_round_trip():
    spec = FeatureSpec()
    assert spec.n_bins == 43 and spec.n_features == 430
    assert FeatureSpec("harmonic").n_features == 35
    meta = {"feature_kind": "median1d", "season": FeatureSpec(season=Season(window_days=15)).season_dict(2023),
            "cloud_threshold": 0.6, "max_gap_bins": 3}
    assert meta["season"] == {"start_month_day": [5, 1], "length_days": 213, "window_days": 15,
                              "n_bins": 15, "year_trained": 2023}
    assert FeatureSpec.from_meta(meta) == FeatureSpec("median1d", Season((5, 1), 213, 15, 6), 0.6, 3)
    with pytest.raises(ValueError, match="feature_kind"):
        FeatureSpec("ndvi")


def test_model_input_shapes():
    values = np.arange(2 * 10 * 43, dtype=np.float32).reshape(2, 10, 43)
    assert FeatureSpec("median2d").model_input(values).shape == (2, 1, 10, 43)
    flat = FeatureSpec("median1d").model_input(values)
    assert flat.shape == (2, 1, 430)
    # 1D features are the band-major flattening of the 2D matrix (METHOD.md: 10 * t values)
    assert flat[1, 0, 43] == values[1, 1, 0]
    assert FeatureSpec("median1d").model_input(values, flat=True).shape == (2, 430)
    assert FeatureSpec("median2d").input_shape == (1, 10, 43) and FeatureSpec("harmonic").input_shape == (1, 35)


def test_real_features_of_the_patch():
    series = labelled_pixels()
    med = series_features(series, FeatureSpec(max_gap_bins=MAX_GAP_BINS))
    harm = series_features(series, FeatureSpec("harmonic", max_gap_bins=MAX_GAP_BINS))
    assert med.year == harm.year == 2019
    assert med.values.shape == (len(series), 10, 43) and harm.values.shape == (len(series), 35)
    np.testing.assert_array_equal(med.keep, harm.keep)
    kept = med.values[med.keep]
    assert np.isfinite(kept).all() and 0 < kept.mean() < 1  # reflectance, not DN
    strict = series_features(series, FeatureSpec(max_gap_bins=2))
    assert strict.keep.sum() < med.keep.sum()  # a tighter gap rule drops more of the cloudy series


def test_normalization_stats_per_band_and_per_feature():
    """Synthetic medians: band b holds the constant b / 10 plus a per-bin ramp."""
    values = np.broadcast_to(np.arange(10, dtype=np.float32)[None, :, None] / 10, (4, 10, 6)).copy()
    values += np.linspace(0, 0.05, 6, dtype=np.float32)
    mean, std = normalization_stats(values, FeatureSpec(season=Season(length_days=30, window_days=5)))
    np.testing.assert_allclose(mean, np.arange(10) / 10 + 0.025, atol=1e-6)
    np.testing.assert_allclose(std, np.full(10, np.std(np.linspace(0, 0.05, 6))), atol=1e-6)
    mean1, std1 = normalization_stats(values, FeatureSpec("median1d", season=Season(length_days=30, window_days=5)))
    assert mean1.shape == (60,) and np.allclose(std1, 0)


def test_stratified_split_is_disjoint_deterministic_and_per_class():
    labels = np.repeat([0, 3, 6], [20, 10, 50])
    train, val = stratified_split(labels, 0.2, seed=0)
    assert np.intersect1d(train, val).size == 0 and len(train) + len(val) == 80
    assert np.bincount(labels[val], minlength=7)[[0, 3, 6]].tolist() == [4, 2, 10]
    again, _ = stratified_split(labels, 0.2, seed=0)
    other, _ = stratified_split(labels, 0.2, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    _, none = stratified_split(labels, 0.0, seed=0)
    assert none.size == 0


def test_augmented_batches_recompute_medians_repeatably():
    series = labelled_pixels().subset(np.arange(40))
    spec = FeatureSpec(max_gap_bins=MAX_GAP_BINS)
    feats = series_features(series, spec)
    plain = AugmentedBatches(series, feats.values, feats.year, spec, augment=None)
    index = np.arange(16)
    np.testing.assert_array_equal(plain.inputs(index, np.random.default_rng(0)),
                                  spec.model_input(feats.values[index]))
    aug = AugmentedBatches(series, feats.values, feats.year, spec, augment={})
    a = aug.inputs(index, np.random.default_rng([3, 1]))
    b = aug.inputs(index, np.random.default_rng([3, 1]))
    c = aug.inputs(index, np.random.default_rng([3, 2]))
    assert a.shape == (16, 1, 10, 43) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a shift/scale/warp moves the series but keeps it a plausible reflectance curve
    assert np.abs(a - spec.model_input(feats.values[index])).max() > 0.01
    assert np.median(a) == pytest.approx(np.median(feats.values[index]), rel=0.3)
