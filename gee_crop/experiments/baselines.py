"""Baselines scored without a model file: the majority-class row of a results table."""

from __future__ import annotations

import numpy as np

from gee_crop.classes import class_indices
from gee_crop.features.seasons import table_season
from gee_crop.training.dataset import series_features
from gee_crop.training.evaluate import Evaluation, score_predictions
from gee_crop.training.trainer import TrainConfig
from gee_crop.types import SampleSeries

#: training options that decide which samples have usable features (the rest do not apply).
_FEATURE_OPTIONS = ("window_days", "length_days", "cloud_threshold", "max_gap_bins", "year")


def majority_evaluation(
    train: SampleSeries, test: SampleSeries, options: dict, *, target_region: str | None, source_region: str | None
) -> Evaluation:
    """Predict the training set's most common class for every test sample, scored like a model:
    the same gap rule keeps the same samples as the models of the experiment, then the paper's
    class alignment and metrics."""
    config = TrainConfig(
        arch="random_forest", feature_kind="median1d", **{k: options[k] for k in _FEATURE_OPTIONS if k in options}
    ).resolved()
    spec = config.feature_spec(table_season(train))  # the training table's season, as the trainer's contract
    year = options.get("year")
    kept_train = series_features(train, spec, year).keep
    test_feats = series_features(test, spec, year)
    classes = tuple(train.classes)
    counts = np.bincount(class_indices(train.crop_class[kept_train], classes), minlength=len(classes))
    majority = np.full(int(test_feats.keep.sum()), int(np.argmax(counts)))
    return score_predictions(test, test_feats, classes, majority, source_region, target_region)
