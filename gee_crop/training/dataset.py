"""From a sample table to model inputs: the one feature pipeline used by training, evaluation and export.

The model contract (:class:`gee_crop.features.spec.FeatureSpec`, saved in every model file) says
how to turn raw series into features, so a model is always fed what it was trained on.
Per-batch augmentation recomputes the medians from the raw series (METHOD.md "Augmentation").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gee_crop.config import FeatureKind
from gee_crop.features.augment import AugmentConfig, augmented_medians
from gee_crop.features.composite import median_features, prepare_series
from gee_crop.features.harmonics import harmonic_features
from gee_crop.features.seasons import (
    format_season_counts,
    infer_season_years,
    main_season_year,
    season_counts,
    season_start_days,
)
from gee_crop.features.spec import FeatureSpec, scale_reflectance
from gee_crop.types import SampleSeries


@dataclass
class SeriesFeatures:
    """Features of a table: ``values`` (n, 10, t) medians or (n, 35) harmonics, float32 reflectance;
    ``keep`` (n,) False for samples with too many gaps; ``years`` (n,) int64 each sample's season year."""

    values: np.ndarray
    keep: np.ndarray
    years: np.ndarray

    @property
    def year(self) -> int | None:
        """The most common season year of the kept samples (a model's ``year_trained``)."""
        return main_season_year(self.years, self.keep)

    @property
    def season_counts(self) -> dict[int, int]:
        """{season year: kept samples}, by year."""
        return season_counts(self.years, self.keep)

    @property
    def seasons_text(self) -> str:
        """The kept samples' seasons for a log line: 'season 2019 (220)' or 'seasons 2019 (220), 2023 (500)'."""
        counts = self.season_counts
        return f"season{'s' if len(counts) > 1 else ''} {format_season_counts(counts)}"


def series_features(series: SampleSeries, spec: FeatureSpec, year: int | None = None) -> SeriesFeatures:
    """Compute the features of ``spec`` for every sample, each over its own season (SeasonError when
    no sample's season has data).

    ``year`` given: that season for every sample (``--year``); None: each sample's ``season_year``,
    else the season its observations cover best. Every kind uses the median pipeline's ``keep`` so
    that all feature kinds see the same samples.
    """
    medians = median_features(
        series, year=year, season=spec.season, threshold=spec.cloud_threshold, max_gap_bins=spec.max_gap_bins
    )
    values = medians.values
    if spec.feature_kind == FeatureKind.HARMONIC:
        arrays = prepare_series(series, threshold=spec.cloud_threshold)
        starts = season_start_days(series.lat, medians.years, spec.season)
        values = harmonic_features(arrays, starts, spec.season)
    return SeriesFeatures(
        np.asarray(values, dtype=np.float32),
        np.asarray(medians.keep, dtype=bool),
        np.asarray(medians.years, dtype=np.int64),
    )


def normalization_stats(features: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of training features: per band over samples and bins (median2d, (10,) each),
    per feature over samples (1D kinds, (F,) each); of the features as rescaled by the contract's
    ``input_scaling`` (what the model standardises)."""
    features = scale_reflectance(features, spec.input_scaling)
    if spec.feature_kind == FeatureKind.MEDIAN2D:
        return features.mean(axis=(0, 2)), features.std(axis=(0, 2))
    flat = features.reshape(features.shape[0], -1)
    return flat.mean(axis=0), flat.std(axis=0)


class AugmentedBatches:
    """Model inputs for batches of training samples, medians recomputed with random augmentation.

    Holds the raw series (as reflectance arrays) of the training samples; ``inputs(index, rng)``
    gives (b, 1, 10, t) or (b, 1, F) float32 for the samples ``index``. ``year``: the season year of
    every sample, or (n,) each sample's own (``SeriesFeatures.years``); None: the series'
    ``season_year``, else inferred per sample. All randomness comes from ``rng`` so a (seed,
    epoch)-derived generator makes an epoch repeatable.
    """

    def __init__(
        self,
        series: SampleSeries | None,
        features: np.ndarray,
        year: int | np.ndarray | None,
        spec: FeatureSpec,
        augment: dict | None,
    ) -> None:
        self.spec, self.features = spec, features
        self.augment = None
        if augment is not None and spec.is_median:
            assert series is not None, "augmentation recomputes medians from the series"
            self.augment = AugmentConfig(**augment)
            self.arrays = prepare_series(series, threshold=spec.cloud_threshold)
            if year is None:
                year = series.season_year
            if year is None:
                year = infer_season_years(self.arrays, series.lat, season=spec.season)
            self.start_days = season_start_days(series.lat, year, spec.season)

    def __len__(self) -> int:
        return len(self.features)

    def inputs(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.augment is None:
            values = self.features[index]
        else:
            values = augmented_medians(
                self.arrays.subset(index),
                self.start_days[index],
                self.spec.season,
                rng,
                self.augment,
                max_gap_bins=self.spec.max_gap_bins,
            )
        return self.spec.model_input(np.asarray(values, dtype=np.float32))


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): ``fraction`` of each class (rounded, at least 1 when the class has >= 2
    samples and fraction > 0) goes to validation; deterministic for a seed."""
    rng = np.random.default_rng([seed, 7919])
    val = []
    for cls in np.unique(labels):  # a loop over the <= 7 classes, not samples
        members = rng.permutation(np.flatnonzero(labels == cls))
        k = round(float(fraction) * len(members))
        if fraction > 0 and k == 0 and len(members) >= 2:
            k = 1
        val.append(members[:k])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)
    return train_idx, val_idx
