"""Each sample's season year, as the readers attach it to a table (``SampleSeries.season_year``).

A table may mix years and hemispheres: ``gee-crop sample --year`` writes each sample's year; a table
without one (an older table, a local stack, a long pixel table) gets it inferred per sample from its
own dates (:func:`gee_crop.features.composite.infer_season_years`) in the table's season (the
paper's, or the table's own ``sample --season-start``); a year a file claims (WorldCereal's ``year``)
is checked against the dates first (:func:`checked_season_years`).
"""
from __future__ import annotations

import numpy as np

from gee_crop.config import CLEAR_THRESHOLD
from gee_crop.errors import SeasonError
from gee_crop.features.composite import (candidate_season_counts, infer_season_years, observed_days,
                                         pick_season_years, season_year_counts)
from gee_crop.features.spec import SeasonSettings
from gee_crop.types import SampleSeries

#: A year a file claims for a sample is kept when its season holds at least this share of the clear
#: observations of the sample's best-covered season (below it the claim is not the season the dates
#: show, e.g. a label year of another convention, and the inferred year is used).
CLAIM_MIN_SHARE = 0.5


def table_season(series: SampleSeries) -> SeasonSettings:
    """The table's own season (``sample --season-start``), else the paper's."""
    return SeasonSettings() if series.season is None else SeasonSettings.from_dict(series.season)


def _season_options(series: SampleSeries, threshold: float) -> dict:
    season = table_season(series)
    return {"length_days": season.length_days, "start_month_day": season.start_month_day,
            "threshold": threshold, "south_shift_months": season.south_shift_months}


def inferred_season_years(series: SampleSeries, threshold: float = CLEAR_THRESHOLD) -> np.ndarray | None:
    """(n,) int64 each sample's season year inferred from its own clear observations, or None when
    the table has no clear observation at all (its features then fail with the SeasonError that says
    why)."""
    if len(series) == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        return infer_season_years(series, **_season_options(series, threshold))
    except SeasonError:
        return None


def checked_season_years(series: SampleSeries, claimed: np.ndarray,
                         threshold: float = CLEAR_THRESHOLD) -> tuple[np.ndarray | None, int]:
    """(season years (n,), number of claims replaced): the year a file ``claimed`` (n,) for each sample
    where the dates bear it out (its season holds at least CLAIM_MIN_SHARE of the clear observations
    of the sample's best season, or the sample has none), else the inferred year. (None, 0) when the
    table has no clear observation at all."""
    claimed = np.asarray(claimed, dtype=np.int64)
    if len(series) == 0:
        return claimed, 0
    options = _season_options(series, threshold)
    arrays = observed_days(series, threshold)
    try:
        candidates, _ = candidate_season_counts(arrays, series.lat, **options)
    except SeasonError:
        return None, 0
    years = np.union1d(candidates, claimed)
    counts = season_year_counts(arrays, series.lat, years, options["length_days"], options["start_month_day"],
                                options["south_shift_months"])
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
