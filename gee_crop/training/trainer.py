"""Training CropNet (and the Random Forest baseline) on a sample table (METHOD.md "CropNet").

Outputs in ``out_dir``: ``model.pt`` (or ``model.pkl`` for the forest), ``config.json`` (everything
but the weights), ``history.csv`` (one row per epoch) and ``checkpoint.pt`` (written atomically after
every epoch; ``resume=True`` continues from it).

Repeatability: the data order and the augmentation draws of epoch ``e`` come from
``numpy.random.default_rng([seed, e])`` and dropout from ``torch.manual_seed(f(seed, e))``, so an
interrupted and resumed run ends with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from gee_crop.config import (BANDS, BATCH_SIZE, CLASSES, CLEAR_THRESHOLD, CROPNET_WIDTHS, EPOCHS,
                             LEARNING_RATE, MAX_GAP_BINS, SEASON_LENGTH_DAYS, WINDOW_DAYS)
from gee_crop.data.table import read_table
from gee_crop.types import SampleSeries
from gee_crop.errors import InputError, OutputExistsError
from gee_crop.models.baselines import fit_random_forest, forest_probabilities
from gee_crop.models.cropnet import build_model
from gee_crop.atomic import atomic_write, write_text_atomic
from gee_crop.models.io import RANDOM_FOREST, save_model, save_random_forest
from gee_crop.training.dataset import (AugmentedBatches, FeatureSpec, as_model_input, normalization_stats,
                                       series_features, stratified_split)
from gee_crop.models.device import resolve_device
from gee_crop.training.evaluate import cropnet_logits
from gee_crop.training.metrics import classification_report

ARCHS = ("cropnet2d", "cropnet1d", RANDOM_FOREST)
#: feature kinds each architecture accepts; the first is the default.
ARCH_FEATURES = {"cropnet2d": ("median2d",), "cropnet1d": ("median1d", "harmonic"),
                 RANDOM_FOREST: ("median1d", "harmonic")}
#: options that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "device")


@dataclass(frozen=True)
class TrainConfig:
    """Every training option (defaults: METHOD.md "CropNet" and config.py)."""

    arch: str = "cropnet2d"
    feature_kind: str | None = None
    epochs: int = EPOCHS
    batch_size: int = BATCH_SIZE
    learning_rate: float = LEARNING_RATE
    widths: tuple[int, ...] = CROPNET_WIDTHS
    dropout: float = 0.1
    augment: bool = True
    class_weights: bool = False
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    year: int | None = None
    window_days: int = WINDOW_DAYS
    length_days: int = SEASON_LENGTH_DAYS
    cloud_threshold: float = CLEAR_THRESHOLD
    max_gap_bins: int = MAX_GAP_BINS
    n_estimators: int = 500
    augment_options: dict = field(default_factory=dict)

    def resolved(self) -> "TrainConfig":
        """Validate the options and fill in the default feature kind (InputError naming the fix)."""
        if self.arch not in ARCHS:
            raise InputError(f"unknown architecture {self.arch!r}; use one of {', '.join(ARCHS)}")
        kinds = ARCH_FEATURES[self.arch]
        kind = self.feature_kind or kinds[0]
        if kind not in kinds:
            raise InputError(f"{self.arch} cannot use {kind!r} features; use one of {', '.join(kinds)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError("epochs and batch size must be at least 1")
        if not 0 <= self.val_fraction < 1:
            raise InputError(f"the validation fraction must be in [0, 1), got {self.val_fraction}")
        return replace(self, feature_kind=kind, widths=tuple(int(w) for w in self.widths))

    def feature_spec(self) -> FeatureSpec:
        return FeatureSpec(self.feature_kind, self.length_days, self.window_days, self.cloud_threshold,
                           self.max_gap_bins)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


@dataclass
class TrainResult:
    """What a training run produced."""

    model_path: Path
    metrics: dict
    history: list[dict]
    n_train: int
    n_val: int
    n_dropped: int


def _atomic_torch(path: Path, obj: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def _history_csv(history: list[dict]) -> str:
    buf = io.StringIO()
    if history:
        writer = csv.DictWriter(buf, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    return buf.getvalue()


def _class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-frequency weights n / (k * count) for the k classes present; 1 for absent classes."""
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    present = counts > 0
    weights = np.ones(len(CLASSES))
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def _check_out_dir(out_dir: Path, resume: bool, overwrite: bool) -> None:
    existing = [n for n in ("model.pt", "model.pkl", "checkpoint.pt") if (out_dir / n).exists()]
    if existing and not (resume or overwrite):
        raise OutputExistsError(f"{out_dir} already holds a training run ({', '.join(existing)}); pass "
                                "--resume to continue it, --overwrite to start over, or choose another --out")


