"""Season years: which year's season each sample (or a whole table, or a map) belongs to.

A table may mix years and hemispheres: ``gee-crop sample --year`` writes each sample's year; a table
without one (an older table, a local stack, a long pixel table) gets it inferred per sample from its
own clear observations (:func:`infer_season_years`) in the table's season (``SampleSeries.season``:
the paper's, or the table's own ``sample --season-start``); a year a file claims (WorldCereal's
``year``) is checked against the dates first (:func:`checked_season_years`). A map's one year is the
season its data cover best (:func:`infer_season_year`). On Earth Engine, where no data is at hand yet,
a command's default year is the most recent complete season at the place (:func:`default_season`).
Everything is vectorized over samples; loops run over the few candidate years only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gee_crop.config import CLEAR_THRESHOLD, Hemisphere, hemisphere_of
from gee_crop.errors import SeasonError
from gee_crop.features.cloud import clear_mask
from gee_crop.season import Season
from gee_crop.types import SampleSeries

#: A year a file claims for a sample is kept when its season holds at least this share of the clear
#: observations of the sample's best-covered season (below it the claim is not the season the dates
#: show, e.g. a label year of another convention, and the inferred year is used).
CLAIM_MIN_SHARE = 0.5


class ClearDays(Protocol):
    """What season inference reads of masked observations: ``observed`` (n, T) bool (clear, dated,
    some band with data) and ``days`` (n, T) int32 days since 1970-01-01 (:class:`ObservedDays`, or
    ``features.composite.SeriesArrays``)."""

    @property
    def observed(self) -> np.ndarray: ...

    @property
    def days(self) -> np.ndarray: ...

    def __len__(self) -> int: ...


@dataclass
class ObservedDays:
    """Which raw observations are clear (``observed`` (n, T) bool: clear, dated, some band with data)
    and when (``days`` (n, T) int32 days since 1970-01-01): what season inference needs, without the
    (n, T, 10) reflectance of ``SeriesArrays`` (which has the same two attributes)."""

    observed: np.ndarray
    days: np.ndarray

    def __len__(self) -> int:
        return self.observed.shape[0]


def epoch_days(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(days int32 since 1970-01-01 with 0 at NaT, valid bool) of a datetime64 array."""
    dates = np.asarray(dates).astype("datetime64[D]")
    valid = ~np.isnat(dates)
    days = np.where(valid, dates.astype(np.int64), 0).astype(np.int32)
    return days, valid


def observed_days(series: SampleSeries, threshold: float = CLEAR_THRESHOLD) -> ObservedDays:
    """The clear observations of a sample table, as ``features.composite.prepare_series`` masks them."""
    days, valid = epoch_days(series.dates)
    clear = clear_mask(series.cloud, series.cloud_kind, threshold) & valid
    return ObservedDays(clear & (series.dn.max(axis=2, initial=0) > 0), days)


def table_season(series: SampleSeries) -> Season:
    """The season a table was sampled with (``sample --season-start``), else the paper's."""
    return series.season or Season()


def season_start_days(lat: np.ndarray, year: int | np.ndarray, season: Season = Season()) -> np.ndarray:
    """(n,) int32 days since 1970-01-01 of each sample's season start Ts.

    ``year``: one season year for every sample, or (n,) each sample's own. North: the season's start
    month-day of the year; south (lat < 0): ``season.south_shift_months`` earlier (:meth:`Season.span`).
    """
    lat = np.asarray(lat, dtype=np.float64)
    years = np.broadcast_to(np.asarray(year, dtype=np.int64), lat.shape)
    distinct, which = np.unique(years, return_inverse=True)
    # one span per distinct year and hemisphere (a handful), gathered per sample
    starts = np.array(
        [[season.span(int(y), h).start_day for h in ("north", "south")] for y in distinct], dtype=np.int64
    ).reshape(len(distinct), 2)
    return starts[which.reshape(lat.shape), (lat < 0).astype(np.int64)].astype(np.int32)


def season_year_counts(arrays: ClearDays, lat: np.ndarray, years: np.ndarray, season: Season = Season()) -> np.ndarray:
    """(n, len(years)) int64 clear observations of each sample inside each candidate year's season."""
    observed = arrays.observed
    counts = np.zeros((len(arrays), len(years)), dtype=np.int64)
    for i, year in enumerate(years):  # a loop over the few candidate years, vectorized over samples
        offset = arrays.days - season_start_days(lat, int(year), season)[:, None]
        counts[:, i] = np.count_nonzero(observed & (offset >= 0) & (offset < season.length_days), axis=1)
    return counts


