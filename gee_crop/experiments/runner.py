"""Running an experiment: every model x transfer x seed, resumable, then tables and figures.

Layout of the output folder::

    models/<model>/<training set>/seed<k>/   model.pt | model.onnx (+ trainer files)
    runs/<model>/<transfer>/seed<k>.json     one finished (combination, seed): scores + settings
    ledger.json                              the run ledger: each model and result, its checksum and
                                             the fingerprint of the settings that made it
    results.json                             every raw number, in config order
    table.md, table.csv                      mean ± std OA and macro-F1 (tables.py)
    figures/                                 insight plots (insight.py), PNG + SVG

A model is trained once per (model, training set, seed) and scored on every target of that
training set. A rerun skips each (combination, seed) the ledger holds with the same fingerprint
(a hash of the settings that produced it) and an intact file, reuses a trained model whose settings
match, and redoes anything whose settings or file changed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from gee_crop.atomic import write_text_atomic
from gee_crop.config import Arch
from gee_crop.data.emit_table import EmitTable
from gee_crop.experiments.baselines import majority_evaluation
from gee_crop.experiments.config import (
    EMIT,
    MAJORITY,
    ExperimentConfig,
    ModelSpec,
    SharedData,
    TransferSpec,
    load_experiment,
)
from gee_crop.experiments.datasets import load_dataset, load_emit_dataset, region_code, transfer_data, union
from gee_crop.experiments.emit_runs import (
    check_emit_config,
    emit_transfer_data,
    majority_emit_evaluation,
    train_emit_model,
)
from gee_crop.experiments.insight import make_figures
from gee_crop.experiments.layout import LEDGER_FILE, fingerprint, model_dir, result_path
from gee_crop.experiments.tables import write_tables
from gee_crop.export.cards import record_transfer_scores
from gee_crop.export.ensemble import export_ensemble
from gee_crop.ledger import RunLedger
from gee_crop.models.cropnet import count_parameters
from gee_crop.models.device import resolve_device
from gee_crop.models.io import load_model
from gee_crop.training.emit import evaluate_emit_model
from gee_crop.training.evaluate import evaluate_model
from gee_crop.training.trainer import train
from gee_crop.types import SampleSeries
from gee_crop.viz.text import for_terminal

#: member j of seed s of an ``ensemble: k`` model trains with seed ENSEMBLE_SEED_STRIDE * s + j.
ENSEMBLE_SEED_STRIDE = 1000


@dataclass
class ExperimentRun:
    """Where an experiment's outputs are and what it computed."""

    out_dir: Path
    results: list[dict]
    n_computed: int
    n_skipped: int
    tables: dict[str, Path]
    figures: list[Path]