def _data_summary(series: SampleSeries, source: str, n_dropped: int) -> dict:
    counts = np.bincount(series.labels, minlength=len(CLASSES))
    return {"source": source, "regions": sorted({str(r) for r in series.region}), "n_samples": len(series),
            "n_dropped": int(n_dropped), "class_counts": {c: int(k) for c, k in zip(CLASSES, counts) if k}}


def train(data: SampleSeries | str | os.PathLike, out_dir: str | os.PathLike, config: TrainConfig | None = None,
          *, resume: bool = False, overwrite: bool = False, progress: bool = True,
          echo: Callable[[str], None] = print, **options) -> TrainResult:
    """Train a model on a sample table (path or SampleSeries) and write it to ``out_dir``.

    ``options`` override fields of ``config`` (e.g. ``epochs=2, widths=(8, 16, 32, 64)``). Samples whose
    median series has too many gaps (``max_gap_bins``) are dropped, with a printed count.
    """
    config = replace(config or TrainConfig(), **options).resolved()
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, resume, overwrite)
    source = "in-memory SampleSeries"
    if not isinstance(data, SampleSeries):
        source, data = str(data), read_table(data)
    series = data
    spec = config.feature_spec()
    feats = series_features(series, spec, config.year)
    n_dropped = int((~feats.keep).sum())
    echo(f"season {feats.year}: dropped {n_dropped} of {len(series)} samples with a gap longer than "
         f"{config.max_gap_bins} bins of {config.window_days} days (--max-gap-bins)")
    if not feats.keep.any():
        raise InputError("no sample is left after dropping gap-heavy series; raise --max-gap-bins or "
                         "--cloud-threshold, or check the season (--year)")
    kept = series.subset(np.flatnonzero(feats.keep))
    values, labels = feats.values[feats.keep], kept.labels
    train_idx, val_idx = stratified_split(labels, config.val_fraction, config.seed)
    if len(train_idx) == 0:
        raise InputError(f"only {len(labels)} usable sample(s), none left for training after the validation "
                         "split; give more samples or lower --val-fraction")
    meta = {"classes": list(CLASSES), "bands": list(BANDS), "season": spec.season_dict(feats.year),
            "cloud_threshold": spec.cloud_threshold, "max_gap_bins": spec.max_gap_bins,
            "feature_kind": spec.feature_kind,
            "train_config": {**config.to_dict(), "data": _data_summary(kept, source, n_dropped)}}
    out_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(config, spec, kept, values, labels, train_idx, val_idx, feats.year, meta, out_dir, echo)
    if config.arch == RANDOM_FOREST:
        path, metrics, history = _train_forest(run)
    else:
        path, metrics, history = _train_cropnet(run, resume=resume and not overwrite, progress=progress)
    return TrainResult(path, metrics, history, len(train_idx), len(val_idx), n_dropped)


@dataclass
class _Run:
    """A prepared training run: kept samples, their features (n, 10, t) / (n, F), labels and split."""

    config: TrainConfig
    spec: FeatureSpec
    series: SampleSeries
    values: np.ndarray
    labels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    year: int
    meta: dict
    out_dir: Path
    echo: Callable[[str], None]


def _metrics(y_true: np.ndarray, proba: np.ndarray, n_train: int) -> dict:
    if len(y_true) == 0:
        return {"validation": None, "n_train": n_train, "n_val": 0}
    report = classification_report(y_true, proba.argmax(axis=1))
    return {"validation": report.to_dict(), "n_train": n_train, "n_val": int(len(y_true))}


def _write_run(out_dir: Path, meta: dict, metrics: dict, history: list[dict]) -> None:
    write_text_atomic(out_dir / "config.json", json.dumps({**meta, "metrics": metrics}, indent=2, default=str))
    write_text_atomic(out_dir / "history.csv", _history_csv(history))


def _train_forest(run: _Run) -> tuple[Path, dict, list[dict]]:
    config, spec, values, labels = run.config, run.spec, run.values, run.labels
    train_idx, val_idx, meta, out_dir = run.train_idx, run.val_idx, run.meta, run.out_dir
    start = time.perf_counter()
    x = as_model_input(values, spec, flat=True)
    forest = fit_random_forest(x[train_idx], labels[train_idx], n_estimators=config.n_estimators,
                               seed=config.seed)
    metrics = _metrics(labels[val_idx], forest_probabilities(forest, x[val_idx]), len(train_idx))
    history = [{"epoch": 1, "train_loss": "", "val_loss": "",
                "val_oa": (metrics["validation"] or {}).get("overall_accuracy", ""),
                "val_macro_f1": (metrics["validation"] or {}).get("macro_f1", ""),
                "seconds": round(time.perf_counter() - start, 3)}]
    path = save_random_forest(out_dir / "model.pkl", forest, {"n_estimators": config.n_estimators},
                              {**meta, "metrics": metrics})
    _write_run(out_dir, meta, metrics, history)
    run.echo(_summary(metrics, path))
    return path, metrics, history


