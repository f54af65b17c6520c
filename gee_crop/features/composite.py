"""Client-side median features: raw series -> 5-day-window medians -> gap-filled (n, 10, t) matrices.

METHOD.md "Features": over a season span [Ts, Te) (May 1 + 213 days in the north, six months earlier
in the south) cut into t = ceil((Te - Ts) / d) windows of d = 5 days, each window holds the median of
the clear observations; empty windows are filled by linear interpolation along time, and a sample with
too long a gap is discarded (``max_gap_bins``). The 2D feature is the (10, t) matrix, the 1D feature
its flattening. Each sample has its own season year (a table may mix years and hemispheres:
:mod:`gee_crop.features.seasons`, ``SampleSeries.season_year``). Everything is vectorized over
samples; loops run over chunks of samples only.
:func:`composite_pixels` is the one chain (mask -> medians -> gap fill) every caller goes through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from gee_crop.config import CLEAR_THRESHOLD, MAX_GAP_BINS, REFLECTANCE_SCALE, Hemisphere
from gee_crop.errors import SeasonError
from gee_crop.features.cloud import clear_mask
from gee_crop.features.seasons import (
    date_range,
    epoch_days,
    format_season_counts,
    infer_season_year,
    infer_season_years,
    main_season_year,
    season_counts,
    season_start_days,
    table_season,
)
from gee_crop.season import Season
from gee_crop.types import RawStack, SampleSeries

#: composite_medians works on blocks of this many samples, bounding its scratch memory
#: (block x bins x max obs per bin x 10 float32).
_BLOCK_SAMPLES = 8192


@dataclass
class SeriesArrays:
    """Masked raw reflectance ready for compositing.

    ``reflectance`` (n, T, 10) float32 = DN / 1e4, NaN where cloudy, no data (DN 0) or padded;
    ``days`` (n, T) int32 days since 1970-01-01 (padded entries hold any value: they are NaN above).
    """

    reflectance: np.ndarray
    days: np.ndarray

    def __len__(self) -> int:
        return self.reflectance.shape[0]

    def subset(self, index: np.ndarray) -> SeriesArrays:
        """Rows selected by a boolean mask or an integer index."""
        index = np.asarray(index)
        return SeriesArrays(self.reflectance[index], self.days[index])

    @property
    def observed(self) -> np.ndarray:
        """(n, T) bool: the observation has at least one valid band."""
        return ~np.isnan(self.reflectance).all(axis=2)


@dataclass
class MedianFeatures:
    """Gap-filled median composites: ``values`` (n, 10, n_bins) float32 reflectance, ``keep`` (n,) bool
    (False = too long a gap, METHOD.md), ``years`` (n,) int64 each sample's season year and the binning
    used."""

    values: np.ndarray
    keep: np.ndarray
    years: np.ndarray
    window_days: int
    n_bins: int

    @property
    def year(self) -> int | None:
        """The most common season year of the kept samples (see :func:`main_season_year`)."""
        return main_season_year(self.years, self.keep)

    @property
    def flat(self) -> np.ndarray:
        """(n, 10 * n_bins) 1D median features (band-major)."""
        return self.values.reshape(len(self.values), -1)


def _masked_reflectance(dn: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """(n, T, 10) float32 reflectance with NaN where DN is 0 (no data, per band) or not clear."""
    reflectance = dn.astype(np.float32) / np.float32(REFLECTANCE_SCALE)
    reflectance[dn == 0] = np.nan
    reflectance[~clear] = np.nan
    return reflectance


def prepare_series(series: SampleSeries, threshold: float = CLEAR_THRESHOLD) -> SeriesArrays:
    """Mask a sample table's raw series (clouds per its cloud_kind, DN 0, padding) into SeriesArrays."""
    days, valid = epoch_days(series.dates)
    clear = clear_mask(series.cloud, series.cloud_kind, threshold) & valid
    return SeriesArrays(_masked_reflectance(series.dn, clear), days)


def arrays_from_stack(
    dn: np.ndarray, cloud: np.ndarray, dates: np.ndarray, cloud_kind: str, threshold: float = CLEAR_THRESHOLD
) -> SeriesArrays:
    """SeriesArrays of ``n`` raster pixels sharing acquisition dates (mapping).

    ``dn`` (n, T, 10) uint16, ``cloud`` (n, T) indicator of ``cloud_kind``, ``dates`` (T,) datetime64[D].
    """
    if dn.shape[:2] != cloud.shape or dn.shape[1] != len(dates):
        raise ValueError(f"inconsistent shapes: dn {dn.shape}, cloud {cloud.shape}, dates {np.shape(dates)}")
    day_row, valid = epoch_days(dates)
    clear = clear_mask(cloud, cloud_kind, threshold) & valid[None, :]
    days = np.broadcast_to(day_row, cloud.shape)
    return SeriesArrays(_masked_reflectance(dn, clear), days)


