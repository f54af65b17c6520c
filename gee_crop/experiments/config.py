"""The experiment file (YAML): which data, which transfers, which models, which seeds.

An experiment trains every model on the source of every transfer, once per seed, and scores it on
the transfer's target (METHOD.md "Evaluation"). Example (see ``experiments/ci_small.yaml``)::

    name: ci_small
    title: France -> Belgium on the shipped real data
    seeds: 3                      # or a list [0, 1, 2]; the paper uses 10
    data_dir: .                   # base of relative dataset paths (relative to this file)
    defaults: {max_gap_bins: 12}  # training options shared by every model
    datasets:
      FRA: {reader: worldcereal, path: "{shared_data}/wc-extractions/2023_FRA_LPIS_POLY_110_dekadal.geoparquet"}
      BEL: {reader: table, path: data/cropglobe/BEL.parquet, region: BEL}
      BEL_patch: {reader: patch, path: "{shared_data}/wc-gee-patches/0000280849BAC91C", region: BEL,
                  sampling: {buffer_m: 20, spacing_m: 30, per_cell: 400}}
    transfers:
      - {source: FRA, target: BEL}
      - {source: FRA, target: FRA, split: 0.2}   # in-region 80/20 random split, drawn per seed
    models:
      - name: CropNet 2D + aug
        arch: cropnet2d             # cropnet2d, cropnet1d, random_forest, resnet50, efficientnet_v2_s, convnext_tiny
        features: median2d          # median2d, median1d, harmonic, emit, emit_june, emit_august, emit_june_august
        augment: {shift: true, scale: true, warp: true}   # or true / false
        train: {epochs: 10, widths: [16, 32, 64, 128]}

``{shared_data}`` expands to the real-data folder the caller names (``shared_data``: a path, or a
function giving it, called only when a path uses the placeholder; ``gee-crop experiment`` passes the
shipped data folder). Validation is pure (no file is opened): :func:`load_experiment` raises
:class:`ExperimentConfigError` naming the key and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from gee_crop.config import EMIT_FEATURE_MONTHS, Arch, FeatureKind
from gee_crop.errors import ExperimentConfigError, TrainOptionError
from gee_crop.experiments.variants import VARIANT_KEYS
from gee_crop.models.registry import ARCHITECTURES
from gee_crop.training.trainer import TrainConfig
from gee_crop.types import SamplingRules

#: ``emit``: an EMIT table of ``gee-crop sample --emit`` (data/emit_table.py), for models on EMIT features
#: (experiments/emit_runs.py).
READERS = ("table", "worldcereal", "patch", "emit")
#: a baseline scored without training a model file: every target sample gets the training set's
#: most common class (the "majority-class row" of a results table).
MAJORITY = "majority"
#: EMIT hyperspectral features: ``emit`` (all the table's months) and the paper's sets (``gee-crop train
#: --features``: emit_june, emit_august, emit_june_august), on EMIT datasets only.
EMIT = "emit"
EMIT_FEATURES = (EMIT, *EMIT_FEATURE_MONTHS)
FEATURES = (*FeatureKind.values(), *EMIT_FEATURES)
ARCHS = (*Arch.values(), MAJORITY)


def _with_emit(kinds: tuple[FeatureKind, ...]) -> tuple[str, ...]:
    """The registry's feature kinds of an architecture; flat-feature models also take EMIT."""
    values = tuple(kind.value for kind in kinds)
    return values if FeatureKind.MEDIAN2D in kinds else (*values, *EMIT_FEATURES)


