"""The model contract: how a model's input is composited and what it outputs.

One frozen :class:`FeatureSpec` is written into every model file (torch ``model.pt``, ONNX
metadata) and read back by ``models.io.read_contract``; training, evaluation, export and mapping all
composite from it, so a map is made exactly as the model was trained.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from gee_crop.classes import CLASSES
from gee_crop.config import (BANDS, CLEAR_THRESHOLD, MAX_GAP_BINS, SEASON_LENGTH_DAYS, SEASON_START_MONTH_DAY,
                             SOUTH_SHIFT_MONTHS, WINDOW_DAYS, FeatureKind, InputScaling, SeasonSpan, hemisphere_of,
                             n_bins_of, season_span)
from gee_crop.errors import InputError, ModelFileError

#: 3rd-order harmonics (7 coefficients) of 5 series (METHOD.md "Harmonic").
N_HARMONIC_FEATURES = 35
#: input_scaling "log": log1p(LOG_GAIN * max(reflectance, 0)). A gain of 100 keeps dark reflectance
#: (water, shadow: ~0.01) near-linear instead of sending it to -inf; above ~0.05 it is a plain log, so a
#: multiplicative difference between sensors or years becomes an offset that the standardisation absorbs.
LOG_GAIN = 100.0
#: input_scaling "smooth": the moving-mean window over time in 5-day bins (25 days, centred; the
#: edges repeat the first and last bin). Raw 5-day observations then vary over time about as
#: smoothly as the dekadal and monthly composites of the training domains (docs/transfer.md).
SMOOTH_BINS = 5


def scale_reflectance(values: np.ndarray, scaling: InputScaling | str) -> np.ndarray:
    """Reflectance as a model of ``scaling`` sees it before its per-band standardisation (any shape,
    float32). The torch twin is ``gee_crop.models.normalization.scale_input``; both follow :data:`LOG_GAIN`."""
    values = np.asarray(values, dtype=np.float32)
    if InputScaling(scaling) == InputScaling.STANDARD:
        return values
    if InputScaling(scaling) == InputScaling.SMOOTH:
        half = SMOOTH_BINS // 2
        padded = np.concatenate([values[..., :1]] * half + [values] + [values[..., -1:]] * half, axis=-1)
        t = values.shape[-1]
        return (sum(padded[..., k:k + t] for k in range(SMOOTH_BINS)) / np.float32(SMOOTH_BINS)).astype(np.float32)
    return np.log1p(np.float32(LOG_GAIN) * np.maximum(values, np.float32(0.0)))


@dataclass(frozen=True)
class FeatureSpec:
    """How a model's input is built from raw Sentinel-2 series, and what the model predicts."""

    feature_kind: FeatureKind = FeatureKind.MEDIAN2D
    """median2d: (10, t) matrix; median1d: its flattening; harmonic: 35 harmonic coefficients."""
    length_days: int = SEASON_LENGTH_DAYS
    """Season length Te - Ts in days (213 = May 1 .. Nov 30)."""
    window_days: int = WINDOW_DAYS
    """Composite window d in days; t = ceil(length_days / window_days) bins."""
    cloud_threshold: float = CLEAR_THRESHOLD
    """An observation is clear when its Cloud Score+ (or stand-in) is at least this."""
    max_gap_bins: int = MAX_GAP_BINS
    """Longest run of empty bins that is interpolated; a longer gap drops the sample (or pixel)."""
    start_month_day: tuple[int, int] = SEASON_START_MONTH_DAY
    """Season start Ts in the north; ``south_shift_months`` earlier south of the equator."""
    classes: tuple[str, ...] = CLASSES
    """The model's output classes, in output order."""
    bands: tuple[str, ...] = BANDS
    """The input bands, in input order (Earth Engine names)."""
    year_trained: int | None = field(default=None, compare=False)
    """The season year of the training data (informational; None when unknown or mixed)."""
    south_shift_months: int = SOUTH_SHIFT_MONTHS
    """Months the season starts earlier south of the equator: 6 for the paper's season, 0 for a
    user's own (``--season-start``), which is a local calendar."""
    input_scaling: InputScaling = InputScaling.STANDARD
    """How the model rescales its reflectance input before its per-band standardisation (applied inside
    the model: callers always feed reflectance). Files written before the option load as "standard"."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "feature_kind", FeatureKind(self.feature_kind))
        except ValueError:
            raise ValueError(f"feature_kind must be one of {FeatureKind.values()}, "
                             f"got {self.feature_kind!r}") from None
        try:
            object.__setattr__(self, "input_scaling", InputScaling(self.input_scaling))
        except ValueError:
            raise ValueError(f"input_scaling must be one of {InputScaling.values()}, "
                             f"got {self.input_scaling!r}") from None
        object.__setattr__(self, "start_month_day", tuple(int(v) for v in self.start_month_day))
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "bands", tuple(self.bands))

    @property
    def n_bins(self) -> int:
        return n_bins_of(self.length_days, self.window_days)

    @property
    def is_median(self) -> bool:
        return self.feature_kind in (FeatureKind.MEDIAN2D, FeatureKind.MEDIAN1D)

    @property
    def n_features(self) -> int:
        """Length of the flat feature vector (1D kinds)."""
        return N_HARMONIC_FEATURES if self.feature_kind == FeatureKind.HARMONIC else len(self.bands) * self.n_bins

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The per-sample input shape of a network: (1, bands, t) for median2d, (1, F) otherwise."""
        if self.feature_kind == FeatureKind.MEDIAN2D:
            return (1, len(self.bands), self.n_bins)
        return (1, self.n_features)

    def model_input(self, features: np.ndarray, *, flat: bool = False) -> np.ndarray:
        """Features shaped for a model: (n, 1, bands, t) for median2d, (n, 1, F) for 1D kinds, (n, F)
        when ``flat`` (forests). Input: (n, bands, t) medians, (n, F) vectors or an already shaped
        (n, 1, ...) batch; 1D medians are the band-major flattening of the matrix (METHOD.md)."""
        n = features.shape[0]
        if flat:
            return features.reshape(n, -1)
        return features.reshape(n, *self.input_shape)

    def season(self, year: int, latitude: float = 0.0) -> SeasonSpan:
        """The season span of ``year`` at ``latitude`` (south: ``south_shift_months`` earlier)."""
        return season_span(year, hemisphere_of(latitude), start_month_day=self.start_month_day,
                           length_days=self.length_days, window_days=self.window_days,
                           south_shift_months=self.south_shift_months)

    def season_dict(self, year: int | None = None) -> dict:
        """The ``season`` entry of a model file."""
        year = self.year_trained if year is None else year
        season = {"start_month_day": list(self.start_month_day), "length_days": self.length_days,
                  "window_days": self.window_days, "n_bins": self.n_bins,
                  "year_trained": None if year is None else int(year)}
        if self.south_shift_months != SOUTH_SHIFT_MONTHS:  # a user's own season (paper files stay as they were)
            season["south_shift_months"] = int(self.south_shift_months)
        return season

    def to_meta(self, year: int | None = None) -> dict:
        """The contract's keys in a model file's metadata (plain JSON types)."""
        return {"feature_kind": self.feature_kind.value, "season": self.season_dict(year),
                "cloud_threshold": float(self.cloud_threshold), "max_gap_bins": int(self.max_gap_bins),
                "classes": list(self.classes), "bands": list(self.bands),
                "input_scaling": self.input_scaling.value}

    @classmethod
    def from_meta(cls, meta: dict) -> "FeatureSpec":
        """The contract stored in a model file's metadata (0.1.0 files included)."""
        season = meta["season"]
        year = season.get("year_trained")
        scaling = meta.get("input_scaling", InputScaling.STANDARD.value)
        if scaling not in InputScaling.values():
            raise ModelFileError(f"the model rescales its input with {scaling!r}, which this gee-crop does not know "
                                 f"(it knows {', '.join(InputScaling.values())}); upgrade gee-crop")
        spec = cls(feature_kind=meta["feature_kind"], length_days=int(season["length_days"]),
                   window_days=int(season["window_days"]), cloud_threshold=float(meta["cloud_threshold"]),
                   max_gap_bins=int(meta["max_gap_bins"]),
                   start_month_day=tuple(season.get("start_month_day", SEASON_START_MONTH_DAY)),
                   classes=tuple(meta.get("classes", CLASSES)), bands=tuple(meta.get("bands", BANDS)),
                   year_trained=None if year is None else int(year),
                   south_shift_months=int(season.get("south_shift_months", SOUTH_SHIFT_MONTHS)),
                   input_scaling=scaling)
        stored = season.get("n_bins")
        if stored is not None and int(stored) != spec.n_bins:
            raise ModelFileError(f"the model expects {int(stored)} time bins, but its season ({spec.length_days} "
                                 f"days / {spec.window_days}-day windows) gives {spec.n_bins}; the file's metadata "
                                 "is inconsistent: re-export the model with `gee-crop export`")
        return spec


