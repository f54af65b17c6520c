"""From a sample table to model inputs: the one feature pipeline used by training, evaluation and export.

A :class:`FeatureSpec` (saved in every model file as ``season`` + ``feature_kind`` + cloud options)
says how to turn raw series into features, so a model is always fed what it was trained on.
Per-batch augmentation recomputes the medians from the raw series (METHOD.md "Augmentation").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gee_crop.config import (CLEAR_THRESHOLD, MAX_GAP_BINS, SEASON_LENGTH_DAYS, SEASON_START_MONTH_DAY,
                             WINDOW_DAYS)
from gee_crop.types import SampleSeries

FEATURE_KINDS = ("median2d", "median1d", "harmonic")
N_HARMONIC_FEATURES = 35


@dataclass(frozen=True)
class FeatureSpec:
    """How features are computed: kind, season span, window, cloud threshold, gap limit."""

    feature_kind: str = "median2d"
    length_days: int = SEASON_LENGTH_DAYS
    window_days: int = WINDOW_DAYS
    cloud_threshold: float = CLEAR_THRESHOLD
    max_gap_bins: int = MAX_GAP_BINS
    start_month_day: tuple[int, int] = SEASON_START_MONTH_DAY

    def __post_init__(self) -> None:
        if self.feature_kind not in FEATURE_KINDS:
            raise ValueError(f"feature_kind must be one of {FEATURE_KINDS}, got {self.feature_kind!r}")

    @property
    def n_bins(self) -> int:
        return math.ceil(self.length_days / self.window_days)

    @property
    def is_median(self) -> bool:
        return self.feature_kind in ("median2d", "median1d")

    @property
    def n_features(self) -> int:
        """Length of the flat feature vector (1D kinds)."""
        return N_HARMONIC_FEATURES if self.feature_kind == "harmonic" else 10 * self.n_bins

    def season_dict(self, year: int) -> dict:
        """The ``season`` entry of a model file."""
        return {"start_month_day": list(self.start_month_day), "length_days": self.length_days,
                "window_days": self.window_days, "n_bins": self.n_bins, "year_trained": int(year)}

    @classmethod
    def from_meta(cls, meta: dict) -> "FeatureSpec":
        """The spec a saved model was trained with."""
        season = meta["season"]
        return cls(meta["feature_kind"], int(season["length_days"]), int(season["window_days"]),
                   float(meta["cloud_threshold"]), int(meta["max_gap_bins"]),
                   tuple(int(v) for v in season["start_month_day"]))


def as_model_input(features: np.ndarray, spec: FeatureSpec, *, flat: bool = False) -> np.ndarray:
    """Features shaped for a model: (n, 1, 10, t) for median2d, (n, 1, F) for 1D kinds,
    (n, F) when ``flat`` (scikit-learn baselines). Input (n, 10, t) medians or (n, F) vectors."""
    n = features.shape[0]
    if flat:
        return features.reshape(n, -1)
    if spec.feature_kind == "median2d":
        return features.reshape(n, 1, 10, spec.n_bins)
    return features.reshape(n, 1, -1)


@dataclass
class SeriesFeatures:
    """Features of a table: ``values`` (n, 10, t) medians or (n, 35) harmonics, float32 reflectance;
    ``keep`` (n,) False for samples with too many gaps; ``year`` the season year used."""

    values: np.ndarray
    keep: np.ndarray
    year: int


def series_features(series: SampleSeries, spec: FeatureSpec, year: int | None = None) -> SeriesFeatures:
    """Compute the features of ``spec`` for every sample (SeasonError when the season has no data).

    Every kind uses the median pipeline's ``keep`` so that all feature kinds see the same samples.
    """
    from gee_crop.features.composite import median_features, prepare_series, season_start_days

    medians = median_features(series, year=year, window_days=spec.window_days, length_days=spec.length_days,
                              threshold=spec.cloud_threshold, max_gap_bins=spec.max_gap_bins,
                              start_month_day=spec.start_month_day)
    values = medians.values
    if spec.feature_kind == "harmonic":
        from gee_crop.features.harmonics import harmonic_features

        arrays = prepare_series(series, threshold=spec.cloud_threshold)
        starts = season_start_days(series.lat, medians.year, spec.start_month_day)
        values = harmonic_features(arrays, starts, spec.length_days)
    return SeriesFeatures(np.asarray(values, dtype=np.float32), np.asarray(medians.keep, dtype=bool),
                          int(medians.year))


def normalization_stats(features: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of training features: per band over samples and bins (median2d, (10,) each),
    per feature over samples (1D kinds, (F,) each)."""
    if spec.feature_kind == "median2d":
        return features.mean(axis=(0, 2)), features.std(axis=(0, 2))
    flat = features.reshape(features.shape[0], -1)
    return flat.mean(axis=0), flat.std(axis=0)


class AugmentedBatches:
    """Model inputs for batches of training samples, medians recomputed with random augmentation.

    Holds the raw series (as reflectance arrays) of the training samples; ``inputs(index, rng)``
    gives (b, 1, 10, t) or (b, 1, F) float32 for the samples ``index``. All randomness comes from
    ``rng`` so a (seed, epoch)-derived generator makes an epoch repeatable.
    """

    def __init__(self, series: SampleSeries, features: np.ndarray, year: int, spec: FeatureSpec,
                 augment: dict | None) -> None:
        from gee_crop.features.composite import prepare_series, season_start_days

        self.spec, self.features = spec, features
        self.augment = None
        if augment is not None and spec.is_median:
            from gee_crop.features.augment import AugmentConfig

            self.augment = AugmentConfig(**augment)
            self.arrays = prepare_series(series, threshold=spec.cloud_threshold)
            self.start_days = season_start_days(series.lat, year, spec.start_month_day)

    def __len__(self) -> int:
        return len(self.features)

    def inputs(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.augment is None:
            values = self.features[index]
        else:
            from gee_crop.features.augment import augmented_medians

            values = augmented_medians(self.arrays.subset(index), self.start_days[index], self.spec.length_days,
                                       self.spec.window_days, self.spec.n_bins, rng, self.augment,
                                       max_gap_bins=self.spec.max_gap_bins)
        return as_model_input(np.asarray(values, dtype=np.float32), self.spec)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): ``fraction`` of each class (rounded, at least 1 when the class has >= 2
    samples and fraction > 0) goes to validation; deterministic for a seed."""
    rng = np.random.default_rng([seed, 7919])
    val = []
    for cls in np.unique(labels):  # a loop over the <= 7 classes, not samples
        members = rng.permutation(np.flatnonzero(labels == cls))
        k = int(round(fraction * len(members)))
        if fraction > 0 and k == 0 and len(members) >= 2:
            k = 1
        val.append(members[:k])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)
    return train_idx, val_idx
