"""Random Forest baseline on real median features of the Flanders patch."""
from __future__ import annotations

import numpy as np

from gee_crop.features.spec import FeatureSpec
from gee_crop.models.forest import RF_TREES, fit_random_forest, forest_probabilities
from gee_crop.training.dataset import series_features, stratified_split
from tests.training.realdata import MAX_GAP_BINS, labelled_pixels


def test_rf500_on_1d_medians_separates_the_patch_crops():
    series = labelled_pixels()
    spec = FeatureSpec("median1d", max_gap_bins=MAX_GAP_BINS)
    feats = series_features(series, spec)
    x = spec.model_input(feats.values[feats.keep], flat=True)
    y = series.labels[feats.keep]
    assert x.shape == (len(y), 430)
    train, test = stratified_split(y, 0.3, seed=0)
    forest = fit_random_forest(x[train], y[train], seed=0)
    assert forest.n_estimators == RF_TREES == 500 and forest.n_jobs == -1
    proba = forest_probabilities(forest, x[test])
    # corn, wheat and other have distinct phenology (maize peaks Jul-Aug, wheat is harvested in July)
    assert (proba.argmax(axis=1) == y[test]).mean() > 0.85


def test_probabilities_cover_all_seven_classes():
    """Synthetic features: a forest that saw only classes 0 and 6 gives 0 to the five others."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = np.where(x[:, 0] > 0, 6, 0)
    proba = forest_probabilities(fit_random_forest(x, y, n_estimators=5), x)
    assert proba.shape == (40, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert not proba[:, 1:6].any()