def stack_arrays(
    stack: RawStack,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    *,
    dates: np.ndarray | None = None,
    threshold: float = CLEAR_THRESHOLD,
) -> SeriesArrays:
    """SeriesArrays of the stack pixels (``rows``, ``cols``) (n,) (None: every pixel, row-major), with
    the acquisitions ``dates`` (integer index into ``stack.dates``; None: all of them)."""
    t = np.arange(len(stack.dates)) if dates is None else np.asarray(dates)
    if rows is None or cols is None:
        rows, cols = (a.ravel() for a in np.indices(stack.shape))
    dn = stack.dn[t[:, None], rows, cols].transpose(1, 0, 2)  # (n, T, 10)
    cloud = stack.cloud[t[:, None], rows, cols].T  # (n, T)
    return arrays_from_stack(dn, cloud, stack.dates[t], stack.cloud_kind, threshold)


def _per_sample(value: np.ndarray | int, n: int, name: str) -> np.ndarray:
    out = np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))
    if name == "window_days" and (out <= 0).any():
        raise ValueError(f"window_days must be positive, got {out.min()}")
    return out


def _nanmedian_axis2(buf: np.ndarray) -> np.ndarray:
    """Median over axis 2 ignoring NaN (NaN where all are NaN), as np.nanmedian but by sorting once."""
    buf = np.sort(buf, axis=2)  # NaN sorts last
    count = (~np.isnan(buf)).sum(axis=2, keepdims=True)
    lo = np.maximum((count - 1) // 2, 0)
    hi = np.maximum(count // 2, 0)
    median = (np.take_along_axis(buf, lo, axis=2) + np.take_along_axis(buf, hi, axis=2)) / 2
    median[count == 0] = np.nan
    return median[:, :, 0]


def _composite_block(reflectance: np.ndarray, bins: np.ndarray, inside: np.ndarray, n_bins: int) -> np.ndarray:
    """(n, 10, n_bins) medians of one block: observations grouped by (sample, bin) with a rank each."""
    n, _, n_bands = reflectance.shape
    out = np.full((n, n_bins, n_bands), np.nan, dtype=np.float32)
    rows, cols = np.nonzero(inside)
    if len(rows):
        keys = rows * n_bins + bins[rows, cols]
        order = np.argsort(keys, kind="stable")
        rows, cols, keys = rows[order], cols[order], keys[order]
        position = np.arange(len(keys))
        first = np.r_[True, keys[1:] != keys[:-1]]
        rank = position - np.maximum.accumulate(np.where(first, position, 0))
        buf = np.full((n, n_bins, int(rank.max()) + 1, n_bands), np.nan, dtype=np.float32)
        buf[rows, bins[rows, cols], rank] = reflectance[rows, cols]
        out = _nanmedian_axis2(buf)
    return out.transpose(0, 2, 1)


def composite_medians(
    arrays: SeriesArrays, start_days: np.ndarray | int, window_days: np.ndarray | int, n_bins: int
) -> np.ndarray:
    """(n, bands, n_bins) float32 per-window medians of the clear reflectance, NaN where a window is empty
    (bands: those of the series, any sensor's).

    Bin k of sample i covers days [start_i + k * w_i, start_i + (k + 1) * w_i); ``start_days`` and
    ``window_days`` are scalars or (n,) per sample (time-scale augmentation changes both).
    """
    n = len(arrays)
    start = _per_sample(start_days, n, "start_days")
    window = _per_sample(window_days, n, "window_days")
    out = np.empty((n, arrays.reflectance.shape[2], n_bins), dtype=np.float32)  # the series' own bands
    for lo in range(0, n, _BLOCK_SAMPLES):
        block = slice(lo, lo + _BLOCK_SAMPLES)
        reflectance = arrays.reflectance[block]
        offset = arrays.days[block].astype(np.int64) - start[block, None]
        bins = offset // window[block, None]
        inside = (offset >= 0) & (bins < n_bins) & ~np.isnan(reflectance).all(axis=2)
        out[block] = _composite_block(reflectance, bins, inside, n_bins)
    return out


def fill_gaps(medians: np.ndarray, max_gap_bins: int = MAX_GAP_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Fill empty bins by linear interpolation along time; flag samples with too long a gap.

    ``medians`` (n, 10, t) with NaN for empty bins. Leading and trailing gaps take the nearest valid
    value. Returns ``filled`` (n, 10, t) float32 and ``keep`` (n,) bool: False when a run of empty bins
    (edges included) is longer than ``max_gap_bins`` in any band, or a band has no valid bin at all
    (that band is filled with 0).
    """
    _n, _n_bands, t = medians.shape
    valid = ~np.isnan(medians)
    index = np.arange(t)
    prev = np.maximum.accumulate(np.where(valid, index, -1), axis=2)
    nxt = np.minimum.accumulate(np.where(valid, index, t)[..., ::-1], axis=2)[..., ::-1]
    longest = np.where(valid, 0, nxt - prev - 1).max(axis=(1, 2), initial=0)
    has_data = valid.any(axis=2)
    keep = has_data.all(axis=1) & (longest <= max_gap_bins)

    before = np.take_along_axis(medians, np.clip(prev, 0, t - 1), axis=2).astype(np.float64)
    after = np.take_along_axis(medians, np.clip(nxt, 0, t - 1), axis=2).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = (index - prev) / (nxt - prev)
        between = before + (after - before) * weight
    filled = np.where(valid, medians, np.where(prev < 0, after, np.where(nxt >= t, before, between)))
    filled[~has_data] = 0.0
    return filled.astype(np.float32), keep


@dataclass
class PixelComposite:
    """Gap-filled per-window medians of ``n`` pixels or samples: ``values`` (n, 10, n_bins) float32
    reflectance, ``keep`` (n,) bool (False = too long a gap, METHOD.md), ``empty`` (n,) bool (no clear
    observation in any window)."""

    values: np.ndarray
    keep: np.ndarray
    empty: np.ndarray


def composite_pixels(
    pixels: SampleSeries | SeriesArrays,
    start_days: np.ndarray | int,
    window_days: np.ndarray | int,
    n_bins: int,
    *,
    threshold: float = CLEAR_THRESHOLD,
    max_gap_bins: int = MAX_GAP_BINS,
) -> PixelComposite:
    """The one compositing chain (METHOD.md "Features"): cloud mask -> per-window medians -> gap fill.

    ``pixels``: a SampleSeries (masked here with ``threshold``) or SeriesArrays already masked
    (:func:`prepare_series`, :func:`stack_arrays`). Window k of pixel i covers days
    [start_i + k * w_i, start_i + (k + 1) * w_i); ``start_days`` and ``window_days`` are scalars or (n,).
    Training, augmentation, mapping, the notebooks, the test fakes and the bench all composite here.
    """
    arrays = prepare_series(pixels, threshold) if isinstance(pixels, SampleSeries) else pixels
    medians = composite_medians(arrays, start_days, window_days, n_bins)
    values, keep = fill_gaps(medians, max_gap_bins)
    return PixelComposite(values, keep, np.isnan(medians).all(axis=(1, 2)))


def _no_season_message(arrays: SeriesArrays, lat: np.ndarray, years: np.ndarray, season: Season) -> str:
    distinct = np.unique(years)
    if len(distinct) > 1 and date_range(arrays) is not None:
        best = infer_season_year(arrays, lat, season=season)
        return (
            f"no sample has a clear observation in its own season (season_year "
            f"{format_season_counts(season_counts(years))}); check the table's season_year column, or "
            f"pass year={best}, the season the dates cover best"
        )
    year = main_season_year(years)
    spans = []
    for hemisphere, present in (("north", (lat >= 0).any()), ("south", (lat < 0).any())):
        if present:
            assert year is not None  # a sample in this hemisphere: ``years`` is not empty
            span = season.span(year, cast(Hemisphere, hemisphere))
            spans.append(f"{hemisphere}: {span.start} to {span.end}")
    covered = date_range(arrays)
    if covered is None:
        return (
            f"no clear observation in the {year} season ({'; '.join(spans)}): the samples have no "
            "clear observation at all; check the cloud column and its cloud_kind, or lower the threshold"
        )
    best = infer_season_year(arrays, lat, season=season)
    return (
        f"no clear observation in the {year} season ({'; '.join(spans)}); the clear observations span "
        f"{covered[0]} to {covered[1]}: pass year={best}, the season those dates cover best"
    )


def median_features(
    series: SampleSeries,
    *,
    year: int | None = None,
    season: Season | None = None,
    threshold: float = CLEAR_THRESHOLD,
    max_gap_bins: int = MAX_GAP_BINS,
) -> MedianFeatures:
    """Gap-filled median features of a sample table, each sample over its own ``season`` (None: the
    table's own, :func:`~gee_crop.features.seasons.table_season`) of its own year (METHOD.md "Features").

    ``year`` given: that season for every sample. None: each sample's ``season_year`` when the table
    carries it, else the season that sample's own observations cover best (:func:`infer_season_years`),
    so a table may mix years and hemispheres. Raises SeasonError (naming the dates the data cover and
    the year to pass) when no clear observation falls in any sample's season.
    """
    season = table_season(series) if season is None else season
    arrays = prepare_series(series, threshold)
    lat = np.asarray(series.lat, dtype=np.float64)
    if year is not None:
        years = np.full(len(series), int(year), dtype=np.int64)
    elif series.season_year is not None:
        years = np.asarray(series.season_year, dtype=np.int64)
    else:
        years = infer_season_years(arrays, lat, season=season)
    start = season_start_days(lat, years, season)
    composite = composite_pixels(arrays, start, season.window_days, season.n_bins, max_gap_bins=max_gap_bins)
    if len(composite.empty) and composite.empty.all():
        raise SeasonError(_no_season_message(arrays, lat, years, season))
    return MedianFeatures(composite.values, composite.keep, years, season.window_days, season.n_bins)
