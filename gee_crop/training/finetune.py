"""Fine-tuning: a trained model trained further on a small table of the user's own labels.

``gee-crop train TABLE --init-from MODEL`` starts from the weights of MODEL instead of a random
initialisation. MODEL is a ``model.pt`` written by ``gee-crop train`` (read with
``torch.load(weights_only=True)``: no code is unpickled) or the name of a zoo model whose fp32 torch
weights ship beside its int8 ONNX as ``<name>.pt`` (ONNX files hold no trainable weights).

The fine-tuned model keeps the source's **contract** (feature kind, season, window, cloud threshold,
gap rule, bands, classes) and its **normalisation statistics** (the ``normalization``
buffers are loaded with the weights, never refitted on the small table), so every input means what
it meant to the source model. Its metadata records ``init_from`` (what was named, the file's sha256,
the source's architecture and training data).

Defaults, each overridden by giving its option:

* inherited from the source: architecture, widths, feature kind, season, window, cloud threshold,
  gap rule, input scaling (a *different* value given for one of these is refused, naming it), and
  the training habits dropout, batch size, augmentation (with its options), class weighting and
  balanced sampling;
* ``epochs`` FINETUNE_EPOCHS and ``learning_rate`` FINETUNE_LR_FACTOR x the source's: a few labels
  should nudge the source model, not overwrite it;
* no validation split (``val_fraction`` 0) for a table of fewer than FINETUNE_MIN_VAL_ROWS rows: the
  fit loop selects nothing on validation, so on a small table every label is worth more in training
  (score the result on separate labels with ``gee-crop evaluate``).

**The user's own classes** (:class:`NewHead`). When the table's class list differs from the source's,
or the table holds a class the source never predicts (its output switched off, as the zoo's soybeans),
the fine-tuned model keeps the source's encoder (every layer but the output layer, models/heads.py)
and gets a new output layer for the table's classes: a class the source predicts keeps its row of the
source's output layer, the others start fresh. Every layer learns unless ``freeze_encoder`` asks for the
encoder frozen (only the head learns; see FREEZE_ENCODER_DEFAULT for why that is not the default); a new head
learns at the source's learning rate (not FINETUNE_LR_FACTOR x it: it starts from nothing). The
table's season and bands must still be the source's. ``--freeze-encoder`` also freezes the encoder of
a run that keeps the source's head.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import pyarrow.parquet as pq
from torch import nn

from gee_crop.config import LEARNING_RATE, Arch
from gee_crop.errors import InputError
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.heads import freeze_encoder, replace_output_layer
from gee_crop.models.io import ModelFile, load_model
from gee_crop.types import SampleSeries

#: passes over the fine-tuning table, and the learning rate as a share of the source's.
FINETUNE_EPOCHS = 20
FINETUNE_LR_FACTOR = 0.1
#: tables with fewer rows get no validation split by default.
FINETUNE_MIN_VAL_ROWS = 500
#: the encoder learns with the new head unless asked otherwise. Measured on the only benchmark target with
#: a class the source never predicts (France 2023, its soybeans; experiments/fewlabel_benchmark.py, 5 seeds):
#: macro-F1 64.1 / 63.7 / 73.8 / 75.9 % with every layer learning for 20 epochs against 57.5 / 58.1 / 61.9 /
#: 62.4 % with the encoder frozen (the better of 10 and 20 epochs), at 20 / 50 / 100 / 200 labels. The frozen
#: encoder's features cannot set the new class apart from the source's "other", so the class-weighted head
#: spreads it over "other".
FREEZE_ENCODER_DEFAULT = False
#: options that must equal the source's (they fix the weights' shapes or the meaning of the inputs).
CONTRACT_OPTIONS = (
    "arch",
    "widths",
    "feature_kind",
    "window_days",
    "length_days",
    "cloud_threshold",
    "max_gap_bins",
    "input_scaling",
)
#: training habits taken from the source unless given.
HABIT_OPTIONS = ("dropout", "batch_size", "augment", "augment_options", "class_weights", "balanced_sampling")
#: options whose default changes when fine-tuning (the CLI leaves them out unless given).
FINETUNE_OPTIONS = (*CONTRACT_OPTIONS, *HABIT_OPTIONS, "epochs", "learning_rate", "val_fraction")
#: contract fields a table's own season and bands must share with the source model.
TABLE_FIELDS = ("season", "bands")

#: the dropout layers whose rate ``--init-from`` with another dropout changes.
DROPOUT_LAYERS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    class _TrainConfigLike(DataclassInstance, Protocol):
        """A TrainConfig as this module sees it: a dataclass with an ``arch`` field."""

        @property
        def arch(self) -> Any: ...


Config = TypeVar("Config", bound="_TrainConfigLike")


@dataclass(frozen=True)
class SourceModel:
    """The model a fine-tuning run starts from."""

    name: str
    """What the user named: a model.pt path or a zoo model name."""
    path: Path
    """The torch file read."""
    sha256: str
    arch: str
    arch_kwargs: dict
    contract: FeatureSpec
    meta: dict
    """The source's metadata without its weights (train_config, metrics, output_classes ...)."""
    model: nn.Module

    def record(self) -> dict:
        """The ``init_from`` entry of the fine-tuned model's metadata."""
        data = (self.meta.get("train_config") or {}).get("data") or {}
        return {
            "name": self.name,
            "sha256": self.sha256,
            "arch": self.arch,
            "source_data": {k: data[k] for k in ("source", "regions", "n_samples") if k in data},
        }

    def classes(self) -> tuple[str, ...]:
        """The classes the source predicts: its ``output_classes`` where it switched others off."""
        return tuple(self.meta.get("output_classes") or self.contract.classes)

    def initial_model(self, dropout: float | None = None, head: NewHead | None = None) -> tuple[dict, nn.Module]:
        """``(arch_kwargs, model)``: a copy of the source model (its weights, normalisation buffers and
        input scaling) in train mode; ``dropout`` replaces the source's when the arch has one; ``head``
        gives it a new output layer and freezes its encoder as it says."""
        kwargs = dict(self.arch_kwargs)
        model = copy.deepcopy(self.model).train()
        if dropout is not None and "dropout" in kwargs:
            kwargs["dropout"] = float(dropout)
            for module in model.modules():
                if isinstance(module, DROPOUT_LAYERS):
                    module.p = float(dropout)
        if head is not None and head.new:
            source_rows = {c: i for i, c in enumerate(self.contract.classes)}
            replace_output_layer(model, [source_rows[c] if c in head.kept else None for c in head.classes])
            kwargs["n_classes"] = len(head.classes)
        if head is not None and head.freeze_encoder:
            freeze_encoder(model)
        return kwargs, model