class _Data:
    """Datasets loaded on first use, once per experiment."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self._cache: dict[str, SampleSeries] = {}
        self._emit: dict[str, EmitTable] = {}

    def __getitem__(self, key: str) -> SampleSeries:
        """A dataset, or the union of several joined by "+" (a multi-domain training set)."""
        if key not in self._cache:
            parts = key.split("+")
            self._cache[key] = (
                load_dataset(self.config.datasets[key]) if len(parts) == 1 else union([self[part] for part in parts])
            )
        return self._cache[key]

    def emit(self, key: str) -> EmitTable:
        """An EMIT dataset (one table: check_emit_config refuses unions of them)."""
        if key not in self._emit:
            self._emit[key] = load_emit_dataset(self.config.datasets[key])
        return self._emit[key]

    def is_emit(self, key: str) -> bool:
        return any(self.config.datasets[part].reader == EMIT for part in key.split("+"))

    def region(self, key: str) -> str | None:
        """The region of a dataset; of a union, the region all its datasets share (else None)."""
        if self.is_emit(key):
            return self.config.datasets[key].region
        regions = {region_code(self[part], self.config.datasets[part]) for part in key.split("+")}
        return regions.pop() if len(regions) == 1 else None


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _training_fingerprint(config: ExperimentConfig, model: ModelSpec, transfer: TransferSpec, seed: int) -> str:
    sources = [asdict(config.datasets[key]) for key in transfer.sources]
    return fingerprint(
        asdict(model), sources[0] if len(sources) == 1 else sources, transfer.train_key, transfer.split, seed
    )


def _train(model: ModelSpec, train_series: SampleSeries, folder: Path, seed: int, echo: Callable[[str], None]) -> Path:
    """Train the model of one (training set, seed); with ``ensemble: k``, k members (seeds
    ``ENSEMBLE_SEED_STRIDE * seed + j``) exported as one ONNX graph that averages their probabilities."""
    options = {**model.train_options(), "seed": seed}
    members = int(options.pop("ensemble", 1))

    def fit(out: Path, member_seed: int) -> Path:
        return train(
            train_series,
            out,
            overwrite=True,
            progress=False,
            echo=echo,
            arch=model.arch,
            feature_kind=model.features,
            **{**options, "seed": member_seed},
        ).model_path

    if members == 1:
        return fit(folder, seed)
    paths = [fit(folder / f"member{j}", ENSEMBLE_SEED_STRIDE * seed + j) for j in range(members)]
    return export_ensemble(paths, folder / "model.onnx", overwrite=True)


def _evaluate(model: ModelSpec, path: Path, test: SampleSeries, target_region: str | None, source_region: str | None):
    # score on the device the model trained on (a GPU for the paper-size baselines)
    device = str(resolve_device(str(model.train.get("device", "auto"))))
    return evaluate_model(path, test, target_region=target_region, source_region=source_region, device=device)


def n_parameters(model: ModelSpec, path: Path | None) -> int | None:
    """Trainable parameters of a trained network, all members of an ensemble together (None for the
    Random Forest and the majority class)."""
    if model.arch in (Arch.RANDOM_FOREST, MAJORITY) or path is None:
        return None
    if path.suffix == ".onnx":
        return sum(count_parameters(load_model(m)[0]) for m in sorted(path.parent.glob("member*/model.pt"))) or None
    return count_parameters(load_model(path)[0])


def _unit(out_dir: Path, path: Path) -> str:
    return path.relative_to(out_dir).as_posix()


def _combination_seed(
    config: ExperimentConfig,
    data: _Data,
    ledger: RunLedger,
    model: ModelSpec,
    transfers: list[TransferSpec],
    seed: int,
    echo: Callable[[str], None],
) -> int:
    """Train (or reuse) one model and score every pending transfer of its training set; returns the
    number of results computed. The ledger keeps each trained model and result with the fingerprint
    of its settings: a changed setting redoes just the runs it touches."""
    out_dir = ledger.folder
    train_fp = _training_fingerprint(config, model, transfers[0], seed)
    pending = []
    for transfer in transfers:
        fp = fingerprint(train_fp, asdict(config.datasets[transfer.target]))
        path = result_path(out_dir, model, transfer, seed)
        if not ledger.is_done(_unit(out_dir, path), fingerprint=fp):
            pending.append((transfer, fp, path))
    if not pending:
        return 0
    if data.is_emit(transfers[0].source):  # EMIT tables (experiments/emit_runs.py)
        return _emit_results(_Cell(config, data, ledger, model, transfers[0], seed, echo), pending, train_fp)
    folder = model_dir(out_dir, model, transfers[0], seed)
    model_unit = _unit(out_dir, folder)
    source = data[transfers[0].source]
    source_region = data.region(transfers[0].source)
    train_seconds = 0.0
    if model.arch == MAJORITY:
        return _majority_results(_Cell(config, data, ledger, model, transfers[0], seed, echo), pending)
    model_path = ledger.output_path(model_unit) if ledger.is_done(model_unit, fingerprint=train_fp) else None
    if model_path is None:
        train_series, _ = transfer_data(transfers[0], source, source, seed)
        echo(f"[{model.name} | {transfers[0].train_key} | seed {seed}] training on {len(train_series)} samples")
        start = time.perf_counter()
        model_path = _train(model, train_series, folder, seed, lambda line: echo(f"  {line}"))
        train_seconds = time.perf_counter() - start
    params = n_parameters(model, model_path)
    scores = []
    for transfer, fp, path in pending:
        _, test = transfer_data(transfer, source, data[transfer.target], seed)
        start = time.perf_counter()
        evaluation = _evaluate(model, model_path, test, data.region(transfer.target), source_region)
        result = _result_record(
            config,
            model,
            transfer,
            seed,
            fp,
            params,
            train_seconds,
            time.perf_counter() - start,
            str(model_path.relative_to(out_dir)),
            evaluation,
        )
        write_text_atomic(path, json.dumps(result, indent=1))
        ledger.finish(_unit(out_dir, path), path, fingerprint=fp)
        scores.append(result)
        echo(_score_line(model, result, seed))
    record_transfer_scores(model_path, scores)
    ledger.finish(model_unit, model_path, fingerprint=train_fp)  # after the card update: its final checksum
    return len(pending)


@dataclass(frozen=True)
class _Cell:
    """One (model, training set, seed) of an experiment: what scoring its pending transfers needs."""

    config: ExperimentConfig
    data: _Data
    ledger: RunLedger
    model: ModelSpec
    first: TransferSpec
    """The first transfer of the training set (its source and split make the training data)."""
    seed: int
    echo: Callable[[str], None]

    def __iter__(self) -> Iterator:
        """The fields in order (a shallow unpacking: the datasets and the ledger are shared, not copied)."""
        return iter((self.config, self.data, self.ledger, self.model, self.first, self.seed, self.echo))


def _emit_results(cell: _Cell, pending: list, train_fp: str) -> int:
    """Train (or reuse) one model on an EMIT training table and score every pending transfer of it; the
    majority-class row trains nothing."""
    config, data, ledger, model, first, seed, echo = cell
    out_dir = ledger.folder
    source = data.emit(first.source)
    train_table, _ = emit_transfer_data(first, source, source, seed)
    folder = model_dir(out_dir, model, first, seed)
    model_unit = _unit(out_dir, folder)
    model_path: Path | None = None
    train_seconds = 0.0
    if model.arch != MAJORITY:
        model_path = ledger.output_path(model_unit) if ledger.is_done(model_unit, fingerprint=train_fp) else None
        if model_path is None:
            echo(f"[{model.name} | {first.train_key} | seed {seed}] training on {train_table.n_samples} EMIT samples")
            start = time.perf_counter()
            options = {**model.train_options(), "seed": seed}
            options.pop("ensemble", None)
            model_path = train_emit_model(model, train_table, folder, options, lambda line: echo(f"  {line}"))
            train_seconds = time.perf_counter() - start
    params = n_parameters(model, model_path)
    scores = []
    for transfer, fp, path in pending:
        _, test = emit_transfer_data(transfer, source, data.emit(transfer.target), seed)
        start = time.perf_counter()
        if model_path is None:
            evaluation = majority_emit_evaluation(model, train_table, test)
        else:
            device = str(resolve_device(str(model.train.get("device", "auto"))))
            evaluation = evaluate_emit_model(model_path, test, device=device)
        evaluation = replace(
            evaluation, source_region=data.region(first.source), target_region=data.region(transfer.target)
        )
        shown = None if model_path is None else str(model_path.relative_to(out_dir))
        result = _result_record(
            config, model, transfer, seed, fp, params, train_seconds, time.perf_counter() - start, shown, evaluation
        )
        write_text_atomic(path, json.dumps(result, indent=1))
        ledger.finish(_unit(out_dir, path), path, fingerprint=fp)
        scores.append(result)
        echo(_score_line(model, result, seed))
    if model_path is not None:
        record_transfer_scores(model_path, scores)
        ledger.finish(model_unit, model_path, fingerprint=train_fp)
    return len(pending)


def _score_line(model: ModelSpec, result: dict, seed: int) -> str:
    head = f"[{model.name} | {result['transfer']} | seed {seed}]"
    if result.get("overall_accuracy") is None:
        return (
            f"{head} no sample scored: all {result['n_table_samples']} target samples have gaps longer than "
            "max_gap_bins or were aligned out"
        )
    return (
        f"{head} OA {100 * result['overall_accuracy']:.2f} %, macro-F1 {100 * result['macro_f1']:.2f} % "
        f"on {result['n_samples']} samples"
    )


def _result_record(
    config: ExperimentConfig,
    model: ModelSpec,
    transfer: TransferSpec,
    seed: int,
    fp: str,
    params: int | None,
    train_seconds: float,
    eval_seconds: float,
    model_path: str | None,
    evaluation,
) -> dict:
    return {
        "model": model.name,
        "model_key": model.key,
        "arch": model.arch,
        "features": model.features,
        "augment": model.augment,
        "transfer": config.transfer_label(transfer),
        "transfer_key": transfer.key,
        "source": transfer.source,
        "target": transfer.target,
        "split": transfer.split,
        "seed": seed,
        "fingerprint": fp,
        "n_parameters": params,
        "train_seconds": round(train_seconds, 3),
        "eval_seconds": round(eval_seconds, 3),
        "model_path": model_path,
        **evaluation.to_dict(),
    }


def _majority_results(cell: _Cell, pending: list) -> int:
    """Score the majority-class baseline on every pending transfer of one training set."""
    config, data, ledger, model, first, seed, echo = cell
    source = data[first.source]
    train_series, _ = transfer_data(first, source, source, seed)
    for transfer, fp, path in pending:
        _, test = transfer_data(transfer, source, data[transfer.target], seed)
        start = time.perf_counter()
        evaluation = majority_evaluation(
            train_series,
            test,
            model.train_options(),
            target_region=data.region(transfer.target),
            source_region=data.region(first.source),
        )
        result = _result_record(
            config, model, transfer, seed, fp, None, 0.0, time.perf_counter() - start, None, evaluation
        )
        write_text_atomic(path, json.dumps(result, indent=1))
        ledger.finish(_unit(ledger.folder, path), path, fingerprint=fp)
        echo(_score_line(model, result, seed))
    return len(pending)


def collect_results(config: ExperimentConfig, out_dir: Path, seeds: tuple[int, ...]) -> list[dict]:
    """Every finished result of the experiment, in config order (models, transfers, seeds)."""
    results = []
    for model in config.models:
        for transfer in config.transfers:
            for seed in seeds:
                path = result_path(out_dir, model, transfer, seed)
                if path.is_file():
                    results.append(json.loads(path.read_text()))
    return results


def run_experiment(
    config: ExperimentConfig | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    seeds: tuple[int, ...] | None = None,
    figures: bool | None = None,
    shared_data: SharedData = None,
    echo: Callable[[str], None] = print,
) -> ExperimentRun:
    """Run (or resume) an experiment into ``out_dir``; ``seeds`` overrides the file's seeds,
    ``figures`` its ``insight.figures`` (default true); ``shared_data`` expands ``{shared_data}`` in
    the dataset paths of a config file. Every line goes to ``echo`` through ``for_terminal``: names and
    titles come from the experiment file, and an escape sequence in one would drive the user's terminal."""
    shown = echo
    echo = lambda line: shown(for_terminal(line, newlines=True))  # noqa: E731
    if not isinstance(config, ExperimentConfig):
        config = load_experiment(config, shared_data=shared_data)
    check_emit_config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = tuple(seeds) if seeds else config.seeds
    data = _Data(config)
    groups: dict[str, list[TransferSpec]] = {}
    for transfer in config.transfers:
        groups.setdefault(transfer.train_key, []).append(transfer)
    n_total = len(config.models) * len(config.transfers) * len(seeds)
    ledger = RunLedger.open(out / LEDGER_FILE, {"run": "gee-crop experiment"}, units="runs")
    computed = 0
    with _torch_threads(config.torch_threads):
        for model in config.models:
            for transfers in groups.values():
                for seed in seeds:
                    computed += _combination_seed(config, data, ledger, model, transfers, seed, echo)
    results = collect_results(config, out, seeds)
    summary = {
        "name": config.name,
        "title": config.title,
        "table": config.table,
        "seeds": list(seeds),
        "config_file": str(config.source_path) if config.source_path else None,
        "models": [asdict(m) for m in config.models],
        "transfers": [{**asdict(t), "label": config.transfer_label(t)} for t in config.transfers],
        "class_f1": list(config.class_f1),
        "results": results,
    }
    write_text_atomic(out / "results.json", json.dumps(summary, indent=1))
    tables = write_tables(summary, out)
    figure_paths: list[Path] = []
    emit_only = all(data.is_emit(t.source) for t in config.transfers)
    if emit_only:  # the figures read Sentinel-2 series (NDVI curves, t-SNE, CAM)
        figures = False
    if config.insight.get("figures", True) if figures is None else figures:
        with _torch_threads(config.torch_threads):
            figure_paths = make_figures(config, summary, out, data, echo=echo)
    echo(
        f"{computed} of {n_total} (combination, seed) results computed, {n_total - computed} reused; "
        f"tables in {tables['markdown']}"
    )
    return ExperimentRun(out, results, computed, n_total - computed, tables, figure_paths)