def _summary(metrics: dict, path: Path) -> str:
    val = metrics["validation"]
    if val is None:
        return f"saved {path} (no validation split)"
    return (f"validation OA {100 * val['overall_accuracy']:.2f} %, macro-F1 {100 * val['macro_f1']:.2f} % "
            f"on {metrics['n_val']} samples; saved {path}")


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 1) % (2**63 - 1)


def _train_cropnet(run: _Run, *, resume: bool, progress: bool) -> tuple[Path, dict, list[dict]]:
    from tqdm.auto import tqdm

    config, spec, values, labels = run.config, run.spec, run.values, run.labels
    train_idx, val_idx, out_dir, echo = run.train_idx, run.val_idx, run.out_dir, run.echo

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    if config.arch == "cropnet2d":
        arch_kwargs = {"n_bands": len(BANDS), "n_bins": spec.n_bins}
    else:
        arch_kwargs = {"n_features": spec.n_features}
    arch_kwargs.update(n_classes=len(CLASSES), widths=list(config.widths), dropout=config.dropout)
    model = build_model(config.arch, arch_kwargs)
    model.set_normalization(*normalization_stats(values[train_idx], spec))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    weights = _class_weights(labels[train_idx]).to(device) if config.class_weights else None
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    val_loss_fn = nn.CrossEntropyLoss()

    checkpoint_path = out_dir / "checkpoint.pt"
    history: list[dict] = []
    first_epoch = 0
    comparable = {k: v for k, v in config.to_dict().items() if k not in RESUMABLE_CHANGES}
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=True)
        if state.get("config") != comparable:
            raise InputError(f"{checkpoint_path} was written with other training options; resume with "
                             "the same options (only --epochs and --device may change) or pass --overwrite")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, first_epoch = state["history"], int(state["epoch"])
        echo(f"resuming from {checkpoint_path} after epoch {first_epoch}")

    augment = ({**asdict(_augment_defaults()), **config.augment_options}
               if config.augment and spec.is_median else None)
    batches = AugmentedBatches(run.series.subset(train_idx), values[train_idx], run.year, spec, augment)
    val_inputs = as_model_input(values[val_idx], spec)
    y_val = labels[val_idx]
    y_train = torch.from_numpy(labels[train_idx]).to(device)
    n_train, batch_size = len(train_idx), config.batch_size
    bar = tqdm(range(first_epoch, config.epochs), desc="training", unit="epoch", disable=not progress,
               initial=first_epoch, total=config.epochs)
    for epoch in bar:
        start = time.perf_counter()
        rng = np.random.default_rng([config.seed, epoch])
        torch.manual_seed(_epoch_seed(config.seed, epoch))
        order = rng.permutation(n_train)
        model.train()
        total = 0.0
        for begin in range(0, n_train, batch_size):
            index = order[begin:begin + batch_size]
            x = torch.from_numpy(batches.inputs(index, rng)).to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y_train[torch.from_numpy(index).to(device)])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
        row = {"epoch": epoch + 1, "train_loss": total / n_train}
        if len(val_idx):
            logits = cropnet_logits(model, val_inputs, device, batch_size)
            report = classification_report(y_val, logits.argmax(dim=1).numpy())
            row.update(val_loss=float(val_loss_fn(logits, torch.from_numpy(y_val))),
                       val_oa=report.overall_accuracy, val_macro_f1=report.macro_f1)
        row["seconds"] = round(time.perf_counter() - start, 3)
        history.append(row)
        bar.set_postfix(loss=f"{row['train_loss']:.3f}",
                        **({"val_oa": f"{row['val_oa']:.3f}"} if "val_oa" in row else {}))
        _atomic_torch(checkpoint_path, {"epoch": epoch + 1, "model": model.state_dict(),
                                        "optimizer": optimizer.state_dict(), "history": history,
                                        "config": comparable})

    model.eval()
    proba = (torch.softmax(cropnet_logits(model, val_inputs, device, batch_size), dim=1).numpy()
             if len(val_idx) else np.zeros((0, len(CLASSES)), dtype=np.float32))
    metrics = _metrics(y_val, proba, n_train)
    path = save_model(out_dir / "model.pt", model, config.arch, arch_kwargs, {**run.meta, "metrics": metrics})
    _write_run(out_dir, run.meta, metrics, history)
    echo(_summary(metrics, path))
    return path, metrics, history


def _augment_defaults():
    from gee_crop.features.augment import AugmentConfig

    return AugmentConfig()
