"""The model contract: how a model's input is composited and what it outputs.

One frozen :class:`FeatureSpec` is written into every model file (torch ``model.pt``, ONNX
metadata) and read back by ``models.io.read_contract``; training, evaluation, export and mapping all
composite from it, so a map is made exactly as the model was trained.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gee_crop.classes import CLASSES
from gee_crop.config import (BANDS, CLEAR_THRESHOLD, MAX_GAP_BINS, SEASON_LENGTH_DAYS, SEASON_START_MONTH_DAY,
                             WINDOW_DAYS, FeatureKind, SeasonSpan, hemisphere_of, n_bins_of, season_span)
from gee_crop.errors import ModelFileError

#: 3rd-order harmonics (7 coefficients) of 5 series (METHOD.md "Harmonic").
N_HARMONIC_FEATURES = 35


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
    """Season start Ts in the north; six months earlier south of the equator."""
    classes: tuple[str, ...] = CLASSES
    """The model's output classes, in output order."""
    bands: tuple[str, ...] = BANDS
    """The input bands, in input order (Earth Engine names)."""
    year_trained: int | None = field(default=None, compare=False)
    """The season year of the training data (informational; None when unknown or mixed)."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "feature_kind", FeatureKind(self.feature_kind))
        except ValueError:
            raise ValueError(f"feature_kind must be one of {FeatureKind.values()}, "
                             f"got {self.feature_kind!r}") from None
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
        """The season span of ``year`` at ``latitude`` (south: shifted six months earlier)."""
        return season_span(year, hemisphere_of(latitude), start_month_day=self.start_month_day,
                           length_days=self.length_days, window_days=self.window_days)

    def season_dict(self, year: int | None = None) -> dict:
        """The ``season`` entry of a model file."""
        year = self.year_trained if year is None else year
        return {"start_month_day": list(self.start_month_day), "length_days": self.length_days,
                "window_days": self.window_days, "n_bins": self.n_bins,
                "year_trained": None if year is None else int(year)}

    def to_meta(self, year: int | None = None) -> dict:
        """The contract's keys in a model file's metadata (plain JSON types)."""
        return {"feature_kind": self.feature_kind.value, "season": self.season_dict(year),
                "cloud_threshold": float(self.cloud_threshold), "max_gap_bins": int(self.max_gap_bins),
                "classes": list(self.classes), "bands": list(self.bands)}

    @classmethod
    def from_meta(cls, meta: dict) -> "FeatureSpec":
        """The contract stored in a model file's metadata (0.1.0 files included)."""
        season = meta["season"]
        year = season.get("year_trained")
        spec = cls(feature_kind=meta["feature_kind"], length_days=int(season["length_days"]),
                   window_days=int(season["window_days"]), cloud_threshold=float(meta["cloud_threshold"]),
                   max_gap_bins=int(meta["max_gap_bins"]),
                   start_month_day=tuple(season.get("start_month_day", SEASON_START_MONTH_DAY)),
                   classes=tuple(meta.get("classes", CLASSES)), bands=tuple(meta.get("bands", BANDS)),
                   year_trained=None if year is None else int(year))
        stored = season.get("n_bins")
        if stored is not None and int(stored) != spec.n_bins:
            raise ModelFileError(f"the model expects {int(stored)} time bins, but its season ({spec.length_days} "
                                 f"days / {spec.window_days}-day windows) gives {spec.n_bins}; the file's metadata "
                                 "is inconsistent: re-export the model with `gee-crop export`")
        return spec
