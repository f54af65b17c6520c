"""Models on EMIT monthly medians (METHOD.md "Hyperspectral"): RF-500 and CropNet 1D (the torch architectures
on flat features) on flat (months x kept bands) reflectance vectors. Model files' contracts name the EMIT sensor
and its months, so evaluation, ``open_predictor`` and maps (``mapping.emit_source``) read them like any gee-crop
model (docs/emit.md). They take the table's sensor whole, so a table of another sensor's monthly medians
(``sample --medians SENSOR``) trains, evaluates and maps the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from gee_crop.classes import CLASSES, class_indices
from gee_crop.config import EMIT_FEATURE_MONTHS, Arch, FeatureKind, InputScaling
from gee_crop.data.emit_table import EmitTable, emit_features, read_emit_table
from gee_crop.errors import InputError
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.forest import RF_TREES, fit_random_forest, forest_probabilities
from gee_crop.models.io import ModelLike, read_model_file, save_forest
from gee_crop.models.predict import open_predictor
from gee_crop.models.registry import flat_archs
from gee_crop.sensors import EMIT, Sensor
from gee_crop.training.alignment import Alignment
from gee_crop.training.dataset import stratified_split
from gee_crop.training.evaluate import EVALUATION_BATCH, Evaluation
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import PreparedRun, TrainConfig, TrainResult, check_out_dir, fit_prepared


def emit_contract(months: tuple[int, ...], classes: tuple[str, ...] = CLASSES, sensor: Sensor = EMIT) -> FeatureSpec:
    """The contract of a model on ``sensor``'s medians (EMIT's) of ``months``: flat vectors, month-major."""
    return FeatureSpec(FeatureKind.MEDIAN1D, classes=classes, sensor=sensor, months=months)


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
    contract = emit_contract(tuple(months), classes, train.sensor)
    forest = fit_random_forest(features, class_indices(names, classes), n_estimators=n_estimators, seed=seed)
    metrics = None
    if test is not None:
        x_test, y_names = emit_features(test, months)
        proba = forest_probabilities(forest, x_test, len(classes))
        report = classification_report(class_indices(y_names, classes), np.argmax(proba, axis=1), len(classes))
        metrics = {"test": report.to_dict(classes), "n_train": len(features), "n_test": len(x_test)}
    train_config = {"arch": "random_forest", "sensor": train.sensor.name, "months": list(months), "seed": seed}
    path = save_forest(
        Path(out), forest, {"n_estimators": n_estimators}, contract, train_config=train_config, metrics=metrics
    )
    return path, metrics


def require_flat_arch(arch: str) -> None:
    """InputError unless ``arch`` reads flat vectors, as EMIT (and S2+EMIT) features are: the 2D CNNs need a
    (bands, time) matrix, and EMIT medians have one or two months."""
    flat = flat_archs()
    if arch in Arch.values() and Arch(arch) not in flat:
        raise InputError(
            f"--arch {arch} reads a (bands, time) matrix, but EMIT features are flat vectors; "
            f"use one of {', '.join(a.value for a in flat)}"
        )


def emit_months(table: EmitTable, feature_set: str | None) -> tuple[int, ...]:
    """The months of the EMIT feature set ``feature_set`` (None: all of the table's); InputError for a
    Sentinel-2 feature kind."""
    if feature_set is None:
        return table.months
    if feature_set not in EMIT_FEATURE_MONTHS:
        raise InputError(
            f"--features {feature_set} reads Sentinel-2 series, but the table holds EMIT medians; "
            f"use one of {', '.join(EMIT_FEATURE_MONTHS)}"
        )
    return EMIT_FEATURE_MONTHS[feature_set]


def emit_classes(names: np.ndarray) -> tuple[str, ...]:
    """The model's classes for a table with crop classes ``names``: the method's seven when they cover them,
    else the table's own, sorted."""
    found = {str(n) for n in names}
    return CLASSES if found <= set(CLASSES) else tuple(sorted(found))


def train_emit(
    table: EmitTable | str | os.PathLike,
    out_dir: str | os.PathLike,
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> TrainResult:
    """Train ``config.arch`` (a flat-feature architecture: random_forest, cropnet1d, linear) on the EMIT table
    ``table`` (a path or in memory), on the months ``config.feature_kind`` names (an EMIT feature set, None: all
    the table's), into ``out_dir``: model file (contract: EMIT sensor, months), config.json, history.csv."""
    emit = table if isinstance(table, EmitTable) else read_emit_table(table)
    source = "in-memory EmitTable" if isinstance(table, EmitTable) else str(table)
    months = emit_months(emit, config.feature_kind)
    require_flat_arch(config.arch)
    # the flat-vector kind stands in for the feature set: the contract's months say which medians it reads
    config = replace(config, feature_kind=FeatureKind.MEDIAN1D.value).resolved()
    values, names = emit_features(emit, months)
    if len(values) == 0:
        raise InputError(f"no sample of {source} is present in every month of {list(months)}")
    classes = emit_classes(names)
    labels = class_indices(names, classes)
    train_idx, val_idx = stratified_split(labels, config.val_fraction, config.seed)
    contract = replace(emit_contract(months, classes, emit.sensor), input_scaling=InputScaling(config.input_scaling))
    summary = {"source": source, "sensor": emit.sensor.name, "months": list(months), "n_samples": len(values)}
    meta = {"train_config": {**config.to_dict(), "emit_features": list(months), "data": summary}}
    run = PreparedRun(config, contract, None, values, labels, train_idx, val_idx, None, meta, Path(out_dir), echo)
    return fit_flat(run, 0, resume=resume, overwrite=overwrite, progress=progress)


def fit_flat(run: PreparedRun, n_dropped: int, *, resume: bool, overwrite: bool, progress: bool) -> TrainResult:
    """Fit a prepared run on flat vectors with no series behind them (EMIT, S2+EMIT) into its folder, which
    must hold no other run (``check_out_dir``); ``n_dropped``: the samples left out before it."""
    check_out_dir(run.out_dir, run.config, resume, overwrite)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    path, metrics, history = fit_prepared(run, resume=resume and not overwrite, progress=progress)
    return TrainResult(path, metrics, history, len(run.train_idx), len(run.val_idx), n_dropped)


def evaluate_emit_model(model: ModelLike, table: EmitTable | str | os.PathLike, *, device: str = "auto") -> Evaluation:
    """Score a model on EMIT medians on the EMIT table at ``table`` (its contract's months); the table's
    classes are scored as they are (no class alignment: the paper's rules speak of Sentinel-2 regions)."""
    model = read_model_file(model)
    contract = model.contract
    emit = table if isinstance(table, EmitTable) else read_emit_table(table)
    if contract.sensor != emit.sensor or contract.joined is not None:
        raise InputError(
            f"{model.path} reads {contract.sensor.name} bands, not {emit.sensor.label}; evaluate it on a sample table"
        )
    values, names = emit_features(emit, contract.months)
    if len(values) == 0:
        raise InputError(f"no sample of the EMIT table is present in every month of {list(contract.months)}")
    unknown = sorted({str(n) for n in names} - set(contract.classes))
    if unknown:
        raise InputError(
            f"the EMIT table holds classes {unknown} the model does not predict; its classes: {contract.classes}"
        )
    proba = open_predictor(model, device=device).predict_proba(values, batch_size=EVALUATION_BATCH)
    truth = class_indices(names, contract.classes)
    report = classification_report(truth, proba.argmax(axis=1), len(contract.classes))
    return Evaluation(report, Alignment(None, ()), len(values), 0, 0, None, None, None, contract.classes)