def main_season_year(years: np.ndarray, keep: np.ndarray | None = None) -> int | None:
    """The most common of ``years`` (n,) among the ``keep`` samples (all when none is kept; the
    earliest on a tie); None without samples. A mixed-year table's single year (``year_trained``)."""
    years = np.asarray(years, dtype=np.int64)
    if keep is not None and np.asarray(keep).any():
        years = years[np.asarray(keep, dtype=bool)]
    if not len(years):
        return None
    distinct, counts = np.unique(years, return_counts=True)
    return int(distinct[int(np.argmax(counts))])


def season_counts(years: np.ndarray, keep: np.ndarray | None = None) -> dict[int, int]:
    """{season year: number of samples} of ``years`` (n,) among the ``keep`` samples, by year."""
    years = np.asarray(years, dtype=np.int64)
    if keep is not None:
        years = years[np.asarray(keep, dtype=bool)]
    distinct, counts = np.unique(years, return_counts=True)
    return {int(y): int(c) for y, c in zip(distinct, counts)}


def format_season_counts(counts: dict[int, int]) -> str:
    """'2019 (220), 2023 (500)' (or 'none')."""
    return ", ".join(f"{year} ({n})" for year, n in sorted(counts.items())) or "none"


def date_range(arrays: ClearDays) -> tuple[np.datetime64, np.datetime64] | None:
    """First and last day that has a clear observation, or None."""
    observed = arrays.observed
    if not observed.any():
        return None
    days = arrays.days[observed]
    return np.datetime64(int(days.min()), "D"), np.datetime64(int(days.max()), "D")


def _clear_days(
    series_or_arrays: SampleSeries | ClearDays, lat: np.ndarray | None, season: Season | None, threshold: float
) -> tuple[ClearDays, np.ndarray, Season]:
    """(clear observations, latitudes, season) of a table or of masked arrays: a SampleSeries gives
    its own latitudes and season; bare arrays are northern and the paper's unless told otherwise."""
    if isinstance(series_or_arrays, SampleSeries):
        lat = series_or_arrays.lat if lat is None else lat
        season = table_season(series_or_arrays) if season is None else season
        arrays: ClearDays = observed_days(series_or_arrays, threshold)
    else:
        arrays = series_or_arrays
    lat = np.zeros(len(arrays)) if lat is None else np.asarray(lat, dtype=np.float64)
    return arrays, lat, Season() if season is None else season