#: Longest season a model may span: one year of composites (a longer one would bin two harvests).
MAX_SEASON_DAYS = 365


@dataclass(frozen=True)
class SeasonSettings:
    """A season without its year: where it starts, how long it lasts, how it is binned.

    The paper's season (May 1 + 213 days, six months earlier south of the equator) is the default; a
    user's own season (``--season-start MM-DD``) is a local calendar, the same date in both hemispheres.
    Stored in the sample table (key ``gee_crop_season``) and, through FeatureSpec, in every model.
    """

    start_month_day: tuple[int, int] = SEASON_START_MONTH_DAY
    length_days: int = SEASON_LENGTH_DAYS
    window_days: int = WINDOW_DAYS
    south_shift_months: int = SOUTH_SHIFT_MONTHS

    def to_dict(self) -> dict:
        return {"start_month_day": list(self.start_month_day), "length_days": int(self.length_days),
                "window_days": int(self.window_days), "south_shift_months": int(self.south_shift_months)}

    @classmethod
    def from_dict(cls, d: dict) -> "SeasonSettings":
        return cls(tuple(int(v) for v in d["start_month_day"]), int(d["length_days"]), int(d["window_days"]),
                   int(d.get("south_shift_months", SOUTH_SHIFT_MONTHS)))

    def span(self, year: int, latitude: float = 0.0) -> SeasonSpan:
        """The season of ``year`` at ``latitude``."""
        return season_span(year, hemisphere_of(latitude), start_month_day=self.start_month_day,
                           length_days=self.length_days, window_days=self.window_days,
                           south_shift_months=self.south_shift_months)

    def apply_to(self, spec: FeatureSpec) -> FeatureSpec:
        """``spec`` with this season."""
        return replace(spec, start_month_day=self.start_month_day, length_days=self.length_days,
                       window_days=self.window_days, south_shift_months=self.south_shift_months)


