"""The one fit loop of every torch architecture (CropNet 2D / 1D and the CNN baselines).

Adam on cross-entropy (optionally class-weighted), mini-batches drawn from :class:`AugmentedBatches`
(a permutation per epoch, or class-balanced draws with ``balanced_sampling``),
validation after every epoch and a checkpoint written atomically after every epoch, from which an
interrupted run resumes.

Repeatability: the data order and the augmentation draws of epoch ``e`` come from
``numpy.random.default_rng([seed, e])`` and dropout from ``torch.manual_seed(epoch_seed(seed, e))``,
so an interrupted and resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from gee_crop.atomic import atomic_write
from gee_crop.classes import CLASSES
from gee_crop.errors import InputError
from gee_crop.training.dataset import AugmentedBatches
from gee_crop.training.metrics import classification_report


@dataclass(frozen=True)
class FitOptions:
    """The loop's options (TrainConfig fields of the same names)."""

    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    device: torch.device
    class_weights: bool = False
    n_classes: int = len(CLASSES)
    balanced_sampling: bool = False
    mixed_precision: bool = False  # bfloat16 autocast of the forward pass, on CUDA only


class BatchStream(Protocol):
    """Training batches an epoch streams from elsewhere (``training.cube_data.CubeStream``): (inputs, labels)
    tensors per batch, drawn from the epoch's own seed."""

    def epoch(self, epoch: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of epoch ``epoch`` (0-based)."""


def epoch_seed(seed: int, epoch: int) -> int:
    """The torch seed of epoch ``epoch`` (dropout draws)."""
    return (seed * 1_000_003 + epoch * 7_919 + 1) % (2**63 - 1)


def class_weights(labels: np.ndarray, n_classes: int = len(CLASSES)) -> torch.Tensor:
    """Inverse-frequency weights n / (k * count) for the k classes present; 1 for absent classes."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def balanced_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n,) sample indices of one class-balanced epoch: ``n = len(labels)`` draws with replacement, each
    sample drawn with probability 1 / (k * its class count) for the k classes present, so every class
    fills about n / k of the epoch (rare samples repeat, common ones are subsampled)."""
    counts = np.bincount(labels)
    weights = 1.0 / (np.count_nonzero(counts) * counts[labels])
    return rng.choice(len(labels), size=len(labels), replace=True, p=weights / weights.sum())


@torch.no_grad()
def logits_of(
    model: nn.Module, inputs: np.ndarray, device: torch.device | str = "cpu", batch_size: int = 1024
) -> torch.Tensor:
    """(n, 7) float32 logits on CPU for model inputs (n, 1, 10, t) or (n, 1, F), in eval mode
    (the model's train/eval mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    out = [
        model(torch.from_numpy(np.ascontiguousarray(inputs[i : i + batch_size])).to(device)).float().cpu()
        for i in range(0, len(inputs), batch_size)
    ]
    model.train(was_training)
    if not out:
        return torch.zeros((0, len(CLASSES)))
    return torch.cat(out)


CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "history", "config")