def candidate_season_counts(
    series_or_arrays: SampleSeries | ClearDays,
    lat: np.ndarray | None = None,
    *,
    season: Season | None = None,
    threshold: float = CLEAR_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """(candidate season years (k,) int64 ascending, clear observations of each sample in each year's
    ``season`` (n, k)); SeasonError when no observation is clear at all. ``season`` None: a table's
    own (:func:`table_season`), the paper's for bare arrays."""
    arrays, lat, season = _clear_days(series_or_arrays, lat, season, threshold)
    covered = date_range(arrays)
    if covered is None:
        raise SeasonError(
            "the samples have no clear observation at all, so no season can be chosen; "
            "check the cloud column and its cloud_kind, or lower the clear threshold"
        )
    first, last = (int(str(d)[:4]) for d in covered)
    # a southern season of year Y starts in Y - 1, so Y may be one past the last observed year; a
    # season starting late in the year (--season-start 11-01) holds days of the next calendar year
    years = np.arange(first - 1, last + 2)
    return years, season_year_counts(arrays, lat, years, season)


def infer_season_year(
    series_or_arrays: SampleSeries | ClearDays,
    lat: np.ndarray | None = None,
    *,
    season: Season | None = None,
    threshold: float = CLEAR_THRESHOLD,
) -> int:
    """The one season year whose span holds the most clear observations of all samples (a map's year).

    A SampleSeries gives each sample its own hemisphere (from ``lat``) and its own season; bare arrays
    are read as northern unless ``lat`` is given. Raises SeasonError when no observation is clear at all.
    """
    years, counts = candidate_season_counts(series_or_arrays, lat, season=season, threshold=threshold)
    return int(years[int(np.argmax(counts.sum(axis=0)))])


def infer_season_years(
    series_or_arrays: SampleSeries | ClearDays,
    lat: np.ndarray | None = None,
    *,
    season: Season | None = None,
    threshold: float = CLEAR_THRESHOLD,
) -> np.ndarray:
    """(n,) int64 each sample's own season year: the year whose season (in the sample's hemisphere)
    holds most of its clear observations. A tie, or a sample with no clear observation in any season,
    goes to the year that covers the whole table best (:func:`infer_season_year`; e.g. a monthly
    series with as many clear months in Aug-Nov 2020 as in May-Nov 2021 among 2021 samples), then to
    the earliest. Raises SeasonError when no observation is clear at all.
    """
    years, counts = candidate_season_counts(series_or_arrays, lat, season=season, threshold=threshold)
    return pick_season_years(years, counts)


def pick_season_years(years: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(n,) each sample's year of ``years`` (k,) with most of its ``counts`` (n, k) clear observations;
    ties (and samples with none) go to the year that covers the whole table best, then the earliest."""
    table_best = np.arange(len(years)) == np.argmax(counts.sum(axis=0))
    return years[np.argmax(2 * counts + table_best, axis=1)]


def inferred_season_years(series: SampleSeries, threshold: float = CLEAR_THRESHOLD) -> np.ndarray | None:
    """(n,) int64 each sample's season year inferred from its own clear observations in the table's
    season, or None when the table has no clear observation at all (its features then fail with the
    SeasonError that says why)."""
    if len(series) == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        return infer_season_years(series, threshold=threshold)
    except SeasonError:
        return None


def checked_season_years(
    series: SampleSeries, claimed: np.ndarray, threshold: float = CLEAR_THRESHOLD
) -> tuple[np.ndarray | None, int]:
    """(season years (n,), number of claims replaced): the year a file ``claimed`` (n,) for each sample
    where the dates bear it out (its season holds at least CLAIM_MIN_SHARE of the clear observations
    of the sample's best season, or the sample has none), else the inferred year. (None, 0) when the
    table has no clear observation at all."""
    claimed = np.asarray(claimed, dtype=np.int64)
    if len(series) == 0:
        return claimed, 0
    season = table_season(series)
    arrays = observed_days(series, threshold)
    try:
        candidates, _ = candidate_season_counts(arrays, series.lat, season=season)
    except SeasonError:
        return None, 0
    years = np.union1d(candidates, claimed)
    counts = season_year_counts(arrays, series.lat, years, season)
    best = counts.max(axis=1)
    claim_count = counts[np.arange(len(series)), np.searchsorted(years, claimed)]
    inferred = pick_season_years(candidates, counts[:, np.searchsorted(years, candidates)])
    borne_out = (claim_count >= CLAIM_MIN_SHARE * best) | (best == 0)
    return np.where(borne_out, claimed, inferred), int((~borne_out).sum())


def with_season_years(series: SampleSeries, threshold: float = CLEAR_THRESHOLD) -> SampleSeries:
    """``series`` with ``season_year`` inferred per sample when it has none (in place; returned)."""
    if series.season_year is None:
        series.season_year = inferred_season_years(series, threshold)
    return series


def with_season_year(series: SampleSeries, year: int | None) -> SampleSeries:
    """``series`` with every sample's ``season_year`` set to ``year`` (``sample --year``: the season
    the samples were taken in), in place; returned. None leaves the series as it is."""
    if year is not None:
        series.season_year = np.full(len(series), int(year), dtype=np.int64)
    return series


#: A season counts as complete this long after its last 5-day window closes: Sentinel-2 L2A scenes
#: reach Earth Engine within days, the margin leaves room for late scenes and reprocessing.
COMPLETE_AFTER_DAYS = 30


def latest_complete_season(hemisphere: Hemisphere, today: dt.date | None = None) -> int:
    """The most recent season year of ``hemisphere`` whose last window closed COMPLETE_AFTER_DAYS ago
    (north: May-Nov of the year; south: from Nov of the year before)."""
    today = today or dt.date.today()
    year = today.year + 1
    while Season().span(year, hemisphere).covered_end + dt.timedelta(days=COMPLETE_AFTER_DAYS) > today:
        year -= 1
    return year


def season_note(year: int, latitude: float, given: bool) -> str:
    """How the season was chosen, for a command's first output line."""
    hemisphere = hemisphere_of(latitude)
    span = Season().span(year, hemisphere)
    why = "--year" if given else f"the most recent complete {hemisphere}ern-hemisphere season; --year to change"
    return f"season {year}: {span.start} .. {span.end - dt.timedelta(days=1)} ({why})"


def default_season(year: int | None, latitude: float, today: dt.date | None = None) -> tuple[int, str]:
    """``(year, first output line)``: ``year`` as given, else the latest complete season at ``latitude``."""
    chosen = latest_complete_season(hemisphere_of(latitude), today) if year is None else int(year)
    return chosen, season_note(chosen, latitude, year is not None)
