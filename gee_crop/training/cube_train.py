"""Training and evaluating on a composite cube (``gee-crop train CUBE``, ``gee-crop evaluate MODEL CUBE``).

The cube's composites are ``map``'s (its contract: season, cloud threshold, gap rule, classes), so the
model written here has the same contract and files as one trained from a table (``model.pt``,
``config.json``, ``history.csv``, ``checkpoint.pt``): ``export``, ``map`` and ``assess`` take it unchanged.
Validation holds out whole blocks (``data.splits.held_out_blocks``), so neighbouring pixels of one field
never sit on both sides. Batches stream from :mod:`gee_crop.training.cube_data`; on CUDA the forward pass
runs in bfloat16 autocast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np
import torch

from gee_crop.atomic import write_text_atomic
from gee_crop.config import REFLECTANCE_SCALE, Arch, FeatureKind, InputScaling
from gee_crop.data.cube import CubeStore
from gee_crop.data.splits import held_out_blocks
from gee_crop.errors import EmptyResultError, TrainOptionError
from gee_crop.features.augment import augment_config
from gee_crop.features.shift import fit_domain_summary, summary_of, tally_shift
from gee_crop.models.device import resolve_device
from gee_crop.models.io import ModelLike, read_model_file, save_model
from gee_crop.models.normalization import apply_input_scaling, normalization_of
from gee_crop.models.predict import check_model_matches, open_predictor
from gee_crop.models.registry import arch_kwargs, build_model
from gee_crop.training.alignment import Alignment
from gee_crop.training.cube_data import CubeBlocks, CubePixels, CubeStream, EpochOrders, read_pixels
from gee_crop.training.dataset import normalization_stats
from gee_crop.training.evaluate import Evaluation
from gee_crop.training.loop import fit, logits_of
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import (
    CHECKPOINT_NAME,
    TrainConfig,
    TrainResult,
    _check_classes,
    _history_csv,
    _metrics,
    _summary,
    check_out_dir,
    fit_options,
    resume_settings,
)

#: Pixels read for the normalisation statistics and at most held for validation (the rest stream).
MAX_STATS_PIXELS = 100_000
MAX_VAL_PIXELS = 100_000
#: DataLoader workers reading blocks (0: in the main process).
CUBE_WORKERS = 2


def train_cube(
    cube: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: TrainConfig,
    *,
    num_workers: int = CUBE_WORKERS,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> TrainResult:
    """Train a network of ``config`` on the cube at ``cube`` into ``out_dir`` (files as ``training.trainer.train``);
    ``num_workers`` DataLoader processes read its blocks."""
    config = config.resolved()
    _check_cube_options(config)
    store = CubeStore(cube)
    out_dir = Path(out_dir)
    check_out_dir(out_dir, config, resume, overwrite)
    contract = replace(
        store.info.spec,  # FeatureSpec.__post_init__ turns (and checks) the option strings into its enums
        feature_kind=cast(FeatureKind, config.feature_kind),
        input_scaling=cast(InputScaling, config.input_scaling),
    )
    per_block = store.block_counts.sum(axis=1)
    labelled = np.flatnonzero(per_block)
    is_val = np.zeros(len(per_block), dtype=bool)
    if config.val_fraction > 0 and len(labelled) >= 2:
        is_val[labelled] = held_out_blocks(per_block[labelled], config.val_fraction, config.seed)
    train_px = CubePixels.of(store, labelled[~is_val[labelled]])
    val_px = CubePixels.of(store, labelled[is_val[labelled]])
    _check_classes(train_px.label, str(cube), contract.classes)
    echo(
        f"cube {cube}: {len(train_px)} training pixels in {len(np.unique(train_px.block))} blocks, "
        f"{len(val_px)} validation pixels in {int(is_val.sum())} held-out blocks"
    )
    stats_values, _ = read_pixels(store, train_px, MAX_STATS_PIXELS, config.seed)
    val_values, y_val = read_pixels(store, val_px, MAX_VAL_PIXELS, config.seed)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    kwargs = arch_kwargs(config.arch, contract, widths=config.widths, dropout=config.dropout)
    model = apply_input_scaling(build_model(config.arch, kwargs), contract.input_scaling)
    normalization_of(model).set_statistics(*normalization_stats(stats_values, contract))
    augment = augment_config(config.augment_options, enabled=config.augment) if config.augment else None
    stream = CubeStream(
        CubeBlocks(store, contract, augment),
        EpochOrders(train_px, config.seed, balanced=True),  # dense labels: classes balanced by sampling
        config.batch_size,
        num_workers,
    )
    options = fit_options(config, contract, device, balanced=True, mixed_precision=True)
    val_inputs = contract.model_input(val_values)
    settings = {**resume_settings(config), "cube": str(Path(cube).resolve())}
    out_dir.mkdir(parents=True, exist_ok=True)
    history = fit(
        model,
        stream,
        train_px.label,
        val_inputs,
        y_val,
        options,
        checkpoint=out_dir / CHECKPOINT_NAME,
        settings=settings,
        resume=resume and not overwrite,
        progress=progress,
        echo=echo,
    )
    proba = torch.softmax(logits_of(model, val_inputs, device, config.batch_size), dim=1).numpy()
    metrics = _metrics(y_val, proba, len(train_px), contract.classes)
    counts = np.bincount(train_px.label, minlength=len(contract.classes))
    meta: dict = {
        "train_config": {
            **config.to_dict(),
            "data": {
                "source": str(cube),
                "cube_source": store.info.source,
                "regions": [],
                "n_samples": len(train_px) + len(val_px),
                "n_dropped": 0,
                "class_counts": {c: int(k) for c, k in zip(contract.classes, counts) if k},
                "held_out_blocks": int(is_val.sum()),
            },
        }
    }
    summary = fit_domain_summary(stats_values, median=contract.is_median)
    if summary is not None:
        meta["domain_summary"] = summary.to_dict()
    path = save_model(out_dir / "model.pt", model, config.arch, kwargs, contract, **meta, metrics=metrics)
    write_text_atomic(
        out_dir / "config.json", json.dumps({**contract.to_meta(), **meta, "metrics": metrics}, indent=2, default=str)
    )
    write_text_atomic(out_dir / "history.csv", _history_csv(history))
    echo(_summary(metrics, path))
    return TrainResult(path, metrics, history, len(train_px), len(y_val), 0)


def _check_cube_options(config: TrainConfig) -> None:
    """TrainOptionError for options a cube cannot serve: its composites are fixed (season, gap rule), so a
    forest, harmonic features, fine-tuning, distillation and cadence dropout need a sample table."""
    if config.arch == Arch.RANDOM_FOREST or config.feature_kind == "harmonic":
        raise TrainOptionError(
            "arch",
            "a cube trains networks on median composites; train a random_forest or harmonic features on a "
            "sample table (`gee-crop sample --source`)",
        )
    for name in ("init_from", "distill_from", "year", "window_days", "length_days"):
        if getattr(config, name) is not None:
            raise TrainOptionError(
                name,
                f"{name} is not available with a cube (its composites are fixed when it is built); "
                "drop it, or train on a sample table",
            )
    if config.class_weights:
        raise TrainOptionError(
            "class_weights", "a cube's epochs are already class-balanced by sampling; drop --class-weights"
        )
    if config.augment_options.get("p_dropout"):
        raise TrainOptionError(
            "augment_options", "cadence dropout thins raw observations, which a cube does not hold; drop p_dropout"
        )


def evaluate_cube(model_path: ModelLike, cube: str | os.PathLike, *, device: str = "auto") -> Evaluation:
    """Score a model on every labelled pixel of a cube, block by block (the cube's season and composites; a
    model of another season or class list is refused)."""
    store = CubeStore(cube)
    model = read_model_file(model_path)
    predictor = open_predictor(model, device=device)
    contract = predictor.contract
    check_model_matches(contract, store.info.season, model_path=model.path)
    if tuple(contract.classes) != tuple(store.info.spec.classes):
        raise EmptyResultError(
            f"the model predicts {', '.join(contract.classes)} but the cube {cube} holds "
            f"{', '.join(store.info.spec.classes)}; evaluate on a cube built with the model's legend"
        )
    pixels = CubePixels.of(store, np.flatnonzero(store.block_counts.sum(axis=1)))
    if not len(pixels):
        raise EmptyResultError(f"the cube {cube} holds no labelled pixel; build it with labels over the stack")
    truth, predicted, values_seen = [], [], []
    for block in np.unique(pixels.block):
        mine = pixels.block == block
        dn, _ = store.block(int(block))
        values = dn.reshape(-1, dn.shape[2], dn.shape[3])[pixels.offset[mine]].astype(np.float32) / np.float32(
            REFLECTANCE_SCALE
        )
        proba = predictor.predict_proba(values)
        truth.append(pixels.label[mine])
        predicted.append(proba)
        values_seen.append(values)
    proba_all = np.concatenate(predicted)
    summary = summary_of(predictor.meta)
    shift = tally_shift(summary, np.concatenate(values_seen), proba_all).score(available=summary is not None)
    classes = tuple(contract.classes)
    return Evaluation(
        classification_report(np.concatenate(truth), proba_all.argmax(axis=1), len(classes)),
        Alignment(None, ()),
        len(pixels),
        0,
        0,
        store.info.spec.year_trained,
        None,
        None,
        classes,
        shift,
        seasons={store.info.spec.year_trained or store.info.season.start.year: len(pixels)},
    )