def read_checkpoint(checkpoint: Path, settings: dict, device: torch.device | str = "cpu") -> dict:
    """The state saved in ``checkpoint`` (loaded with ``weights_only=True``: no code is unpickled),
    checked: InputError naming the fix for a damaged or truncated file, or one written with other
    ``settings`` (naming the options that differ)."""
    try:
        state = torch.load(checkpoint, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a truncated zip, a foreign pickle: the file is unusable
        raise InputError(
            f"{checkpoint} is damaged or truncated ({type(exc).__name__}); pass --overwrite to start the run over"
        ) from None
    if not isinstance(state, dict) or any(k not in state for k in CHECKPOINT_KEYS):
        raise InputError(
            f"{checkpoint} is not a gee-crop training checkpoint; pass --overwrite to start the "
            "run over, or choose another --out"
        )
    saved = state["config"] if isinstance(state["config"], dict) else {}
    if saved != settings:
        changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
        raise InputError(
            f"{checkpoint} was written with other training options ({', '.join(changed)} differ); "
            "resume with the same options (only --epochs and --device may change) or pass --overwrite"
        )
    return state


def _atomic_torch(path: Path, obj: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def _table_batches(
    batches: AugmentedBatches, labels: torch.Tensor, order: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The batches of a table's epoch: ``order`` cut into ``batch_size`` slices, inputs drawn from ``rng``."""
    for begin in range(0, len(order), batch_size):
        index = order[begin : begin + batch_size]
        yield torch.from_numpy(batches.inputs(index, rng)), labels[torch.from_numpy(index).to(labels.device)]


def fit(
    model: nn.Module,
    batches: AugmentedBatches | BatchStream,
    labels: np.ndarray,
    val_inputs: np.ndarray,
    val_labels: np.ndarray,
    options: FitOptions,
    *,
    checkpoint: Path,
    settings: dict,
    resume: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[dict]:
    """Train ``model`` (normalization already set) in place on ``batches`` with class indices ``labels``;
    returns the history (one row per epoch). ``batches`` is a table's AugmentedBatches (epochs drawn here)
    or a BatchStream (a cube's; ``labels`` then only weigh the classes). ``settings`` (the options that must
    not change) are stored in ``checkpoint`` and compared on ``resume``. ``loss(inputs, logits, labels)`` replaces the
    cross-entropy (e.g. ``training.distill.DistillationLoss``: the teacher sees the same augmented batch)."""
    device = options.device
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    weights = class_weights(labels, options.n_classes).to(device) if options.class_weights else None
    hard_loss = nn.CrossEntropyLoss(weight=weights)
    loss_fn = loss or (lambda x, logits, y: hard_loss(logits, y))
    val_loss_fn = nn.CrossEntropyLoss()

    history: list[dict] = []
    first_epoch = 0
    if resume and checkpoint.exists():
        state = read_checkpoint(checkpoint, settings, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, first_epoch = state["history"], int(state["epoch"])
        echo(f"resuming from {checkpoint} after epoch {first_epoch}")

    y_train = torch.from_numpy(labels).to(device)
    n_train, batch_size = len(labels), options.batch_size
    bar = tqdm(
        range(first_epoch, options.epochs),
        desc="training",
        unit="epoch",
        disable=not progress,
        initial=first_epoch,
        total=options.epochs,
    )
    autocast = options.mixed_precision and device.type == "cuda"
    for epoch in bar:
        start = time.perf_counter()
        rng = np.random.default_rng([options.seed, epoch])
        torch.manual_seed(epoch_seed(options.seed, epoch))
        if isinstance(batches, AugmentedBatches):
            order = balanced_order(labels, rng) if options.balanced_sampling else rng.permutation(n_train)
            epoch_batches = _table_batches(batches, y_train, order, batch_size, rng)
        else:
            epoch_batches = iter(batches.epoch(epoch))
        model.train()
        total, seen = 0.0, 0
        for x, y in epoch_batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                batch_loss = loss_fn(x, model(x), y)
            batch_loss.backward()
            optimizer.step()
            total += float(batch_loss.detach()) * len(y)
            seen += len(y)
        row = {"epoch": epoch + 1, "train_loss": total / max(seen, 1)}
        if len(val_labels):
            logits = logits_of(model, val_inputs, device, batch_size)
            report = classification_report(val_labels, logits.argmax(dim=1).numpy())
            row.update(
                val_loss=float(val_loss_fn(logits, torch.from_numpy(val_labels))),
                val_oa=report.overall_accuracy,
                val_macro_f1=report.macro_f1,
            )
        row["seconds"] = round(time.perf_counter() - start, 3)
        history.append(row)
        bar.set_postfix(
            loss=f"{row['train_loss']:.3f}", **({"val_oa": f"{row['val_oa']:.3f}"} if "val_oa" in row else {})
        )
        _atomic_torch(
            checkpoint,
            {
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "history": history,
                "config": settings,
            },
        )
    model.eval()
    return history
