"""Models on EMIT monthly medians (METHOD.md "Hyperspectral"): RF-500 on flat (months x kept bands)
reflectance vectors, written as ONNX model files whose contract names the EMIT sensor and its months, so
evaluation and ``open_predictor`` read them like any gee-crop model (maps refuse them by name: gee-crop maps
from Sentinel-2 composites only, docs/emit.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gee_crop.classes import CLASSES, class_indices
from gee_crop.config import FeatureKind
from gee_crop.data.emit_table import EmitTable, emit_features
from gee_crop.errors import InputError
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.forest import RF_TREES, fit_random_forest, forest_probabilities
from gee_crop.models.io import save_forest
from gee_crop.sensors import EMIT
from gee_crop.training.metrics import classification_report

#: The paper's EMIT feature sets (CropGlobe_subset): June, August and June+August medians (north).
EMIT_FEATURE_MONTHS: dict[str, tuple[int, ...]] = {"emit_june": (6,), "emit_august": (8,), "emit_june_august": (6, 8)}


def emit_contract(months: tuple[int, ...], classes: tuple[str, ...] = CLASSES) -> FeatureSpec:
    """The contract of a model on EMIT medians of ``months``: flat vectors, month-major."""
    return FeatureSpec(FeatureKind.MEDIAN1D, classes=classes, sensor=EMIT, months=months)


def train_emit_forest(
    train: EmitTable,
    months: tuple[int, ...],
    out: str | os.PathLike,
    *,
    test: EmitTable | None = None,
    n_estimators: int = RF_TREES,
    seed: int = 0,
    classes: tuple[str, ...] = CLASSES,
) -> tuple[Path, dict | None]:
    """Fit RF-``n_estimators`` on the EMIT medians of ``months`` of ``train``, write it to ``out`` (ONNX,
    with its contract) and score it on ``test`` when given: (path, metrics or None)."""
    features, names = emit_features(train, months)
    if len(features) == 0:
        raise InputError(f"no sample of the EMIT table is present in every month of {list(months)}")
    contract = emit_contract(tuple(months), classes)
    forest = fit_random_forest(features, class_indices(names, classes), n_estimators=n_estimators, seed=seed)
    metrics = None
    if test is not None:
        x_test, y_names = emit_features(test, months)
        proba = forest_probabilities(forest, x_test, len(classes))
        report = classification_report(class_indices(y_names, classes), np.argmax(proba, axis=1), len(classes))
        metrics = {"test": report.to_dict(classes), "n_train": len(features), "n_test": len(x_test)}
    train_config = {"arch": "random_forest", "sensor": "emit", "months": list(months), "seed": seed}
    path = save_forest(
        Path(out), forest, {"n_estimators": n_estimators}, contract, train_config=train_config, metrics=metrics
    )
    return path, metrics
