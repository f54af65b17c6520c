"""Spectral indices on reflectance arrays whose band axis follows SENTINEL2.bands.

NDVI = (NIR - Red) / (NIR + Red) (paper Fig. 4 curves); GCVI = NIR / Green - 1 (METHOD.md
"Harmonic" features). NaN where an input is NaN or the denominator is 0.
"""

from __future__ import annotations

import numpy as np

from gee_crop.config import BAND_INDEX


def _band(reflectance: np.ndarray, name: str, band_axis: int) -> np.ndarray:
    return np.take(reflectance, BAND_INDEX[name], axis=band_axis).astype(np.float32, copy=False)


def ndvi(reflectance: np.ndarray, band_axis: int = -1) -> np.ndarray:
    """NDVI from B8 and B4; shape of ``reflectance`` without ``band_axis``, float32."""
    nir, red = _band(reflectance, "B8", band_axis), _band(reflectance, "B4", band_axis)
    total = nir + red
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total != 0, (nir - red) / total, np.nan).astype(np.float32)


def gcvi(reflectance: np.ndarray, band_axis: int = -1) -> np.ndarray:
    """Green chlorophyll vegetation index B8 / B3 - 1; shape without ``band_axis``, float32."""
    nir, green = _band(reflectance, "B8", band_axis), _band(reflectance, "B3", band_axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(green != 0, nir / green - 1, np.nan).astype(np.float32)
