"""The season: one frozen :class:`Season` (start month-day, length, window, hemisphere rule) and the
dated :class:`SeasonSpan` it gives for a year and hemisphere.

The paper's season (METHOD.md "Features": May 1 .. Nov 30 in the north, six months earlier in the
south, 5-day windows) is stated once, here: ``Season()``. A season travels whole through sampling
(the job and the sample table's ``gee_crop_season``), the model contract (``FeatureSpec.season``),
compositing, training and mapping. Each sample's season *year* is inferred in
:mod:`gee_crop.features.seasons`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gee_crop.config import Hemisphere, hemisphere_of
from gee_crop.errors import InputError, SeasonError

#: The paper's season (METHOD.md "Features"): May 1 (DOY 121) .. Nov 30 (DOY 334) in the north,
#: cut into 5-day windows, six months earlier south of the equator.
SEASON_START_MONTH_DAY: tuple[int, int] = (5, 1)
SEASON_LENGTH_DAYS: int = 334 - 121  # Te - Ts = 213 days
WINDOW_DAYS: int = 5
SOUTH_SHIFT_MONTHS: int = 6
#: Longest season a model may span: one year of composites (a longer one would bin two harvests).
MAX_SEASON_DAYS: int = 365


def _n_bins(length_days: int, window_days: int) -> int:
    """t = ceil((Te - Ts) / d): the number of composite windows of a season (METHOD.md "Features")."""
    return math.ceil(length_days / window_days)


def _shift_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year = day.year + month0 // 12
    return dt.date(year, month0 % 12 + 1, day.day)


def parse_month_day(text: str) -> tuple[int, int]:
    """``MM-DD`` -> (month, day); InputError naming the fix (Feb 29 is refused: not every year has it)."""
    try:
        month, day = (int(v) for v in str(text).strip().split("-"))
        dt.date(2001, month, day)
    except ValueError:
        raise InputError(
            f"--season-start {text!r} is not a month-day; give MM-DD, e.g. 11-01 for 1 November "
            "(29 February is refused: not every year has it)"
        ) from None
    return month, day


@dataclass(frozen=True)
class SeasonSpan:
    """A dated season [start, start + length_days) cut into ``n_bins`` windows of ``window_days``
    (built by :meth:`Season.span`).

    ``n_bins = ceil(length_days / window_days)``: 43 bins for the paper's 213-day May–Nov span and
    5-day windows. The last window may reach past ``end``; observations are binned by
    ``(day - start) // window_days`` for ``0 <= day - start < n_bins * window_days``.
    """

    start: dt.date
    """Ts, the first day of the first window."""
    length_days: int
    """Te - Ts in days."""
    window_days: int
    """Composite window d in days."""

    def __post_init__(self) -> None:
        if self.length_days <= 0:
            raise ValueError(f"season length must be positive, got {self.length_days} days")
        if self.window_days <= 0:
            raise ValueError(f"window must be positive, got {self.window_days} days")

    @property
    def end(self) -> dt.date:
        """Te = Ts + length_days."""
        return self.start + dt.timedelta(days=self.length_days)

    @property
    def n_bins(self) -> int:
        return _n_bins(self.length_days, self.window_days)

    @property
    def start_day(self) -> int:
        """Ts in days since 1970-01-01 (the day numbers the client-side compositing bins by)."""
        return (self.start - dt.date(1970, 1, 1)).days

    @property
    def covered_end(self) -> dt.date:
        """First day after the last window (>= end)."""
        return self.start + dt.timedelta(days=self.n_bins * self.window_days)

    def bin_starts(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=k * self.window_days) for k in range(self.n_bins)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "length_days": self.length_days,
            "window_days": self.window_days,
            "n_bins": self.n_bins,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SeasonSpan:
        return cls(dt.date.fromisoformat(str(d["start"])), int(d["length_days"]), int(d["window_days"]))


@dataclass(frozen=True)
class Season:
    """A season without its year: where it starts, how long it lasts, how it is binned, and how it
    moves south of the equator. ``Season()`` is the paper's; a user's own (``sample --season-start``)
    is a local calendar (``south_shift_months=0``: the same date in both hemispheres)."""

    start_month_day: tuple[int, int] = SEASON_START_MONTH_DAY
    """Ts in the north, (month, day)."""
    length_days: int = SEASON_LENGTH_DAYS
    """Te - Ts in days."""
    window_days: int = WINDOW_DAYS
    """Composite window d in days; t = ceil(length_days / window_days) bins."""
    south_shift_months: int = SOUTH_SHIFT_MONTHS
    """Months the season starts earlier south of the equator (so it keeps its bins in both
    hemispheres); 0 for a local calendar."""

    def __post_init__(self) -> None:
        if len(self.start_month_day) != 2:
            raise ValueError(f"start_month_day must be (month, day), got {self.start_month_day!r}")
        if self.length_days <= 0 or self.window_days <= 0:
            raise SeasonError(
                f"a season needs a positive length and window, got length_days={self.length_days}, "
                f"window_days={self.window_days}; use e.g. {SEASON_LENGTH_DAYS} and {WINDOW_DAYS} days"
            )

    @property
    def n_bins(self) -> int:
        """t = ceil((Te - Ts) / d): the number of composite windows (METHOD.md "Features")."""
        return _n_bins(self.length_days, self.window_days)

    def span(self, year: int, hemisphere: Hemisphere = "north") -> SeasonSpan:
        """The dated season of ``year`` in ``hemisphere``.

        In the south the paper's season of ``year`` starts in November of ``year - 1`` (METHOD.md: the
        southern acquisition window is shifted six months earlier), so a season keeps the same number
        of bins in both hemispheres.
        """
        start = dt.date(int(year), *self.start_month_day)
        if hemisphere == "south":
            start = _shift_months(start, -self.south_shift_months)
        elif hemisphere != "north":
            raise ValueError(f"hemisphere must be 'north' or 'south', got {hemisphere!r}")
        return SeasonSpan(start, self.length_days, self.window_days)

    def span_at(self, year: int, latitude: float) -> SeasonSpan:
        """The dated season of ``year`` at ``latitude`` (south of the equator: the southern rule)."""
        return self.span(year, hemisphere_of(latitude))

    def with_overrides(
        self, start: str | None = None, days: int | None = None, window_days: int | None = None
    ) -> Season:
        """This season with the options a user GAVE (None: not given, this season's value kept):
        ``--season-start MM-DD`` (a local calendar: no southern shift), ``--season-days N`` and
        ``--window-days D``. InputError naming the fix for a season longer than a year or a window
        longer than the season."""
        length = self.length_days if days is None else int(days)
        window = self.window_days if window_days is None else int(window_days)
        if not 1 <= length <= MAX_SEASON_DAYS:
            raise InputError(
                f"--season-days {length} is {'longer than a year' if length > 0 else 'not positive'}; "
                f"give 1 to {MAX_SEASON_DAYS} days (one season per model; map two seasons with two "
                "models)"
            )
        if not 1 <= window <= length:
            raise InputError(
                f"--window-days {window} must be between 1 and the season's {length} days (paper: {WINDOW_DAYS})"
            )
        if start is None:
            return replace(self, length_days=length, window_days=window)
        return Season(parse_month_day(start), length, window, 0)

    def to_dict(self) -> dict[str, Any]:
        """The stored layout (sample table ``gee_crop_season``, sampling job fingerprints)."""
        return {
            "start_month_day": list(self.start_month_day),
            "length_days": int(self.length_days),
            "window_days": int(self.window_days),
            "south_shift_months": int(self.south_shift_months),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Season:
        """A season of :meth:`to_dict`, or of a model file's ``season`` entry (its ``n_bins`` and
        ``year_trained`` are ignored; a missing start or southern shift is the paper's, as in files
        written before they were stored)."""
        month, day = (int(v) for v in d.get("start_month_day", SEASON_START_MONTH_DAY))
        return cls(
            (month, day),
            int(d["length_days"]),
            int(d["window_days"]),
            int(d.get("south_shift_months", SOUTH_SHIFT_MONTHS)),
        )