@dataclass(frozen=True)
class NewHead:
    """What a fine-tuned model keeps of its source's output layer, and whether its encoder learns."""

    classes: tuple[str, ...]
    """The fine-tuned model's classes (the table's class list)."""
    kept: tuple[str, ...]
    """Classes the source predicts: their output rows are the source's."""
    added: tuple[str, ...]
    """Classes with a fresh output row (the source has them not, or switched them off)."""
    new: bool
    """A new output layer (False: the source's, as it is)."""
    freeze_encoder: bool
    """Only the output layer learns."""

    def record(self) -> dict:
        """The ``head`` entry of ``init_from`` in the fine-tuned model's metadata (and its card)."""
        return {
            "new_head": self.new,
            "classes_kept": list(self.kept),
            "classes_added": list(self.added),
            "encoder_frozen": self.freeze_encoder,
        }


def plan_head(source: SourceModel, classes: tuple[str, ...], held: np.ndarray, freeze: bool | None) -> NewHead:
    """The head of a model fine-tuned from ``source`` on a table of class list ``classes`` whose rows
    hold the class names ``held`` (n,): new when the lists differ or ``held`` has a class the source
    never predicts; ``freeze`` None: FREEZE_ENCODER_DEFAULT."""
    predicted = source.classes()
    held_names = {str(c) for c in held}
    new = tuple(classes) != tuple(source.contract.classes) or bool(held_names - set(predicted))
    kept = tuple(c for c in classes if c in predicted) if new else tuple(classes)
    added = tuple(c for c in classes if c not in kept) if new else ()
    if freeze is None:
        freeze = FREEZE_ENCODER_DEFAULT
    return NewHead(tuple(classes), kept, added, new, bool(freeze))


