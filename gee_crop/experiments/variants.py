"""Controlled shifts of a real dataset, to test transfer on more targets than there are domains.

Each variant is a pure function of a :class:`SampleSeries` (the labels, locations and reflectances
stay real; only which observations exist, or when, changes), declared per dataset in an experiment
file::

    datasets:
      FRA23_monthly: {reader: worldcereal, path: ..., tiles: [30UYU], variant: {thin_days: 30}}

``thin_days``: keep one clear observation per ``thin_days``-day window (a dekadal series becomes
monthly-like); ``drop_months``: remove the observations of these calendar months (persistent clouds
or a missing acquisition period); ``move_days``: move every date by this many days (a phenology or
calendar shift). Removed observations become no-data (DN 0), the way missing dekads are stored.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gee_crop.features.augment import one_per_window
from gee_crop.features.composite import prepare_series
from gee_crop.types import SampleSeries

VARIANT_KEYS = ("thin_days", "drop_months", "move_days")


def _clear(series: SampleSeries) -> np.ndarray:
    """(n, T) True where an observation is usable (clear, not padding, not no-data)."""
    return np.isfinite(prepare_series(series).reflectance).all(axis=2)


def thin(series: SampleSeries, days: int) -> SampleSeries:
    """Keep the first clear observation of every ``days``-day window (windows count from 1970-01-01)."""
    if days < 1:
        raise ValueError(f"thin_days must be >= 1, got {days}")
    clear = _clear(series)
    epoch = (
        np.where(np.isnat(series.dates), np.datetime64(0, "D"), series.dates).astype("datetime64[D]").astype(np.int64)
    )
    earliest_first = np.broadcast_to(np.arange(clear.shape[1], dtype=np.float64), clear.shape)
    return _without(series, clear & ~one_per_window(clear, epoch, days, earliest_first))


def drop_months(series: SampleSeries, months: tuple[int, ...]) -> SampleSeries:
    """Remove every observation dated in one of the calendar ``months`` (1-12)."""
    bad = [m for m in months if not 1 <= int(m) <= 12]
    if bad:
        raise ValueError(f"drop_months holds {bad}; give calendar months 1-12")
    month = series.dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return _without(series, ~np.isnat(series.dates) & np.isin(month, np.asarray(months, dtype=np.int64)))


def move_dates(series: SampleSeries, days: int) -> SampleSeries:
    """Every date moved by ``days`` (NaT padding stays NaT)."""
    return dataclasses.replace(series, dates=series.dates + np.timedelta64(int(days), "D"))


def _without(series: SampleSeries, removed: np.ndarray) -> SampleSeries:
    dn = series.dn.copy()
    dn[removed] = 0
    return dataclasses.replace(series, dn=dn)


def apply_variant(series: SampleSeries, variant: dict) -> SampleSeries:
    """Apply a dataset's ``variant`` mapping (keys of VARIANT_KEYS, in that order)."""
    if variant.get("move_days"):
        series = move_dates(series, int(variant["move_days"]))
    if variant.get("drop_months"):
        series = drop_months(series, tuple(int(m) for m in variant["drop_months"]))
    if variant.get("thin_days"):
        series = thin(series, int(variant["thin_days"]))
    return series