#: feature kinds each architecture accepts; the first is the default.
ARCH_FEATURES = {arch.value: _with_emit(record.features) for arch, record in ARCHITECTURES.items()}
SharedData = str | os.PathLike | Callable[[], Path] | None
#: augmentation transforms (METHOD.md "Augmentation") and their AugmentConfig probability fields.
TRANSFORMS = {"shift": "p_shift", "scale": "p_scale", "warp": "p_warp"}
#: transforms beyond the paper's (issue 12): off unless named, and absent from ``ModelSpec.augment`` when
#: off, so the fingerprints of runs made before they existed stay valid. ``augment: true`` = the paper's.
OPTIONAL_TRANSFORMS = {"dropout": "p_dropout"}
TRANSFORM_FIELDS = {**TRANSFORMS, **OPTIONAL_TRANSFORMS}
#: TrainConfig fields a model sets through keys of its own (``models[]``: arch, features, augment) and the
#: file's ``seeds``, by the key that sets them.
SET_BY_KEYS = {"arch": "arch", "feature_kind": "features", "augment": "augment", "seed": "seeds"}
#: TrainConfig fields that start from another model file: not experiment options, since a run's
#: fingerprint would hold the file's path, not its contents (a retrained teacher would reuse stale runs).
FROM_MODEL_FILES = ("distill_from", "distill_temperature", "distill_alpha", "init_from")
#: training options a model (or ``defaults``) may set: every other TrainConfig field, and ``ensemble``
#: (seed ensembles, made by the experiment runner). TrainConfig.resolved validates them.
TRAIN_OPTIONS = (
    *(f.name for f in fields(TrainConfig) if f.name not in SET_BY_KEYS and f.name not in FROM_MODEL_FILES),
    "ensemble",
)
SAMPLING_OPTIONS = (*SamplingRules.names(), "erode_by")
TOP_KEYS = (
    "name",
    "title",
    "table",
    "seeds",
    "data_dir",
    "defaults",
    "datasets",
    "transfers",
    "lodo",
    "models",
    "insight",
    "torch_threads",
    "notes",
    "class_f1",
)
LODO_KEYS = ("domains", "extra_targets")
#: Most seeds an experiment may list (the paper uses 10): a count is expanded into a list of seeds.
MAX_SEEDS = 1_000
#: Most training runs (models x transfers x seeds) one experiment file may hold: the paper's largest
#: table is a few hundred; thousands more would run for weeks and hold each run's record in memory.
MAX_RUNS = 10_000
INSIGHT_KEYS = ("figures", "cam_model", "tsne_samples", "cam_samples")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset: a sample table, a WorldCereal extraction or a labelled raster patch."""

    key: str
    reader: str
    path: Path
    region: str | None = None
    limit: int | None = None
    sampling: dict = field(default_factory=dict)
    tiles: tuple[str, ...] = ()
    variant: dict = field(default_factory=dict)
    relabel: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TransferSpec:
    """Train on ``source``, test on ``target``; ``split`` > 0 = in-region random split (test share).

    ``source`` may name several datasets joined by "+" (their union is the training set, e.g. the
    other domains of a leave-one-domain-out fold)."""

    source: str
    target: str
    split: float = 0.0
    label: str = ""

    @property
    def sources(self) -> tuple[str, ...]:
        """The datasets whose union is the training set."""
        return tuple(self.source.split("+"))

    @property
    def train_key(self) -> str:
        """What the model is trained on: the whole source, or its training part of a split."""
        return f"{self.source}_split{round(100 * self.split)}" if self.split else self.source

    @property
    def key(self) -> str:
        return f"{self.train_key}-{self.target}"


@dataclass(frozen=True)
class ModelSpec:
    """One row of the results table: an architecture, its features, augmentation and options."""

    name: str
    arch: str
    features: str
    augment: dict[str, bool]
    train: dict

    @property
    def key(self) -> str:
        """A file-system safe identifier derived from the name."""
        return re.sub(r"[^A-Za-z0-9]+", "_", self.name).strip("_").lower()

    @property
    def augmented(self) -> bool:
        return any(self.augment.values())

    def train_options(self) -> dict:
        """Options for ``gee_crop.training.trainer.train`` (augmentation as the trainer's fields)."""
        options = dict(self.train)
        probabilities = {
            TRANSFORM_FIELDS[t]: (options.get("augment_options", {}).get(TRANSFORM_FIELDS[t], 0.5) if on else 0.0)
            for t, on in self.augment.items()
        }
        options["augment"] = self.augmented
        options["augment_options"] = {**options.get("augment_options", {}), **probabilities}
        if "widths" in options:
            options["widths"] = tuple(options["widths"])
        return options


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment file."""

    name: str
    title: str
    table: str
    seeds: tuple[int, ...]
    datasets: dict[str, DatasetSpec]
    transfers: tuple[TransferSpec, ...]
    models: tuple[ModelSpec, ...]
    insight: dict
    torch_threads: int | None
    source_path: Path | None = None
    class_f1: tuple[str, ...] = ()

    def transfer_label(self, transfer: TransferSpec) -> str:
        """Column title: the label given, else SOURCE→TARGET (regions where known), "(80/20)" for splits."""
        if transfer.label:
            return transfer.label
        src = "+".join(self.datasets[s].region or s for s in transfer.sources)
        if transfer.split:
            return f"{src}→{src} ({round(100 * (1 - transfer.split))}/{round(100 * transfer.split)})"
        return f"{src}→{self.datasets[transfer.target].region or transfer.target}"


def _fail(where: str, problem: str, fix: str) -> ExperimentConfigError:
    return ExperimentConfigError(f"{where}: {problem}; {fix}")


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(
            where, f"expected a mapping (key: value), got {type(value).__name__}", "write it as YAML 'key: value' lines"
        )
    return value


def _keys(spec: type, *set_elsewhere: str) -> tuple[str, ...]:
    """The YAML keys of a spec: its dataclass fields but those set elsewhere."""
    return tuple(f.name for f in fields(spec) if f.name not in set_elsewhere)


def _check_keys(value: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(map(str, value)) - set(allowed))
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(unknown)}", f"use only {', '.join(allowed)}")


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, bool):
        value = None
    count = value if isinstance(value, int) else len(value) if isinstance(value, list) else 0
    if count > MAX_SEEDS:
        raise _fail(where, f"{count:,} seeds, above the {MAX_SEEDS} an experiment may run", "the paper uses 10")
    if isinstance(value, int) and value >= 1:
        return tuple(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        if len(set(value)) != len(value):
            raise _fail(where, f"repeated seed in {value}", "list each seed once")
        return tuple(value)
    raise _fail(
        where,
        f"{value!r} is not a seed count or a list of integer seeds",
        "write e.g. 'seeds: 3' or 'seeds: [0, 1, 2]'",
    )


def _resolve_path(raw: Any, base: Path, where: str, shared_data: SharedData) -> Path:
    if not isinstance(raw, str) or not raw:
        raise _fail(where, "path is missing", "give the file or folder of the dataset as 'path: ...'")
    if "{shared_data}" in raw:
        if shared_data is None:
            raise _fail(
                where,
                "the path uses {shared_data} but no shared-data folder was given",
                "run it with `gee-crop experiment` (or pass shared_data=...) or write the full path",
            )
        raw = raw.replace("{shared_data}", str(shared_data() if callable(shared_data) else shared_data))
    path = Path(os.path.expanduser(raw))
    return path if path.is_absolute() else base / path


def _dataset(key: str, value: Any, base: Path, shared_data: SharedData) -> DatasetSpec:
    where = f"datasets.{key}"
    if not _NAME.match(key):
        raise _fail(where, "dataset names may hold letters, digits, '_', '-' and '.' only", "rename it, e.g. BEL_patch")
    value = _mapping(value, where)
    _check_keys(value, _keys(DatasetSpec, "key"), where)
    reader = value.get("reader", "table")
    if reader not in READERS:
        raise _fail(where, f"reader {reader!r} is unknown", f"use one of {', '.join(READERS)}")
    region = value.get("region")
    if reader == "patch" and not region:
        raise _fail(where, "a raster patch carries no country code", "add 'region: ISO3' (e.g. BEL)")
    limit = value.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise _fail(
            where, f"limit {limit!r} is not a positive integer", "give the number of samples to keep or drop the key"
        )
    sampling = _mapping(value.get("sampling", {}), f"{where}.sampling")
    _check_keys(sampling, SAMPLING_OPTIONS, f"{where}.sampling")
    if sampling and reader != "patch":
        raise _fail(where, "'sampling' applies to raster patches only", "remove it or use 'reader: patch'")
    tiles = value.get("tiles", [])
    if not isinstance(tiles, list) or not all(isinstance(t, str) and t for t in tiles):
        raise _fail(where, f"tiles {tiles!r} is not a list of Sentinel-2 tile names", "write e.g. 'tiles: [30UYU]'")
    if tiles and reader != "worldcereal":
        raise _fail(
            where,
            "'tiles' selects samples by the tile column of a WorldCereal extraction",
            "remove it or use 'reader: worldcereal'",
        )
    return DatasetSpec(
        key,
        reader,
        _resolve_path(value.get("path"), base, where, shared_data),
        str(region).upper() if region else None,
        limit,
        dict(sampling),
        tuple(tiles),
        _variant(value.get("variant", {}), f"{where}.variant"),
        _relabel(value.get("relabel", {}), f"{where}.relabel"),
    )


def _relabel(value: Any, where: str) -> dict:
    value = dict(_mapping(value, where))
    bad = [k for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise _fail(
            where, f"{bad[0]!r} must map a class name to a class name", "write e.g. 'relabel: {soybeans: other}'"
        )
    return value


def _variant(value: Any, where: str) -> dict:
    value = dict(_mapping(value, where))
    _check_keys(value, VARIANT_KEYS, where)
    for key in ("thin_days", "move_days"):
        if key in value and (
            not isinstance(value[key], int) or isinstance(value[key], bool) or (key == "thin_days" and value[key] < 1)
        ):
            raise _fail(where, f"{key} {value[key]!r} is not a whole number of days", f"write e.g. '{key}: 30'")
    months = value.get("drop_months", [])
    if not isinstance(months, list) or not all(isinstance(m, int) and 1 <= m <= 12 for m in months):
        raise _fail(
            where, f"drop_months {months!r} is not a list of calendar months 1-12", "write e.g. 'drop_months: [6, 7]'"
        )
    return value


def _transfer(i: int, value: Any, datasets: dict) -> TransferSpec:
    where = f"transfers[{i}]"
    value = dict(_mapping(value, where))
    _check_keys(value, _keys(TransferSpec), where)
    sources = value.get("source")
    if isinstance(sources, list):
        if not sources or len(set(map(str, sources))) != len(sources):
            raise _fail(where, f"source {sources!r} must list distinct datasets", "name each training dataset once")
        if value.get("target") in sources:
            raise _fail(
                where,
                f"target {value['target']!r} is also a source",
                "leave the target out of the training datasets (or use 'split')",
            )
        bad = [s for s in sources if s not in datasets]
        if bad:
            raise _fail(where, f"source {bad[0]!r} is not a dataset", f"use datasets of {', '.join(datasets)}")
        value["source"] = "+".join(map(str, sources))
        sources = [value["source"].split("+")[0]]
    else:
        sources = [sources]
    for side, name in (("source", sources[0]), ("target", value.get("target"))):
        if name not in datasets:
            raise _fail(
                where,
                f"{side} {name!r} is not a dataset",
                f"use one of {', '.join(datasets)} or add it under 'datasets'",
            )
    split = value.get("split", 0.0) or 0.0
    if not isinstance(split, (int, float)) or not 0 <= split < 1:
        raise _fail(where, f"split {split!r} is not a test share in (0, 1)", "write e.g. 'split: 0.2' for 80/20")
    if split and value["source"] != value["target"]:
        raise _fail(
            where,
            "a split tests on held-out samples of the source itself",
            "set target to the source for an in-region split, or remove 'split'",
        )
    if not split and value["source"] == value["target"]:
        raise _fail(
            where,
            "training and testing on the same samples measures nothing",
            "add 'split: 0.2' for the paper's 80/20 in-region split",
        )
    return TransferSpec(value["source"], value["target"], float(split), str(value.get("label", "")))


def _augment(value: Any, where: str) -> dict[str, bool]:
    if isinstance(value, bool):
        return {t: value for t in TRANSFORMS}
    value = _mapping(value, where)
    _check_keys(value, tuple(TRANSFORM_FIELDS), where)
    bad = [k for k, v in value.items() if not isinstance(v, bool)]
    if bad:
        raise _fail(
            where,
            f"{', '.join(bad)} must be true or false",
            "write e.g. 'augment: {shift: true, scale: false, warp: false, dropout: true}'",
        )
    return {
        **{t: bool(value.get(t, False)) for t in TRANSFORMS},
        **{t: True for t in OPTIONAL_TRANSFORMS if value.get(t)},
    }


def _train_options(value: Any, where: str) -> dict:
    """The ``train`` mapping of a model or ``defaults``: known keys only; values are checked per model by
    :func:`_check_train` (TrainConfig's validator), where the architecture and features are known."""
    value = dict(_mapping(value, where))
    _check_keys(value, TRAIN_OPTIONS, where)
    return value


def _option_where(option: str, where: str, own: dict, defaults: dict) -> str:
    """The YAML key path of the TrainConfig field ``option`` in model ``where``."""
    if option in own:
        return f"{where}.train.{option}"
    if option in defaults:
        return f"defaults.{option} (for {where})"
    if option in SET_BY_KEYS and SET_BY_KEYS[option] != "seeds":
        return f"{where}.{SET_BY_KEYS[option]}"
    return f"{where}.augment" if option == "augment_options" else where


def _check_train(spec: ModelSpec, where: str, own: dict, defaults: dict) -> None:
    """Validate a model's training options with ``TrainConfig.resolved`` (the trainer's own check, so the
    file and ``gee-crop train`` cannot disagree); its error is raised again at the key that holds the
    option. The majority class trains nothing and reads only the feature options: they are checked as
    for a network on 2D medians, which accepts every value some network does."""
    options = {k: v for k, v in spec.train_options().items() if k != "ensemble"}
    arch, features = (spec.arch, spec.features) if spec.arch != MAJORITY else (Arch.CROPNET2D.value, "median2d")
    try:
        TrainConfig(arch=arch, feature_kind=None if features in EMIT_FEATURES else features, **options).resolved()
    except TrainOptionError as exc:
        raise ExperimentConfigError(f"{_option_where(exc.option, where, own, defaults)}: {exc}") from None


def _model(i: int, value: Any, defaults: dict) -> ModelSpec:
    where = f"models[{i}]"
    value = _mapping(value, where)
    _check_keys(value, _keys(ModelSpec), where)
    arch = value.get("arch")
    if arch not in ARCHS:
        raise _fail(where, f"arch {arch!r} is unknown", f"use one of {', '.join(ARCHS)}")
    own = _train_options(value.get("train", {}), f"{where}.train")
    train = {**defaults, **own}
    if arch == MAJORITY:
        if value.get("augment"):
            raise _fail(where, "the majority-class baseline trains nothing", "remove 'augment'")
        # on EMIT tables the feature set says which samples are scored (those present in its months)
        kind = value["features"] if value.get("features") in EMIT_FEATURES else "median1d"
        spec = ModelSpec(
            str(value.get("name") or "majority class"), MAJORITY, kind, {t: False for t in TRANSFORMS}, train
        )
        _check_train(spec, where, own, defaults)
        return spec
    features = value.get("features", ARCH_FEATURES[arch][0])
    if features not in ARCH_FEATURES[arch]:
        raise _fail(where, f"{arch} cannot use {features!r} features", f"use one of {', '.join(ARCH_FEATURES[arch])}")
    augment = _augment(value.get("augment", False), f"{where}.augment")
    if any(augment.values()) and features not in ("median2d", "median1d"):
        raise _fail(
            where,
            f"augmentation recomputes medians and does not apply to {features!r} features",
            "set 'augment: false' for this model",
        )
    if any(augment.values()) and arch == "random_forest":
        raise _fail(
            where,
            "the Random Forest is fitted once on fixed features; augmentation is for CNN training",
            "set 'augment: false' for this model",
        )
    name = value.get("name") or f"{arch} {features}{' + aug' if any(augment.values()) else ''}"
    spec = ModelSpec(str(name), arch, features, augment, train)
    _check_train(spec, where, own, defaults)
    members = train.get("ensemble", 1)
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        raise _fail(where, f"ensemble {members!r} is not a member count", "write e.g. 'ensemble: 3'")
    if members > 1 and arch == "random_forest":
        raise _fail(where, "a forest is already an ensemble of trees", "remove 'ensemble' or raise n_estimators")
    return spec


def parse_experiment(
    raw: Any,
    base_dir: Path,
    source_path: Path | None = None,
    data_dir: str | os.PathLike | None = None,
    shared_data: SharedData = None,
) -> ExperimentConfig:
    """Validate a decoded experiment mapping; relative dataset paths resolve against ``data_dir``
    (default: the file's ``data_dir`` key, relative to ``base_dir``, else ``base_dir``); ``{shared_data}``
    expands to ``shared_data``. Errors name the file (``source_path``) and the key: ``x.yaml:
    models[2].train.learning_rate: ...``."""
    try:
        return _parse(raw, base_dir, source_path, data_dir, shared_data)
    except ExperimentConfigError as exc:
        if source_path is None or str(exc).startswith(f"{source_path}: "):
            raise
        raise ExperimentConfigError(f"{source_path}: {exc}") from None


def _parse(
    raw: Any, base_dir: Path, source_path: Path | None, data_dir: str | os.PathLike | None, shared_data: SharedData
) -> ExperimentConfig:
    where = str(source_path or "experiment")
    raw = _mapping(raw, where)
    _check_keys(raw, TOP_KEYS, where)
    for key in ("datasets", "models"):
        if not raw.get(key):
            raise _fail(where, f"'{key}' is missing or empty", "see docs/experiments.md for a complete example")
    if not raw.get("transfers") and not raw.get("lodo"):
        raise _fail(
            where, "'transfers' (or 'lodo') is missing or empty", "see docs/experiments.md for a complete example"
        )
    base = Path(data_dir) if data_dir is not None else base_dir / str(raw.get("data_dir", "."))
    datasets = {
        str(k): _dataset(str(k), v, base, shared_data) for k, v in _mapping(raw["datasets"], "datasets").items()
    }
    listed = raw.get("transfers") or []
    if not isinstance(listed, list) or not isinstance(raw["models"], list):
        raise _fail(where, "'transfers' and 'models' must be lists", "write each entry on a '- ' line")
    listed = listed + _lodo_transfers(raw.get("lodo"), datasets)
    transfers = tuple(_transfer(i, t, datasets) for i, t in enumerate(listed))
    if len({t.key for t in transfers}) != len(transfers):
        raise _fail("transfers", "a transfer is listed twice", "list each (source, target, split) once")
    defaults = _train_options(raw.get("defaults", {}), "defaults")
    models = tuple(_model(i, m, defaults) for i, m in enumerate(raw["models"]))
    keys = [m.key for m in models]
    if len(set(keys)) != len(keys):
        raise _fail("models", f"two models share a name ({keys})", "give every model a distinct 'name'")
    insight = _mapping(raw.get("insight", {}), "insight")
    _check_keys(insight, INSIGHT_KEYS, "insight")
    if insight.get("cam_model") and insight["cam_model"] not in [m.name for m in models]:
        raise _fail(
            "insight.cam_model", f"{insight['cam_model']!r} is not a model name", "use the 'name' of a cropnet2d model"
        )
    threads = raw.get("torch_threads")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise _fail("torch_threads", f"{threads!r} is not a positive integer", "remove it or give e.g. 1")
    seeds = _seeds(raw.get("seeds", 3), "seeds")
    runs = len(models) * len(transfers) * len(seeds)
    if runs > MAX_RUNS:
        raise _fail(
            where,
            f"{len(models)} models x {len(transfers)} transfers x {len(seeds)} seeds = {runs:,} training runs, above "
            f"the {MAX_RUNS:,} an experiment may hold",
            "split it into several experiment files, or use fewer seeds, models or transfers",
        )
    name = str(raw.get("name") or (source_path.stem if source_path else "experiment"))
    class_f1 = raw.get("class_f1", [])
    if not isinstance(class_f1, list) or not all(isinstance(c, str) for c in class_f1):
        raise _fail("class_f1", f"{class_f1!r} is not a list of class names", "write e.g. 'class_f1: [corn]'")
    return ExperimentConfig(
        name,
        str(raw.get("title", name)),
        str(raw.get("table", "")),
        seeds,
        datasets,
        transfers,
        models,
        dict(insight),
        threads,
        source_path,
        tuple(class_f1),
    )


def _lodo_transfers(value: Any, datasets: dict) -> list[dict]:
    """The transfers of a leave-one-domain-out benchmark: each domain in turn is the target and the
    union of the others the training set; ``extra_targets`` (domain: [datasets]) are scored by the
    same fold's model (tile subsets, controlled shifts of that domain)."""
    if value is None:
        return []
    value = _mapping(value, "lodo")
    _check_keys(value, LODO_KEYS, "lodo")
    domains = value.get("domains")
    if not isinstance(domains, list) or len(domains) < 3 or len(set(domains)) != len(domains):
        raise _fail(
            "lodo.domains",
            f"{domains!r} is not a list of at least three distinct datasets",
            "list the domains, e.g. 'domains: [FRA23, FRA22, BEL21, BEL_patch]'",
        )
    unknown = [d for d in domains if d not in datasets]
    if unknown:
        raise _fail("lodo.domains", f"{unknown[0]!r} is not a dataset", f"use datasets of {', '.join(datasets)}")
    extra = _mapping(value.get("extra_targets", {}), "lodo.extra_targets")
    for domain, targets in extra.items():
        if domain not in domains or not isinstance(targets, list):
            raise _fail(
                "lodo.extra_targets",
                f"{domain!r} must be a domain with a list of datasets",
                "write e.g. 'FRA23: [FRA23_30UYU, FRA23_thin30]'",
            )
    transfers = []
    for target in domains:
        sources = [d for d in domains if d != target]
        for scored in [target, *extra.get(target, [])]:
            transfers.append({"source": sources, "target": scored, "label": f"LODO→{scored}"})
    return transfers


def load_experiment(
    path: str | os.PathLike, *, data_dir: str | os.PathLike | None = None, shared_data: SharedData = None
) -> ExperimentConfig:
    """Read and validate an experiment YAML file (ExperimentConfigError naming the problem and fix)."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentConfigError(
            f"experiment file {path} does not exist; give a YAML file such as experiments/ci_small.yaml"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ExperimentConfigError(
            f"{path} is not valid YAML{at}; fix the syntax ({str(exc).splitlines()[0]})"
        ) from None
    return parse_experiment(raw, path.resolve().parent, path, data_dir, shared_data)
