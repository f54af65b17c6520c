"""Training-time augmentation of median features (METHOD.md "Augmentation", paper Table 7).

Each transform is drawn independently per sample with its own probability:

* time shift: Ts and Te both move by an integer delta in [-10, 10] days; medians are recomputed from
  the raw series with the same window;
* time scale: Ts and Te each move by an integer in [-30, 10]; the window becomes
  d' = ceil((Te' - Ts') / t) so that the bin count t is unchanged; medians recomputed;
* magnitude warping: the gap-filled medians are multiplied by a cubic spline through K = 5 knots at
  evenly spaced bin positions with ordinates ~ N(1, 0.2^2), the same curve for every band.

Not in the paper (issue 12, off by default): **cadence dropout** thins a sample's clear observations to
one per ``dropout_days`` window (one drawn at random per window, the windows at a random phase) before
compositing, so that dense 5-day or dekadal series look like monthly ones after the same median and
linear gap filling; a model trained with it sees both cadences.

Augmented samples are never discarded: a row the gap rule would drop is filled anyway (a thinned
series has gaps of up to two windows, longer than ``max_gap_bins`` at 30 days).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache

import numpy as np
from scipy.interpolate import CubicSpline

from gee_crop.config import MAX_GAP_BINS
from gee_crop.errors import InputError
from gee_crop.features.composite import SeriesArrays, composite_pixels
from gee_crop.season import Season

#: METHOD.md "Augmentation": each transform is drawn for a sample with this probability.
P_TRANSFORM = 0.5
#: cadence dropout keeps one clear observation per window of this many days: a monthly series.
DROPOUT_DAYS = 30


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the transforms (defaults: METHOD.md; cadence dropout off)."""

    p_shift: float = P_TRANSFORM
    """Probability that a sample's season is shifted in time."""
    p_scale: float = P_TRANSFORM
    """Probability that a sample's season start and end move independently (time scale)."""
    p_warp: float = P_TRANSFORM
    """Probability that a sample's medians are multiplied by a smooth random curve."""
    max_shift_days: int = 10
    """Time shift: Ts and Te move by an integer delta in [-max_shift_days, max_shift_days]."""
    scale_range: tuple[int, int] = (-30, 10)
    """Time scale: Ts and Te each move by an integer in this range (days)."""
    warp_sigma: float = 0.2
    """Magnitude warping: knot ordinates ~ N(1, warp_sigma^2)."""
    warp_knots: int = 5
    """Magnitude warping: number of spline knots K, evenly spaced over the bins."""
    p_dropout: float = 0.0
    """Probability that a sample's observations are thinned to one per ``dropout_days`` (not in the paper)."""
    dropout_days: int = DROPOUT_DAYS
    """Cadence dropout: keep one clear observation per window of this many days (30: monthly)."""

    @classmethod
    def none(cls) -> AugmentConfig:
        """No augmentation (evaluation, or the 'none' row of Table 7)."""
        return cls(p_shift=0.0, p_scale=0.0, p_warp=0.0, p_dropout=0.0)

    @property
    def probabilities(self) -> dict[str, float]:
        """The per-sample probability of each transform, by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.startswith("p_")}


def augment_config(options: dict | None = None, *, enabled: bool = True) -> AugmentConfig:
    """The AugmentConfig of ``augment_options`` (``gee-crop train`` / experiment ``train.augment_options``)
    over the defaults; InputError naming the key for an unknown option, a probability outside [0, 1], a
    dropout window under one day, or a probability set while augmentation is off (``enabled``)."""
    options = dict(options or {})
    known = [f.name for f in fields(AugmentConfig)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InputError(f"unknown augmentation option(s) {', '.join(unknown)}; use {', '.join(known)}")
    config = AugmentConfig(**options)
    bad = [f"{k}={v}" for k, v in config.probabilities.items() if not 0.0 <= float(v) <= 1.0]
    if bad:
        raise InputError(f"augmentation probabilities must lie in [0, 1]; got {', '.join(bad)}")
    if int(config.dropout_days) < 1:
        raise InputError(f"dropout_days must be at least 1 day; got {config.dropout_days} (30 thins to monthly)")
    on = [k for k in options if k.startswith("p_") and float(options[k]) > 0]
    if not enabled and on:
        raise InputError(
            f"{', '.join(on)} set an augmentation probability but augmentation is off; "
            "drop --no-augment (or the probability)"
        )
    return config


def one_per_window(
    observed: np.ndarray, days: np.ndarray, period_days: int, priority: np.ndarray, phase: np.ndarray | int = 0
) -> np.ndarray:
    """(m, T) bool: per row, the ``observed`` entry of lowest ``priority`` in each window of
    ``period_days`` days (windows start ``phase`` days, a scalar or (m,), after 1970-01-01); ``days``
    (m, T) days since 1970-01-01. Cadence dropout draws ``priority`` at random; a fixed thinning
    (``experiments.variants.thin``) keeps the first observation of each window."""
    window = (days.astype(np.int64) - np.asarray(phase, dtype=np.int64)[..., None]) // period_days
    priority = np.where(observed, priority, np.inf)
    # per row, sort by (window, priority): the first entry of each window is the one kept
    order = np.lexsort((priority, window), axis=-1)
    window_sorted = np.take_along_axis(window, order, axis=1)
    first = np.ones_like(observed)
    first[:, 1:] = window_sorted[:, 1:] != window_sorted[:, :-1]
    keep = np.zeros_like(observed)
    np.put_along_axis(keep, order, first & np.isfinite(np.take_along_axis(priority, order, axis=1)), axis=1)
    return keep


def drop_observations(
    arrays: SeriesArrays, rng: np.random.Generator, p: float, period_days: int = DROPOUT_DAYS
) -> SeriesArrays:
    """Cadence dropout: each sample, with probability ``p``, keeps one clear observation (drawn at
    random) per window of ``period_days`` days, windows starting at a random phase; the others become
    NaN (not observed). ``arrays`` (n, T, 10) is not modified; draws nothing when ``p`` is 0.
    """
    n, t = arrays.days.shape
    if p <= 0 or n == 0 or t == 0:
        return arrays
    thinned = np.flatnonzero(rng.random(n) < p)
    if len(thinned) == 0:
        return arrays
    observed = arrays.observed[thinned]  # (m, T)
    phase = rng.integers(0, period_days, len(thinned))
    keep = one_per_window(observed, arrays.days[thinned], period_days, rng.random(observed.shape), phase)
    reflectance = arrays.reflectance.copy()
    rows = reflectance[thinned]
    rows[observed & ~keep] = np.nan
    reflectance[thinned] = rows
    return replace(arrays, reflectance=reflectance)


@lru_cache(maxsize=32)
def spline_basis(n_bins: int, n_knots: int) -> np.ndarray:
    """(n_bins, n_knots) matrix B such that B @ y is the cubic spline through knots y at bins 0..n_bins-1.

    Knots sit at evenly spaced bin positions ``linspace(0, n_bins - 1, n_knots)``; the spline is linear
    in its ordinates, so evaluating it on the identity gives the basis once for every sample.
    """
    knots_x = np.linspace(0.0, n_bins - 1, n_knots)
    basis = CubicSpline(knots_x, np.eye(n_knots), axis=0)(np.arange(n_bins))
    basis.setflags(write=False)
    return basis


def warp_curves(knots: np.ndarray, n_bins: int) -> np.ndarray:
    """(n, n_bins) smooth multiplicative curves from knot ordinates (n, K)."""
    return knots @ spline_basis(n_bins, knots.shape[1]).T


def augmented_window(
    start_days: np.ndarray, season: Season, rng: np.random.Generator, config: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample (start (n,), window (n,)) after random time shift and time scale of ``season``'s
    windows starting at ``start_days`` (n,), int64 days; the number of bins stays ``season.n_bins``."""
    n = len(start_days)
    start = np.asarray(start_days, dtype=np.int64).copy()
    end = start + season.length_days
    shift = np.where(
        rng.random(n) < config.p_shift, rng.integers(-config.max_shift_days, config.max_shift_days + 1, n), 0
    )
    start, end = start + shift, end + shift
    scaled = rng.random(n) < config.p_scale
    low, high = config.scale_range
    start = start + np.where(scaled, rng.integers(low, high + 1, n), 0)
    end = end + np.where(scaled, rng.integers(low, high + 1, n), 0)
    # ceil division; unscaled samples keep the configured window
    window = np.where(scaled, -(-(end - start) // season.n_bins), season.window_days)
    return start, np.maximum(window, 1)


def augmented_medians(
    arrays: SeriesArrays,
    start_days: np.ndarray,
    season: Season,
    rng: np.random.Generator,
    config: AugmentConfig,
    max_gap_bins: int = MAX_GAP_BINS,
) -> np.ndarray:
    """(n, 10, season.n_bins) float32 gap-filled medians of ``season``'s windows with random cadence
    dropout / shift / scale / warp per sample.

    ``start_days`` (n,) Ts per sample (days since 1970-01-01). With ``AugmentConfig.none()`` this equals
    ``composite_pixels(arrays, start_days, season.window_days, season.n_bins).values``. Cadence dropout draws from
    ``rng`` only when ``p_dropout`` > 0, so the paper's transforms draw as they did before it existed.
    """
    n = len(arrays)
    arrays = drop_observations(arrays, rng, config.p_dropout, config.dropout_days)
    start_days = np.broadcast_to(np.asarray(start_days, dtype=np.int64), (n,))
    start, window = augmented_window(start_days, season, rng, config)
    filled = composite_pixels(arrays, start, window, season.n_bins, max_gap_bins=max_gap_bins).values
    return magnitude_warped(filled, rng, config)


def magnitude_warped(values: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """``values`` (n, bands, t), each sample with probability ``p_warp`` multiplied (in place) by a smooth
    random curve over its bins, the same for every band (METHOD.md "Augmentation")."""
    warped = rng.random(len(values)) < config.p_warp
    if warped.any():
        knots = rng.normal(1.0, config.warp_sigma, (int(warped.sum()), config.warp_knots))
        values[warped] *= warp_curves(knots, values.shape[-1])[:, None, :].astype(np.float32)
    return values


def augmented_composites(
    values: np.ndarray, season: Season, rng: np.random.Generator, config: AugmentConfig
) -> np.ndarray:
    """(n, bands, t) float32 composites (gap-filled medians of ``season``'s windows) with random time shift,
    time scale and magnitude warping per sample, drawn as :func:`augmented_medians` draws them.

    A cube holds composites, not observations: the shifted / scaled windows are resampled from the composite
    curve by linear interpolation between bin centres (clamped at the season's edges) instead of re-binning
    the acquisitions, so no observation enters or leaves a window and cloud gaps do not move.
    """
    n, t = values.shape[0], values.shape[-1]
    start, window = augmented_window(np.zeros(n, dtype=np.int64), season, rng, config)
    # centre of new window k, in units of the original bins (bin j's centre is at j)
    position = (start[:, None] + (np.arange(t) + 0.5) * window[:, None]) / season.window_days - 0.5
    position = np.clip(position, 0.0, t - 1.0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, t - 1)
    frac = (position - low).astype(np.float32)[:, None, :]
    take = np.take_along_axis
    out = take(values, low[:, None, :].repeat(values.shape[1], 1), axis=2) * (1 - frac)
    out += take(values, high[:, None, :].repeat(values.shape[1], 1), axis=2) * frac
    return magnitude_warped(out.astype(np.float32), rng, config)
