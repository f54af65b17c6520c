"""Training any registered architecture on a sample table (METHOD.md "CropNet").

Outputs in ``out_dir``: ``model.pt`` (torch architectures) or ``model.onnx`` (the Random Forest),
``config.json`` (everything but the weights), ``history.csv`` (one row per epoch) and, for torch,
``checkpoint.pt`` (written atomically after every epoch; ``resume=True`` continues from it). Torch
architectures are trained by the one fit loop (``training.loop.fit``; its docstring states the
repeatability rule).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from types import UnionType
from typing import Any, Union, cast, get_args, get_origin, get_type_hints

import numpy as np
import torch

from gee_crop.atomic import write_text_atomic
from gee_crop.classes import CLASSES
from gee_crop.config import (
    BATCH_SIZE,
    CLEAR_THRESHOLD,
    CROPNET_WIDTHS,
    EPOCHS,
    LEARNING_RATE,
    MAX_GAP_BINS,
    Arch,
    FeatureKind,
    InputScaling,
)
from gee_crop.data.table import read_table
from gee_crop.errors import InputError, OutputExistsError, SampleTableError, TrainOptionError
from gee_crop.features.augment import AugmentConfig, augment_config
from gee_crop.features.seasons import table_season
from gee_crop.features.shift import fit_domain_summary
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.device import resolve_device
from gee_crop.models.domain import FOOTPRINT_KEY, footprint_of
from gee_crop.models.forest import fit_random_forest, forest_probabilities
from gee_crop.models.io import save_forest, save_model
from gee_crop.models.normalization import apply_input_scaling, normalization_of
from gee_crop.models.registry import arch_kwargs, architecture, build_model
from gee_crop.models.zoo import domain_report
from gee_crop.season import Season
from gee_crop.training.dataset import AugmentedBatches, normalization_stats, series_features, stratified_split
from gee_crop.training.distill import DISTILL_ALPHA, DISTILL_TEMPERATURE, DistillationLoss, load_teacher
from gee_crop.training.finetune import (
    NewHead,
    SourceModel,
    describe,
    explicit_options,
    finetune_config,
    finetune_contract,
    finetune_meta,
    head_config,
    load_source,
    plan_head,
    table_rows,
)
from gee_crop.training.loop import FitOptions, class_weights, fit, logits_of, read_checkpoint
from gee_crop.training.metrics import classification_report
from gee_crop.types import SampleSeries

#: options that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "device")
#: files that mark a folder as holding a training run (model.pkl: a gee-crop 0.1.0 forest).
RUN_FILES = ("model.pt", "model.onnx", "model.pkl", "checkpoint.pt")
CHECKPOINT_NAME = "checkpoint.pt"


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
    window_days: int | None = None  # None: the table's season's (the paper's unless sampled with its own)
    length_days: int | None = None  # None: likewise
    cloud_threshold: float = CLEAR_THRESHOLD
    max_gap_bins: int = MAX_GAP_BINS
    n_estimators: int = 500
    augment_options: dict = field(default_factory=dict)
    distill_from: str | None = None
    distill_temperature: float = DISTILL_TEMPERATURE
    distill_alpha: float = DISTILL_ALPHA
    input_scaling: str = InputScaling.STANDARD.value
    balanced_sampling: bool = False
    init_from: str | None = None
    freeze_encoder: bool | None = None  # None: FREEZE_ENCODER_DEFAULT (training/finetune.py)

    def resolved(self) -> TrainConfig:
        """Validate the options and fill in the default feature kind: the one check of training options, for
        ``gee-crop train`` and experiment files alike (TrainOptionError naming the option and the fix)."""
        _check_types(self)
        if self.arch not in Arch.values():
            raise TrainOptionError("arch", f"unknown architecture {self.arch!r}; use one of {', '.join(Arch.values())}")
        kinds = [k.value for k in architecture(self.arch).features]
        kind = str(self.feature_kind or kinds[0])
        if kind not in kinds:
            raise TrainOptionError(
                "feature_kind", f"{self.arch} cannot use {kind!r} features; use one of {', '.join(kinds)}"
            )
        for name in ("epochs", "batch_size", "n_estimators"):
            if getattr(self, name) < 1:
                raise TrainOptionError(name, f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise TrainOptionError(
                "learning_rate",
                f"the learning rate must be positive, got {self.learning_rate}; the paper's is {LEARNING_RATE:g}",
            )
        for name in ("dropout", "val_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise TrainOptionError(name, f"{name} must be in [0, 1), got {getattr(self, name)}")
        if len(self.widths) != len(CROPNET_WIDTHS) or min(self.widths) < 1:
            raise TrainOptionError(
                "widths",
                f"widths {list(self.widths)} are not four positive "
                f"channel counts; give e.g. {','.join(map(str, CROPNET_WIDTHS))}",
            )
        if self.max_gap_bins < 0:
            raise TrainOptionError("max_gap_bins", f"max_gap_bins must be at least 0, got {self.max_gap_bins}")
        if not 0 < self.cloud_threshold <= 1:
            raise TrainOptionError(
                "cloud_threshold",
                f"cloud_threshold {self.cloud_threshold} is outside (0, 1]; "
                f"the paper keeps pixels with score >= {CLEAR_THRESHOLD}",
            )
        if self.distill_from and self.arch == Arch.RANDOM_FOREST:
            raise TrainOptionError(
                "distill_from",
                "--distill-from trains a torch student; a random_forest cannot "
                "learn soft targets: use --arch tempcnn (the mapping student) or "
                "another network",
            )
        if self.freeze_encoder is not None and not self.init_from:
            raise TrainOptionError(
                "freeze_encoder",
                "--freeze-encoder / --no-freeze-encoder choose what learns when fine-tuning; give "
                "--init-from MODEL, or drop the option to train from scratch",
            )
        scaling = _input_scaling(self.input_scaling, self.arch, kind)
        try:
            augment_config(self.augment_options, enabled=self.augment)
        except InputError as exc:
            raise TrainOptionError("augment_options", str(exc)) from None
        except (TypeError, ValueError) as exc:  # a probability that is no number
            raise TrainOptionError(
                "augment_options",
                f"augment_options {self.augment_options!r} cannot be used "
                f"({exc}); give numbers, e.g. {{p_dropout: 0.5}}",
            ) from None
        if self.balanced_sampling and self.arch == Arch.RANDOM_FOREST:
            raise TrainOptionError(
                "balanced_sampling",
                "balanced_sampling draws the batches of a network's epochs; "
                "a random_forest is fitted once: drop balanced_sampling (or "
                "use class weights with a network)",
            )
        return replace(
            self,
            arch=Arch(self.arch).value,
            feature_kind=kind,
            widths=tuple(int(w) for w in self.widths),
            input_scaling=scaling.value,
        )

    def feature_spec(self, season: Season = Season()) -> FeatureSpec:
        """The model contract these options train on a table of ``season`` (the paper's by default): its
        window and length where these options give them (the season year is set from the data)."""
        return FeatureSpec(
            # FeatureSpec.__post_init__ turns (and checks) the option strings into its enums
            feature_kind=cast(FeatureKind, self.feature_kind),
            season=season.with_overrides(days=self.length_days, window_days=self.window_days),
            cloud_threshold=self.cloud_threshold,
            max_gap_bins=self.max_gap_bins,
            input_scaling=cast(InputScaling, self.input_scaling),
        )

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


def _accepts(hint: Any, value: object) -> bool:
    """Whether ``value`` fits the field type ``hint`` (bool is no number; a list fits a tuple)."""
    if get_origin(hint) in (Union, UnionType):
        return any(_accepts(arg, value) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if hint in (int, float):
        numbers = (int, np.integer) if hint is int else (int, float, np.integer, np.floating)
        return isinstance(value, numbers) and not isinstance(value, (bool, np.bool_))
    if get_origin(hint) is tuple:
        return isinstance(value, (tuple, list)) and all(_accepts(get_args(hint)[0], v) for v in value)
    return isinstance(value, get_origin(hint) or hint)


_TYPE_NAMES = {
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    str: "a string",
    dict: "a mapping",
    type(None): "null",
}


def _type_name(hint: Any) -> str:
    """'a whole number', 'a list of a whole number', 'a string or null' ... for an error message."""
    if get_origin(hint) in (Union, UnionType):
        return " or ".join(_type_name(arg) for arg in get_args(hint))
    if get_origin(hint) is tuple:
        return f"a list of {_type_name(get_args(hint)[0]).removeprefix('a ')}s"
    return _TYPE_NAMES.get(get_origin(hint) or hint, getattr(hint, "__name__", str(hint)))


def _check_types(config: TrainConfig) -> None:
    """TrainOptionError for the first field whose value does not fit its type (e.g. a string in YAML)."""
    hints = get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        value = getattr(config, f.name)
        if not _accepts(hints[f.name], value):
            example = (
                f.default
                if f.default is not MISSING
                else (f.default_factory() if f.default_factory is not MISSING else None)
            )
            fix = f"give e.g. {f.name}: {json.dumps(example)}" if example is not None else "give a value or none"
            raise TrainOptionError(f.name, f"{f.name} {value!r} is not {_type_name(hints[f.name])}; {fix}")


def _input_scaling(value: str, arch: str, kind: str) -> InputScaling:
    """The validated ``--input-scaling`` of ``arch`` on ``kind`` features (TrainOptionError naming the fix)."""
    try:
        scaling = InputScaling(value)
    except ValueError:
        raise TrainOptionError(
            "input_scaling", f"--input-scaling {value!r} is unknown; use one of {', '.join(InputScaling.values())}"
        ) from None
    if scaling == InputScaling.STANDARD:
        return scaling
    if arch == Arch.RANDOM_FOREST:
        raise TrainOptionError(
            "input_scaling",
            f"--input-scaling {scaling}: a random_forest splits each feature at "
            "thresholds, so a monotone rescaling changes nothing; drop the option "
            "for the forest (keep it for networks)",
        )
    if scaling == InputScaling.SMOOTH and kind != "median2d":
        raise TrainOptionError(
            "input_scaling",
            "--input-scaling smooth averages neighbouring 5-day bins of the 2D "
            f"median matrix; {kind} features have no time axis to smooth: use "
            "median2d or another scaling",
        )
    if kind == "harmonic":
        raise TrainOptionError(
            "input_scaling",
            f"--input-scaling {scaling} rescales reflectance; harmonic "
            "coefficients are not reflectance: use median2d / median1d features "
            "or --input-scaling standard",
        )
    return scaling


@dataclass
class TrainResult:
    """What a training run produced."""

    model_path: Path
    metrics: dict
    history: list[dict]
    n_train: int
    n_val: int
    n_dropped: int


def _history_csv(history: list[dict]) -> str:
    buf = io.StringIO()
    if history:
        writer = csv.DictWriter(buf, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    return buf.getvalue()


def resume_settings(config: TrainConfig) -> dict:
    """The options a checkpoint records and a resumed run must repeat (all but RESUMABLE_CHANGES)."""
    return {k: v for k, v in config.to_dict().items() if k not in RESUMABLE_CHANGES}


def check_out_dir(out_dir: Path, config: TrainConfig, resume: bool, overwrite: bool) -> None:
    """Refuse to write over a run folder: without --resume / --overwrite, and with --resume when there
    is nothing to resume (no checkpoint.pt, a Random Forest) or the run was trained with other options
    (another --arch): its files are never clobbered."""
    existing = [n for n in RUN_FILES if (out_dir / n).exists()]
    if overwrite:
        return
    if existing and not resume:
        raise OutputExistsError(
            f"{out_dir} already holds a training run ({', '.join(existing)}); pass "
            "--resume to continue it, --overwrite to start over, or choose another --out"
        )
    if not resume:
        return
    if config.arch == Arch.RANDOM_FOREST:
        raise InputError(
            "--resume: a Random Forest trains in one step and has no checkpoint to resume; drop "
            f"--resume (and pass --overwrite to retrain into {out_dir})"
        )
    checkpoint = out_dir / CHECKPOINT_NAME
    if not checkpoint.is_file():
        held = f" (it holds {', '.join(existing)})" if existing else ""
        raise InputError(
            f"--resume: {out_dir} has no {CHECKPOINT_NAME} to resume from{held}; drop --resume to "
            "start a new run, or give the --out of the interrupted run"
        )
    read_checkpoint(checkpoint, resume_settings(config))


def _check_classes(labels: np.ndarray, source: str, classes: tuple[str, ...] = CLASSES) -> None:
    """InputError when the usable samples hold fewer than two classes: such a classifier predicts that
    class everywhere, and its validation OA of 100 % means nothing."""
    present = np.flatnonzero(np.bincount(labels, minlength=len(classes)))
    if len(present) < 2:
        only = ", ".join(f"{classes[i]} ({int((labels == i).sum())} samples)" for i in present) or "none"
        raise InputError(
            f"{source}: the usable samples hold one class only ({only}); a crop-type classifier needs "
            "samples of at least two classes: sample more classes or regions (and check --year)"
        )


def _data_summary(series: SampleSeries, source: str, n_dropped: int) -> dict:
    counts = np.bincount(series.labels, minlength=len(series.classes))
    return {
        "source": source,
        "regions": sorted({str(r) for r in series.region}),
        "n_samples": len(series),
        "n_dropped": int(n_dropped),
        "class_counts": {c: int(k) for c, k in zip(series.classes, counts) if k},
        "seasons": {str(y): k for y, k in series.season_counts.items()},
    }


def table_spec(config: TrainConfig, series: SampleSeries) -> FeatureSpec:
    """The contract of ``config`` for ``series``: the table's class list and season (its own from
    ``sample --season-start/--window-days``, else the paper's), with the window and length ``config``
    gives (None: not given, the table's kept)."""
    return replace(config.feature_spec(table_season(series)), classes=series.classes)


def train(
    data: SampleSeries | str | os.PathLike,
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    zoo: Mapping[str, Path] | None = None,
    **options,
) -> TrainResult:
    """Train a model on a sample table (path or SampleSeries) and write it to ``out_dir``.

    ``options`` override fields of ``config`` (e.g. ``epochs=2, widths=(8, 16, 32, 64)``). Samples whose
    median series has too many gaps (``max_gap_bins``) are dropped, with a printed count. ``init_from``
    fine-tunes a model.pt (or a ``zoo`` name: name -> shipped ONNX file), see training/finetune.py.
    """
    given = explicit_options(config, options)
    config = replace(config or TrainConfig(), **options)
    init = None
    if config.init_from:  # fine-tuning: the source's architecture and contract, fine-tuning defaults
        init = load_source(config.init_from, zoo)
        config = finetune_config(config, init, given, table_rows(data))
    config = config.resolved()
    out_dir = Path(out_dir)
    source = "in-memory SampleSeries"
    if not isinstance(data, SampleSeries):
        source, data = str(data), read_table(data)
    series = data
    if len(series) == 0:
        raise SampleTableError(f"{source} holds no samples (0 rows); sample some with `gee-crop sample`")
    spec = table_spec(config, series)
    head = None
    if init is not None:  # the source's head, or a new one for the table's classes (training/finetune.py)
        head = plan_head(init, spec.classes, series.crop_class, config.freeze_encoder)
        spec = finetune_contract(spec, init, head)
        config = head_config(config, init, head, given)
    check_out_dir(out_dir, config, resume, overwrite)  # after the head: it sets options a checkpoint records
    if init is not None and head is not None:
        echo(describe(init, config, head))
        # the domain guard (models/domain.py): the table's places against where the source model trained
        echo(domain_report(init.path, init.meta, series.lon, series.lat, what="the table's samples").line)
    feats = series_features(series, spec, config.year)
    n_dropped = int((~feats.keep).sum())
    echo(
        f"{feats.seasons_text}; dropped {n_dropped} of {len(series)} samples with a gap longer than "
        f"{config.max_gap_bins} bins of {spec.season.window_days} days (--max-gap-bins)"
    )
    if not feats.keep.any():
        raise InputError(
            "no sample is left after dropping gap-heavy series; raise --max-gap-bins or "
            "--cloud-threshold, or check the season (--year)"
        )
    kept = replace(series, season_year=feats.years).subset(np.flatnonzero(feats.keep))  # each sample's own season
    values, labels = feats.values[feats.keep], kept.labels
    _check_classes(labels, source, spec.classes)
    train_idx, val_idx = stratified_split(labels, config.val_fraction, config.seed)
    if len(train_idx) == 0:
        raise InputError(
            f"only {len(labels)} usable sample(s), none left for training after the validation "
            "split; give more samples or lower --val-fraction"
        )
    contract = replace(spec, year_trained=feats.year)
    meta = {
        "train_config": {**config.to_dict(), "data": _data_summary(kept, source, n_dropped)},
        **(finetune_meta(init, head) if init is not None and head is not None else {}),
    }
    # where the model trained (models/domain.py): the domain guard of evaluate, map and --init-from
    footprint = footprint_of(kept.lon[train_idx], kept.lat[train_idx])
    if footprint is not None:
        meta[FOOTPRINT_KEY] = footprint.to_dict()
    # transfer risk (features/shift.py): the training inputs' distribution, scored by evaluate and map
    summary = fit_domain_summary(values[train_idx], median=contract.is_median)
    if summary is not None:
        meta["domain_summary"] = summary.to_dict()
    out_dir.mkdir(parents=True, exist_ok=True)
    run = PreparedRun(
        config, contract, kept, values, labels, train_idx, val_idx, feats.year, meta, out_dir, echo, init, head
    )
    path, metrics, history = fit_prepared(run, resume=resume and not overwrite, progress=progress)
    return TrainResult(path, metrics, history, len(train_idx), len(val_idx), n_dropped)


def fit_prepared(run: PreparedRun, *, resume: bool, progress: bool) -> tuple[Path, dict, list[dict]]:
    """Fit the run's architecture (RF-500 or a torch model) and write its files: (model path, metrics, history)."""
    if run.config.arch == Arch.RANDOM_FOREST:
        return _train_forest(run)
    return _train_torch(run, resume=resume, progress=progress)


@dataclass
class PreparedRun:
    """A prepared training run: kept samples, their features (n, 10, t) / (n, F), labels and split."""

    config: TrainConfig
    contract: FeatureSpec
    series: SampleSeries | None
    """The kept samples' series; None for flat vectors with no series behind them (EMIT medians): no augmentation."""
    values: np.ndarray
    labels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    year: int | None
    meta: dict
    out_dir: Path
    echo: Callable[[str], None]
    init_from: SourceModel | None = None
    head: NewHead | None = None

    def finish(self, path: Path, metrics: dict, history: list[dict]) -> tuple[Path, dict, list[dict]]:
        """Write config.json and history.csv beside the model file, print the summary line."""
        config = {**self.contract.to_meta(), **self.meta, "metrics": metrics}
        write_text_atomic(self.out_dir / "config.json", json.dumps(config, indent=2, default=str))
        write_text_atomic(self.out_dir / "history.csv", _history_csv(history))
        self.echo(_summary(metrics, path))
        return path, metrics, history


def _metrics(y_true: np.ndarray, proba: np.ndarray, n_train: int, classes: tuple[str, ...] = CLASSES) -> dict:
    if len(y_true) == 0:
        return {"validation": None, "n_train": n_train, "n_val": 0}
    report = classification_report(y_true, proba.argmax(axis=1), len(classes))
    return {"validation": report.to_dict(classes), "n_train": n_train, "n_val": len(y_true)}


def _train_forest(run: PreparedRun) -> tuple[Path, dict, list[dict]]:
    config, contract, labels = run.config, run.contract, run.labels
    train_idx, val_idx = run.train_idx, run.val_idx
    start = time.perf_counter()
    x = contract.model_input(run.values, flat=True)
    forest = fit_random_forest(x[train_idx], labels[train_idx], n_estimators=config.n_estimators, seed=config.seed)
    metrics = _metrics(
        labels[val_idx],
        forest_probabilities(forest, x[val_idx], len(contract.classes)),
        len(train_idx),
        contract.classes,
    )
    history = [
        {
            "epoch": 1,
            "train_loss": "",
            "val_loss": "",
            "val_oa": (metrics["validation"] or {}).get("overall_accuracy", ""),
            "val_macro_f1": (metrics["validation"] or {}).get("macro_f1", ""),
            "seconds": round(time.perf_counter() - start, 3),
        }
    ]
    path = save_forest(
        run.out_dir / "model.onnx",
        forest,
        {"n_estimators": config.n_estimators},
        contract,
        **run.meta,
        metrics=metrics,
        feature_importances=[float(v) for v in forest.feature_importances_],
    )
    return run.finish(path, metrics, history)


def _summary(metrics: dict, path: Path) -> str:
    val = metrics["validation"]
    if val is None:
        return f"saved {path} (no validation split)"
    return (
        f"validation OA {100 * val['overall_accuracy']:.2f} %, macro-F1 {100 * val['macro_f1']:.2f} % "
        f"on {metrics['n_val']} samples; saved {path}"
    )


def fit_options(
    config: TrainConfig,
    contract: FeatureSpec,
    device: torch.device,
    *,
    balanced: bool | None = None,
    mixed_precision: bool = False,
) -> FitOptions:
    """The fit loop's options of ``config`` for a model of ``contract`` on ``device``; ``balanced`` None: the
    config's ``balanced_sampling``."""
    return FitOptions(
        config.epochs,
        config.batch_size,
        config.learning_rate,
        config.seed,
        device,
        config.class_weights,
        len(contract.classes),
        config.balanced_sampling if balanced is None else balanced,
        mixed_precision,
    )


def _train_torch(run: PreparedRun, *, resume: bool, progress: bool) -> tuple[Path, dict, list[dict]]:
    """A torch architecture through the one fit loop; its initial weights come from ``seed``."""
    config, contract, values, labels = run.config, run.contract, run.values, run.labels
    train_idx, val_idx = run.train_idx, run.val_idx
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    if run.init_from is not None:  # fine-tuning: the source's weights, normalisation and input scaling
        kwargs, model = run.init_from.initial_model(config.dropout, run.head)
    else:
        kwargs = arch_kwargs(config.arch, contract, widths=config.widths, dropout=config.dropout)
        model = apply_input_scaling(build_model(config.arch, kwargs), contract.input_scaling)
        normalization_of(model).set_statistics(*normalization_stats(values[train_idx], contract))
    if run.series is None:  # flat vectors (EMIT medians): no series to augment
        batches = AugmentedBatches(None, values[train_idx], None, contract, None)
    else:
        augment = (
            {**asdict(AugmentConfig()), **config.augment_options} if config.augment and contract.is_median else None
        )
        assert run.series.season_year is not None  # the kept series carries each sample's season (feats.years)
        batches = AugmentedBatches(
            run.series.subset(train_idx), values[train_idx], run.series.season_year[train_idx], contract, augment
        )
    val_inputs, y_val = contract.model_input(values[val_idx]), labels[val_idx]
    options = fit_options(config, contract, device)
    loss = None
    if config.distill_from:
        weights = class_weights(labels[train_idx]) if config.class_weights else None
        loss = DistillationLoss(
            load_teacher(config.distill_from, contract), config.distill_temperature, config.distill_alpha, weights
        ).to(device)
    history = fit(
        model,
        batches,
        labels[train_idx],
        val_inputs,
        y_val,
        options,
        checkpoint=run.out_dir / CHECKPOINT_NAME,
        settings=resume_settings(config),
        resume=resume,
        progress=progress,
        echo=run.echo,
        loss=loss,
    )
    proba = (
        torch.softmax(logits_of(model, val_inputs, device, config.batch_size), dim=1).numpy()
        if len(val_idx)
        else np.zeros((0, len(contract.classes)), dtype=np.float32)
    )
    metrics = _metrics(y_val, proba, len(train_idx), contract.classes)
    path = save_model(run.out_dir / "model.pt", model, config.arch, kwargs, contract, **run.meta, metrics=metrics)
    return run.finish(path, metrics, history)