def zoo_weights_path(onnx_path: Path, name: str) -> Path:
    """Where a zoo model's fp32 torch weights ship: ``<name>.pt`` beside its ONNX file."""
    return Path(onnx_path).parent / f"{name}.pt"


def resolve_source_path(init_from: str, zoo: Mapping[str, Path] | None = None) -> Path:
    """The torch file of ``--init-from``: a path as given, or a zoo name (``zoo``: name -> shipped
    ONNX file) resolved to its ``<name>.pt``; InputError naming the fix otherwise."""
    path = Path(init_from)
    if path.is_file():
        return path
    zoo = dict(zoo or {})
    if init_from in zoo:
        weights = zoo_weights_path(zoo[init_from], init_from)
        if weights.is_file():
            return weights
        raise InputError(
            f"--init-from {init_from}: this install ships the zoo model {init_from} only as int8 ONNX "
            f"({Path(zoo[init_from]).name}), and fine-tuning needs its fp32 torch weights "
            f"({weights.name}); install a gee-crop release that ships {weights.name}, or fine-tune "
            "a model.pt of your own (`gee-crop train`)"
        )
    names = f"; zoo models: {', '.join(sorted(zoo))}" if zoo else ""
    raise InputError(
        f"--init-from {init_from}: no such file and no zoo model of that name; give a model.pt "
        f"written by `gee-crop train`{names}"
    )


def load_source(init_from: str | os.PathLike, zoo: Mapping[str, Path] | None = None) -> SourceModel:
    """The source model of ``--init-from`` (weights loaded with weights_only=True); InputError
    for an ONNX file (no trainable weights), ModelFileError for a pickle or a file that is no
    gee-crop model."""
    name = str(init_from)
    path = resolve_source_path(name, zoo)
    source = ModelFile.read(path)
    if source.kind == "onnx":
        raise InputError(
            f"--init-from {name}: an ONNX file (an export, an int8 zoo file or a Random Forest) holds "
            "no trainable fp32 weights; give the model.pt it was exported from (`gee-crop train`)"
        )
    model, meta = load_model(source)
    return SourceModel(
        name=name,
        path=path,
        sha256=source.sha256,
        arch=str(meta["arch"]),
        arch_kwargs=dict(meta.get("arch_kwargs", {})),
        contract=source.contract,
        meta=meta,
        model=model,
    )


def source_settings(source: SourceModel) -> dict[str, Any]:
    """The TrainConfig values a fine-tuning run takes from the source (CONTRACT_OPTIONS and
    HABIT_OPTIONS the source records)."""
    spec, kwargs = source.contract, source.arch_kwargs
    trained = source.meta.get("train_config") or {}
    settings: dict[str, Any] = {
        "arch": source.arch,
        "feature_kind": spec.feature_kind.value,
        "window_days": spec.season.window_days,
        "length_days": spec.season.length_days,
        "cloud_threshold": float(spec.cloud_threshold),
        "max_gap_bins": spec.max_gap_bins,
        "input_scaling": str(getattr(spec.input_scaling, "value", spec.input_scaling)),
    }
    if "widths" in kwargs:
        settings["widths"] = tuple(int(w) for w in kwargs["widths"])
    if "dropout" in kwargs:
        settings["dropout"] = float(kwargs["dropout"])
    for key in HABIT_OPTIONS:
        if key in trained and key != "dropout":  # dropout: the architecture's, above
            settings[key] = trained[key]
    return settings


def explicit_options(config: DataclassInstance | None, options: Mapping[str, Any]) -> set[str]:
    """The option names a caller chose: ``options`` given as keywords (None: not given), and the fields
    of a ``config`` dataclass that differ from their defaults."""
    chosen = {name for name, value in options.items() if value is not None}
    for f in fields(config) if config is not None else ():
        default = (
            f.default
            if f.default is not MISSING
            else (f.default_factory() if f.default_factory is not MISSING else MISSING)
        )
        if default is MISSING or getattr(config, f.name) != default:
            chosen.add(f.name)
    return chosen


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return list(a) == list(b)
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(float(a), float(b)))
    return str(getattr(a, "value", a)) == str(getattr(b, "value", b))


