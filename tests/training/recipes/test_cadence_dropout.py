"""Cadence dropout (issue 12): dense series thinned to about one observation a month before the usual
median + gap filling, so that France 2023 dekadal inputs look like France 2022 monthly ones."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.errors import InputError
from gee_crop.features.augment import (AugmentConfig, augment_config, augmented_medians, drop_observations)
from gee_crop.features.composite import composite_medians, composite_pixels, prepare_series
from gee_crop.features.seasons import season_start_days
from gee_crop.season import Season

ONLY_DROPOUT = AugmentConfig(p_shift=0.0, p_scale=0.0, p_warp=0.0, p_dropout=1.0)


def observed_bins(arrays, start) -> np.ndarray:
    """(n,) distinct 5-day bins of the season holding a clear observation."""
    medians = composite_medians(arrays, start, 5, 43)
    return (~np.isnan(medians).all(axis=1)).sum(axis=1)


@pytest.fixture(scope="module")
def dekadal(fra_dekadal):
    return prepare_series(fra_dekadal), season_start_days(fra_dekadal.lat, 2023)


def test_dekadal_thinned_looks_monthly(dekadal, fra_monthly):
    arrays, start = dekadal
    thinned = drop_observations(arrays, np.random.default_rng(0), p=1.0)
    monthly = observed_bins(prepare_series(fra_monthly), season_start_days(fra_monthly.lat, 2022)).mean()
    before, after = observed_bins(arrays, start).mean(), observed_bins(thinned, start).mean()
    # measured: dekadal 12.9 bins, thinned 6.3, monthly 7.0 of the 43 bins of May-November
    assert before > 1.7 * monthly
    assert abs(after - monthly) < 1.0, (before, after, monthly)


def test_thinning_keeps_real_values_one_per_window(dekadal):
    arrays, _ = dekadal
    thinned = drop_observations(arrays, np.random.default_rng(1), p=1.0, period_days=30)
    kept = ~np.isnan(thinned.reflectance)
    # nothing is invented: every kept value is the original observation
    np.testing.assert_array_equal(thinned.reflectance[kept], arrays.reflectance[kept])
    # one observation per 30-day window: two kept dates less than 30 days apart only across a window edge,
    # so no three kept dates fall within 30 days
    days = np.where(thinned.observed, thinned.days, np.iinfo(np.int32).max)
    days = np.sort(days, axis=1)
    gaps3 = days[:, 2:] - days[:, :-2]
    valid = days[:, 2:] < np.iinfo(np.int32).max
    assert (gaps3[valid] >= 30).all()
    # a sample with observations keeps at least one per window that had any
    assert (thinned.observed.sum(axis=1) >= 1)[arrays.observed.any(axis=1)].all()
    assert arrays.reflectance is not thinned.reflectance and np.isnan(arrays.reflectance).mean() < np.isnan(
        thinned.reflectance).mean()


def test_deterministic_per_rng_and_drawn_per_sample(dekadal):
    arrays, _ = dekadal
    a = drop_observations(arrays, np.random.default_rng(7), p=0.5)
    b = drop_observations(arrays, np.random.default_rng(7), p=0.5)
    c = drop_observations(arrays, np.random.default_rng(8), p=0.5)
    np.testing.assert_array_equal(a.reflectance, b.reflectance)
    assert not np.array_equal(np.isnan(a.reflectance), np.isnan(c.reflectance))
    thinned = (np.isnan(a.reflectance) != np.isnan(arrays.reflectance)).any(axis=(1, 2))
    assert abs(thinned.mean() - 0.5) < 0.08  # measured 0.52 on the 500 parcels (rng 1)


def test_off_draws_nothing_so_paper_augmentation_is_unchanged(dekadal):
    arrays, start = dekadal
    rng = np.random.default_rng(3)
    assert drop_observations(arrays, rng, p=0.0) is arrays
    assert rng.random() == np.random.default_rng(3).random()
    paper = AugmentConfig()
    np.testing.assert_array_equal(augmented_medians(arrays, start, Season(), np.random.default_rng(4), paper),
                                  augmented_medians(arrays, start, Season(), np.random.default_rng(4),
                                                    AugmentConfig(p_dropout=0.0)))


def test_thinned_samples_are_gap_filled_not_dropped(dekadal):
    arrays, start = dekadal
    got = augmented_medians(arrays, start, Season(), np.random.default_rng(5), ONLY_DROPOUT, max_gap_bins=10)
    assert got.shape == (len(arrays), 10, 43) and np.isfinite(got).all()
    # the same thinning through the gap rule would drop many of them: augmentation fills them anyway
    thinned = drop_observations(arrays, np.random.default_rng(5), p=1.0)
    keep = composite_pixels(thinned, start, 5, 43, max_gap_bins=10).keep
    assert (~keep).sum() > 0.1 * len(arrays)
    np.testing.assert_array_equal(got, composite_pixels(thinned, start, 5, 43, max_gap_bins=10).values)


@pytest.mark.parametrize("options, words", [
    ({"p_dropout": 1.5}, "[0, 1]"),
    ({"p_drop": 0.5}, "unknown augmentation option(s) p_drop"),
    ({"dropout_days": 0}, "at least 1 day"),
])
def test_bad_options_are_refused(options, words):
    with pytest.raises(InputError) as err:
        augment_config(options)
    assert words in str(err.value)


def test_dropout_without_augmentation_is_refused():
    with pytest.raises(InputError, match="augmentation is off"):
        augment_config({"p_dropout": 0.5}, enabled=False)
    assert augment_config({"p_dropout": 0.5}).p_dropout == 0.5
