"""NDVI and GCVI helpers: known values, band axis handling, and realistic maize phenology."""
from __future__ import annotations

import numpy as np

from gee_crop.config import BAND_INDEX
from gee_crop.features.indices import gcvi, ndvi


def test_known_values_and_band_axis():
    pixel = np.zeros(10, dtype=np.float32)
    pixel[BAND_INDEX["B4"]], pixel[BAND_INDEX["B8"]], pixel[BAND_INDEX["B3"]] = 0.05, 0.45, 0.09
    assert np.isclose(ndvi(pixel), 0.8, rtol=1e-6)
    assert np.isclose(gcvi(pixel), 4.0)
    stack = np.stack([pixel, pixel * 2])[:, :, None]          # (2, 10, 1): bands on axis 1
    assert ndvi(stack, band_axis=1).shape == (2, 1)
    np.testing.assert_allclose(gcvi(stack, band_axis=1)[:, 0], [4.0, 4.0], rtol=1e-6)


def test_zero_denominator_and_nan_give_nan():
    pixel = np.zeros((2, 10), dtype=np.float32)
    pixel[1, BAND_INDEX["B8"]] = np.nan
    assert np.isnan(ndvi(pixel)).all() and np.isnan(gcvi(pixel)).all()


def test_maize_ndvi_peaks_in_summer(patch_series, patch_arrays):
    # PROVENANCE.md: clear maize NDVI median 0.82-0.84 in Jul-Aug 2019
    maize = patch_series.extra["source_code"] == 1200
    days = patch_arrays.days[maize]
    summer = (days >= np.datetime64("2019-07-01", "D").astype(int)) & \
             (days < np.datetime64("2019-09-01", "D").astype(int))
    values = ndvi(patch_arrays.reflectance[maize])[summer]
    assert 0.78 < np.nanmedian(values) < 0.88