def table_rows(data: SampleSeries | str | os.PathLike) -> int | None:
    """Rows of a sample table (from the Parquet footer, without reading it); None when unreadable
    (the table reader names the problem later)."""
    if isinstance(data, SampleSeries):
        return len(data)
    try:
        return int(pq.read_metadata(str(data)).num_rows)
    except Exception:  # noqa: BLE001 - a missing or broken file is reported by read_table
        return None


def finetune_config(config: Config, source: SourceModel, given: set[str], n_rows: int | None) -> Config:
    """``config`` (a TrainConfig) for fine-tuning ``source``: options not in ``given`` take the source's
    values or the fine-tuning defaults; a given contract option that differs from the source's is
    refused (InputError naming each difference)."""
    if "arch" in given and str(getattr(config.arch, "value", config.arch)) == Arch.RANDOM_FOREST.value:
        raise InputError(
            "--init-from: a Random Forest cannot be fine-tuned (it has no weights to start from); "
            "drop --arch random_forest to fine-tune the source network"
        )
    settings = source_settings(source)
    differ = [
        f"{key} {getattr(config, key)!r} (the source's: {settings[key]!r})"
        for key in CONTRACT_OPTIONS
        if key in given and key in settings and not _same(getattr(config, key), settings[key])
    ]
    if differ:
        raise InputError(
            f"--init-from {source.name}: {'; '.join(differ)} differ; fine-tuning keeps the source "
            "model's architecture and inputs: drop these options, or train from scratch without "
            "--init-from"
        )
    updates = {k: v for k, v in settings.items() if k not in given and hasattr(config, k)}
    source_lr = float((source.meta.get("train_config") or {}).get("learning_rate", LEARNING_RATE))
    defaults = {"epochs": FINETUNE_EPOCHS, "learning_rate": float(f"{FINETUNE_LR_FACTOR * source_lr:.6g}")}
    if n_rows is not None and n_rows < FINETUNE_MIN_VAL_ROWS:
        defaults["val_fraction"] = 0.0
    updates.update({k: v for k, v in defaults.items() if k not in given})
    return replace(config, **updates)


def finetune_contract(table_spec: FeatureSpec, source: SourceModel, head: NewHead) -> FeatureSpec:
    """The contract of the fine-tuned model: the source's with the classes of ``head``, once the table
    agrees with the source on its season (if it was sampled with one) and bands; InputError naming
    what differs otherwise."""
    differ = [
        f"{key} {getattr(table_spec, key)!r} (the source's: {getattr(source.contract, key)!r})"
        for key in TABLE_FIELDS
        if not _same(getattr(table_spec, key), getattr(source.contract, key))
    ]
    if differ:
        raise InputError(
            f"--init-from {source.name}: the table's {'; '.join(differ)} differ; sample the table with "
            "the source model's season and bands, or train from scratch without --init-from"
        )
    return replace(source.contract, classes=head.classes, year_trained=None)


def head_config(config: Config, source: SourceModel, head: NewHead, given: set[str]) -> Config:
    """``config`` for a new head: the source's learning rate unless given (a fresh layer learns from
    nothing; FINETUNE_LR_FACTOR is for nudging a trained one)."""
    if not head.new or "learning_rate" in given:
        return config
    source_lr = float((source.meta.get("train_config") or {}).get("learning_rate", LEARNING_RATE))
    return replace(config, learning_rate=source_lr)


def finetune_meta(source: SourceModel, head: NewHead) -> dict:
    """Metadata entries of the fine-tuned model: ``init_from`` (with what the head kept and added) and,
    for the source's own head, the source's ``output_classes``."""
    meta: dict[str, Any] = {"init_from": {**source.record(), "head": head.record()}}
    if source.meta.get("output_classes") and not head.new:
        meta["output_classes"] = list(source.meta["output_classes"])
    return meta


def describe(source: SourceModel, config: Any, head: NewHead) -> str:
    """One line printed when fine-tuning starts."""
    if head.new:
        added = ", ".join(head.added) or "none"
        what = f"; new head for {len(head.classes)} classes (kept {', '.join(head.kept) or 'none'}, added {added})"
    else:
        what = ""
    frozen = ", encoder frozen" if head.freeze_encoder else ""
    return (
        f"fine-tuning {source.name} ({source.arch}, sha256 {source.sha256[:12]}): {config.epochs} epochs, "
        f"learning rate {config.learning_rate:g}, validation fraction {config.val_fraction:g}{what}{frozen}"
    )
