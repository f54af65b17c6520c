"""Harmonic regression features: exact recovery of a known curve, and 35 sensible values on the patch."""
from __future__ import annotations

import numpy as np

from gee_crop.config import BAND_INDEX
from gee_crop.features.composite import SeriesArrays
from gee_crop.features.harmonics import (COEFFICIENTS, feature_names, fit_harmonics, harmonic_design,
                                         harmonic_features)
from gee_crop.season import Season


def test_fit_recovers_known_coefficients_with_missing_values():
    rng = np.random.default_rng(0)
    n, t_len = 6, 40
    truth = rng.normal(0, 0.1, (n, 2, 7))                                          # synthetic
    t = np.sort(rng.random((n, t_len)), axis=1)
    values = np.einsum("nti,nsi->nts", harmonic_design(t), truth)
    values[rng.random(values.shape) < 0.3] = np.nan                                # ~12 of 40 missing
    np.testing.assert_allclose(fit_harmonics(t, values), truth, atol=1e-7)


def test_features_from_series_arrays_recover_synthetic_curves():
    """A synthetic sample whose bands follow known harmonics over a 213-day season, seen every 5 days."""
    start, length = 18017, 213                                # 2019-05-01
    days = start + np.arange(0, 213, 5)
    t = (days - start) / length
    x = harmonic_design(t)
    coefficients = {"B8": [0.3, -0.1, 0.05, 0.02, 0, 0, 0.01],
                    "B8A": [0.31, -0.1, 0.04, 0, 0.01, 0, 0], "B11": [0.2, 0.03, 0, 0, 0, 0.01, 0],
                    "B12": [0.12, 0.04, 0, 0, 0, 0, 0]}
    reflectance = np.full((1, len(days), 10), 0.1, dtype=np.float32)
    for band, c in coefficients.items():
        reflectance[0, :, BAND_INDEX[band]] = x @ np.array(c)
    reflectance[0, :, BAND_INDEX["B3"]] = reflectance[0, :, BAND_INDEX["B8"]] / 4      # GCVI = 3
    # outside the season: ignored by the fit
    reflectance = np.concatenate([np.full((1, 3, 10), 0.9, np.float32), reflectance], axis=1)
    days = np.r_[start - 30, start - 1, start + 400, days].astype(np.int32)[None]
    features = harmonic_features(SeriesArrays(reflectance, days), start, Season(length_days=length))
    assert features.shape == (1, 35) and features.dtype == np.float32
    per_series = features.reshape(5, 7)
    for s, band in enumerate(("B8", "B8A", "B11", "B12")):
        np.testing.assert_allclose(per_series[s], coefficients[band], atol=2e-6)
    np.testing.assert_allclose(per_series[4], [3, 0, 0, 0, 0, 0, 0], atol=2e-6)
    assert feature_names()[:2] == ["B8_c", "B8_cos1"] and feature_names()[-1] == "GCVI_sin3"
    assert len(COEFFICIENTS) == 7


def test_patch_features_are_finite_and_fit_the_observations(patch_arrays, season_2019):
    features = harmonic_features(patch_arrays, season_2019)
    assert features.shape == (4096, 35) and np.isfinite(features).all()
    # the fitted B8 curve follows the clear in-season B8 observations (real phenology, not noise)
    t = (patch_arrays.days - season_2019[:, None]) / 213
    inside = (t >= 0) & (t < 1)
    b8 = np.where(inside, patch_arrays.reflectance[..., BAND_INDEX["B8"]], np.nan)
    fitted = harmonic_design(t) @ features[:, :7, None].astype(np.float64)
    residual_ss = np.nansum((b8 - fitted[..., 0]) ** 2, axis=1)
    total_ss = np.nansum((b8 - np.nanmean(b8, axis=1, keepdims=True)) ** 2, axis=1)
    r2 = 1 - residual_ss / total_ss
    assert np.median(r2) > 0.6 and np.percentile(r2, 10) > 0.3
