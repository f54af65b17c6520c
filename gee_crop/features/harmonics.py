"""Harmonic features: 3rd-order harmonic regression of five series over the season (35 values).

METHOD.md "Harmonic": NIR (B8), narrow NIR (B8A), SWIR1 (B11), SWIR2 (B12) and GCVI are each fit
with f(t) = c + sum_{k=1..3} a_k cos(2 pi k t) + b_k sin(2 pi k t), t = fraction of the season
(0 at Ts, 1 at Te): 7 coefficients x 5 series = 35 features (the count METHOD.md gives; a linear
trend term would make 8 per series). Only clear observations inside [Ts, Te) enter the fit.
"""

from __future__ import annotations

import numpy as np

from gee_crop.config import BAND_INDEX
from gee_crop.features.composite import SeriesArrays
from gee_crop.features.indices import gcvi
from gee_crop.season import Season

HARMONIC_ORDER = 3
HARMONIC_BANDS: tuple[str, ...] = ("B8", "B8A", "B11", "B12")
HARMONIC_SERIES: tuple[str, ...] = (*HARMONIC_BANDS, "GCVI")
COEFFICIENTS: tuple[str, ...] = ("c", *(f"{f}{k}" for k in range(1, HARMONIC_ORDER + 1) for f in ("cos", "sin")))
#: relative ridge added to the normal equations so that samples with < 7 observations stay solvable.
RIDGE = 1e-9


def harmonic_design(t: np.ndarray) -> np.ndarray:
    """(..., 7) regressors [1, cos 2pi t, sin 2pi t, cos 4pi t, sin 4pi t, cos 6pi t, sin 6pi t] of t (...)."""
    angle = 2 * np.pi * np.asarray(t, dtype=np.float64)[..., None] * np.arange(1, HARMONIC_ORDER + 1)
    columns = np.stack([np.cos(angle), np.sin(angle)], axis=-1).reshape(*angle.shape[:-1], -1)
    return np.concatenate([np.ones((*angle.shape[:-1], 1)), columns], axis=-1)


def feature_names() -> list[str]:
    """The 35 names, series-major: B8_c, B8_cos1, B8_sin1, ..., GCVI_sin3."""
    return [f"{s}_{c}" for s in HARMONIC_SERIES for c in COEFFICIENTS]


def fit_harmonics(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(n, S, 7) least-squares coefficients of ``values`` (n, T, S) at times ``t`` (n, T); NaN = missing.

    Per sample and series the normal equations (X^T W X) beta = X^T W y are solved as one batched
    (n, S, 7, 7) system; a tiny ridge keeps samples with few observations finite (all-missing -> 0).
    """
    x = harmonic_design(t)  # (n, T, 7)
    weight = ~np.isnan(values) & ~np.isnan(t)[..., None]  # (n, T, S)
    y = np.where(weight, values, 0.0).astype(np.float64)
    x = np.where(np.isnan(x), 0.0, x)
    xt = x.transpose(0, 2, 1)  # (n, 7, T)
    # batched matmuls, one per series (a 3-operand einsum is ~5x slower here)
    gram = np.stack([(xt * weight[:, None, :, s]) @ x for s in range(values.shape[2])], axis=1)
    rhs = np.matmul(y.transpose(0, 2, 1), x)  # (n, S, 7)
    scale = np.maximum(np.trace(gram, axis1=2, axis2=3), 1.0)[..., None, None]
    gram = gram + RIDGE * scale * np.eye(x.shape[-1])
    return np.linalg.solve(gram, rhs[..., None])[..., 0]


def harmonic_features(arrays: SeriesArrays, start_days: np.ndarray | int, season: Season = Season()) -> np.ndarray:
    """(n, 35) float32 harmonic coefficients (series-major, see :func:`feature_names`) over ``season``.

    ``start_days``: Ts per sample (n,) or scalar, days since 1970-01-01; t = (day - Ts) / season.length_days.
    """
    n = len(arrays)
    start = np.broadcast_to(np.asarray(start_days, dtype=np.int64), (n,))
    t = (arrays.days.astype(np.int64) - start[:, None]) / float(season.length_days)
    t = np.where((t >= 0) & (t < 1), t, np.nan)
    series = [arrays.reflectance[..., BAND_INDEX[b]] for b in HARMONIC_BANDS]
    series.append(gcvi(arrays.reflectance))
    coefficients = fit_harmonics(t, np.stack(series, axis=-1))
    return coefficients.reshape(n, -1).astype(np.float32)
