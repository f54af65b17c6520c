"""The experiment runner's EMIT rows (experiments/paper_emit.yaml): EMIT tables as datasets, their in-region
splits by sample, models on EMIT features trained and scored, and the majority-class row on them.

A sample of an EMIT table is a (lon, lat, crop_class) with one row per month: a split draws whole samples,
so a sample's June and August medians fall on the same side. Models read the samples present in every month
of their feature set (``emit_june``: June; ``emit``: every month of the table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from gee_crop.classes import class_indices
from gee_crop.data.emit_table import EmitTable, emit_features
from gee_crop.data.splits import random_split
from gee_crop.errors import InputError
from gee_crop.experiments.config import EMIT, EMIT_FEATURES, ExperimentConfig, ModelSpec, TransferSpec
from gee_crop.training.alignment import Alignment
from gee_crop.training.emit import emit_classes, emit_months, train_emit
from gee_crop.training.evaluate import Evaluation
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import TrainConfig


def check_emit_config(config: ExperimentConfig) -> None:
    """InputError when EMIT and Sentinel-2 meet in one run: a model on EMIT features on a Sentinel-2 dataset or
    the reverse, an EMIT dataset in a multi-dataset source, or a seed ensemble of an EMIT model."""
    emit_data = {d.key for d in config.datasets.values() if d.reader == EMIT}
    for transfer in config.transfers:
        keys = (*transfer.sources, transfer.target)
        if emit_data & set(keys) and (len(transfer.sources) > 1 or not set(keys) <= emit_data):
            raise InputError(
                f"transfer {transfer.source} -> {transfer.target} mixes EMIT and Sentinel-2 datasets or joins "
                "several EMIT tables; give each EMIT transfer one EMIT dataset as source and target"
            )
        for model in config.models:
            if (model.features in EMIT_FEATURES) != bool(emit_data & set(keys)):
                raise InputError(
                    f"model {model.name} ({model.features}) cannot run on transfer {transfer.source} -> "
                    f"{transfer.target}: EMIT features need EMIT datasets and EMIT datasets need EMIT features "
                    f"({', '.join(EMIT_FEATURES)}); put them in separate experiment files"
                )
            if model.features in EMIT_FEATURES and int(model.train.get("ensemble", 1)) > 1:
                raise InputError(
                    f"model {model.name}: seed ensembles of EMIT models are not supported; remove 'ensemble'"
                )


def feature_set(model: ModelSpec) -> str | None:
    """The model's EMIT ``--features`` choice (None for ``emit``: all the table's months)."""
    return None if model.features == EMIT else model.features


def emit_transfer_data(
    transfer: TransferSpec, source: EmitTable, target: EmitTable, seed: int
) -> tuple[EmitTable, EmitTable]:
    """(training table, test table) of a transfer for one seed: the whole source and target, or a seeded random
    split of the source's samples (whole samples, every month of each)."""
    if not transfer.split:
        return source, target
    train_idx, test_idx = random_split(source.n_samples, transfer.split, seed)
    return source.subset(train_idx), source.subset(test_idx)


def train_emit_model(
    model: ModelSpec, table: EmitTable, folder: Path, options: dict, echo: Callable[[str], None]
) -> Path:
    """Train one EMIT model of the experiment (``options``: its training options with the seed) into ``folder``."""
    config = replace(TrainConfig(), arch=model.arch, feature_kind=feature_set(model), **options)
    return train_emit(table, folder, config, overwrite=True, progress=False, echo=echo).model_path


def majority_emit_evaluation(model: ModelSpec, train: EmitTable, test: EmitTable) -> Evaluation:
    """The majority-class row on EMIT tables: every test sample present in the model's months gets the most
    common class of the training samples present in them."""
    months = emit_months(train, feature_set(model))
    _, train_names = emit_features(train, months)
    _, test_names = emit_features(test, months)
    if len(train_names) == 0 or len(test_names) == 0:
        raise InputError(f"model {model.name}: no EMIT sample is present in every month of {list(months)}")
    classes = emit_classes(np.concatenate([train_names, test_names]))
    counts = np.bincount(class_indices(train_names, classes), minlength=len(classes))
    predicted = np.full(len(test_names), int(np.argmax(counts)))
    report = classification_report(class_indices(test_names, classes), predicted, len(classes))
    return Evaluation(report, Alignment(None, ()), len(test_names), 0, 0, None, None, None, classes)