def parse_month_day(text: str) -> tuple[int, int]:
    """``MM-DD`` -> (month, day); InputError naming the fix (Feb 29 is refused: not every year has it)."""
    try:
        month, day = (int(v) for v in str(text).strip().split("-"))
        dt.date(2001, month, day)
    except ValueError:
        raise InputError(f"--season-start {text!r} is not a month-day; give MM-DD, e.g. 11-01 for 1 November "
                         "(29 February is refused: not every year has it)") from None
    return month, day


def season_settings(start: str | None = None, days: int | None = None,
                    window_days: int | None = None) -> SeasonSettings:
    """The season of ``--season-start MM-DD``, ``--season-days N`` and ``--window-days D`` (None: the
    paper's value). A given start is a local calendar (no southern shift). InputError naming the fix
    for a season longer than a year or a window longer than the season."""
    base = SeasonSettings()
    length = base.length_days if days is None else int(days)
    window = base.window_days if window_days is None else int(window_days)
    if not 1 <= length <= MAX_SEASON_DAYS:
        raise InputError(f"--season-days {length} is {'longer than a year' if length > 0 else 'not positive'}; "
                         f"give 1 to {MAX_SEASON_DAYS} days (one season per model; map two seasons with two models)")
    if not 1 <= window <= length:
        raise InputError(f"--window-days {window} must be between 1 and the season's {length} days "
                         f"(paper: {WINDOW_DAYS})")
    if start is None:
        return SeasonSettings(base.start_month_day, length, window, base.south_shift_months)
    return SeasonSettings(parse_month_day(start), length, window, 0)
