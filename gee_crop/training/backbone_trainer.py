"""Training and scoring the big CNN baselines (ResNet50, EfficientNetV2-S, ConvNeXt-Tiny) in experiments.

``gee_crop.training.trainer.train`` knows CropNet and the Random Forest only, so the baselines get
this small loop built from the same pieces (FeatureSpec features, AugmentedBatches, normalization,
stratified validation split, class alignment), with the same repeatability rule: epoch ``e`` draws
its order and augmentation from ``default_rng([seed, e])``. The file ``backbone.pt`` holds the
weights and the model-file metadata (season, feature kind, cloud options), read back by
:func:`evaluate_backbone`.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from gee_crop.atomic import atomic_write
from gee_crop.config import BANDS, CLASSES
from gee_crop.types import SampleSeries
from gee_crop.errors import InputError, ModelFileError
from gee_crop.models.backbones import build_backbone
from gee_crop.training.alignment import align, alignment_for
from gee_crop.training.dataset import (AugmentedBatches, FeatureSpec, as_model_input, normalization_stats,
                                       series_features, stratified_split)
from gee_crop.training.evaluate import Evaluation, cropnet_logits
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import TrainConfig, resolve_device

BACKBONE_FILE = "backbone.pt"


def _config(options: dict) -> TrainConfig:
    """The trainer's options, validated as for CropNet 2D (same features, season and augmentation)."""
    return replace(TrainConfig(arch="cropnet2d"), **options).resolved()


def _data_summary(series: SampleSeries, n_dropped: int) -> dict:
    """The model card's training-data entry, as the trainer writes it."""
    counts = np.bincount(series.labels, minlength=len(CLASSES))
    return {"source": "experiment dataset", "regions": sorted({str(r) for r in series.region if str(r)}),
            "n_samples": len(series), "n_dropped": n_dropped,
            "class_counts": {c: int(k) for c, k in zip(CLASSES, counts) if k}}


def train_backbone(series: SampleSeries, out_dir: str | os.PathLike, arch: str, options: dict, *,
                   echo: Callable[[str], None] = print) -> Path:
    """Train baseline ``arch`` on ``series`` (median2d features, options as TrainConfig fields);
    writes ``out_dir/backbone.pt`` atomically and returns its path."""
    config = _config(options)
    spec = config.feature_spec()
    feats = series_features(series, spec, config.year)
    if not feats.keep.any():
        raise InputError("no sample is left after dropping gap-heavy series; raise max_gap_bins in the experiment")
    kept = series.subset(np.flatnonzero(feats.keep))
    values, labels = feats.values[feats.keep], kept.labels
    train_idx, val_idx = stratified_split(labels, config.val_fraction, config.seed)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model: nn.Module = build_backbone(arch)
    model.set_normalization(*normalization_stats(values[train_idx], spec))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    augment = None
    if config.augment:
        from gee_crop.features.augment import AugmentConfig

        augment = {**asdict(AugmentConfig()), **config.augment_options}
    batches = AugmentedBatches(kept.subset(train_idx), values[train_idx], feats.year, spec, augment)
    y_train = torch.from_numpy(labels[train_idx]).to(device)
    start = time.perf_counter()
    for epoch in range(config.epochs):
        rng = np.random.default_rng([config.seed, epoch])
        torch.manual_seed(config.seed * 1_000_003 + epoch)
        order = rng.permutation(len(train_idx))
        model.train()
        for begin in range(0, len(order), config.batch_size):
            index = order[begin:begin + config.batch_size]
            if len(index) < 2:  # BatchNorm needs two samples
                continue
            optimizer.zero_grad(set_to_none=True)
            x = torch.from_numpy(batches.inputs(index, rng)).to(device)
            loss = loss_fn(model(x), y_train[torch.from_numpy(index).to(device)])
            loss.backward()
            optimizer.step()
    model.eval()
    metrics: dict = {"n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "validation": None}
    if len(val_idx):
        pred = cropnet_logits(model, as_model_input(values[val_idx], spec), device).argmax(dim=1).numpy()
        metrics["validation"] = classification_report(labels[val_idx], pred).to_dict()
    echo(f"{arch}: trained {config.epochs} epochs on {len(train_idx)} samples in {time.perf_counter() - start:.1f} s")
    payload = {"arch": arch, "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "classes": list(CLASSES), "bands": list(BANDS),
               "season": spec.season_dict(feats.year), "feature_kind": spec.feature_kind,
               "cloud_threshold": spec.cloud_threshold, "max_gap_bins": spec.max_gap_bins,
               "train_config": {**config.to_dict(), "data": _data_summary(kept, int((~feats.keep).sum()))},
               "metrics": metrics, "regions": sorted({str(r) for r in kept.region if str(r)})}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / BACKBONE_FILE
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_backbone(path: str | os.PathLike) -> tuple[nn.Module, dict]:
    """(model in eval mode, metadata) of a ``backbone.pt``."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        model = build_backbone(payload["arch"])
        model.load_state_dict(payload["state_dict"])
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{path} is not a baseline written by `gee-crop experiment` ({type(exc).__name__}); "
                             "delete it and rerun the experiment") from None
    return model.eval(), {k: v for k, v in payload.items() if k != "state_dict"}


def evaluate_backbone(path: str | os.PathLike, data: SampleSeries, *, target_region: str | None,
                      source_region: str | None, device: str | torch.device = "cpu") -> Evaluation:
    """Score a baseline on ``data`` exactly as ``evaluate_model`` scores CropNet (features as
    trained, the paper's class alignment)."""
    model, meta = load_backbone(path)
    spec = FeatureSpec.from_meta(meta)
    feats = series_features(data, spec)
    logits = cropnet_logits(model.to(device), as_model_input(feats.values[feats.keep], spec), device)
    alignment = alignment_for(source_region, target_region)
    y_true, y_pred, kept = align(data.labels[feats.keep], logits.argmax(dim=1).numpy(),
                                 alignment.target_classes, alignment.drop_true_classes)
    return Evaluation(classification_report(y_true, y_pred), alignment, len(data), int((~feats.keep).sum()),
                      int((~kept).sum()), feats.year, target_region, source_region)
