"""Few labels of your own: a learning curve per target domain of the leave-one-domain-out benchmark.

One command reproduces the table (from the repository root; resumable: finished cells are skipped)::

    .venv/bin/python experiments/transfer_fewshot.py                                  # 3 seeds, 4 targets
    .venv/bin/python experiments/transfer_fewshot.py --seeds 1 --epochs 3 --targets "BEL 2021"   # a check

For each target domain (France 2023 dekadal, France 2022 monthly, Belgium 2021 monthly: WorldCereal
extractions in ``../shared/data/wc-extractions``; the Flanders 2019 Earth Engine patch, sampled with
the CI experiment's rules) and each seed:

* a **source** CropNet 2D is trained on the union of the *other* domains (CI-size settings of
  ``experiments/ci_small.yaml``: widths 16-32-64-128, max gap 12 bins, lr 0.003, batch 64; plus
  class weights, no augmentation and smooth input scaling as the zoo recipe ``models/train_zoo.py``;
  no validation split);
* the target's usable samples (those the gap rule keeps) are split per seed, stratified by class,
  into a **test** half and a **pool** half; from the pool, n in N_LABELS samples are drawn
  (:func:`stratified_draw`; n is capped at the pool's size, and a capped n is run once);
* three models use those n samples: **fine-tuned** (``train(init_from=source)``, the library's
  fine-tuning defaults: training/finetune.py; n = 0 is the source model as it is), **scratch**
  (CropNet 2D with the source's settings on the n samples alone, ``--epochs``) and **RF-500** (on
  the flattened medians of the same samples);
* each is scored on the test half: OA, macro-F1 (classes present in the truth) and corn F1.

Classes: corn, wheat and other (rarer classes, e.g. 13 soybeans in France 2023, are folded into
other as in the zoo recipe), and every model's prediction is the most probable of those three.
Dates: each domain is moved onto the COMMON_YEAR calendar by the days between its season start and
COMMON_YEAR's, so one season year fits every domain (features are days since the season start: the
move changes nothing else; samples also get ``season_year`` COMMON_YEAR where the table keeps one).

Outputs under ``--work`` (default: the folder of ``--out``), in a subfolder per epochs setting:
``results/*.json`` (one per target, n,
method and seed, written atomically), ``sources/`` (the source models) and the Markdown table
``--out`` (mean +- std over seeds), whose header states the CPU time spent on the cells it shows.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gee_crop.atomic import write_json_atomic, write_text_atomic
from gee_crop.classes import CLASSES, OTHER
from gee_crop.data.sampling import sample_from_files
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.features.seasons import infer_season_year
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.forest import RF_TREES, fit_random_forest, forest_probabilities
from gee_crop.models.io import load_model
from gee_crop.season import Season
from gee_crop.testing.paths import shared_data_dir
from gee_crop.training.dataset import series_features
from gee_crop.training.loop import logits_of
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import train
from gee_crop.types import SampleSeries, SamplingRules, concat

#: target sample counts of the curve.
N_LABELS = (0, 20, 50, 100, 200)
#: share of a target's usable samples kept for testing (stratified per seed).
TEST_SHARE = 0.5
#: the classes every model predicts among (the others are folded into "other").
KEPT = ("corn", "wheat", OTHER)
COMMON_YEAR = 2023
METHODS = ("fine-tuned", "scratch", "RF-500")
#: CI-size CropNet settings (experiments/ci_small.yaml) with the zoo recipe (models/train_zoo.py): class
#: weights, no augmentation, smooth input scaling (the transfer benchmark's choice, docs/transfer.md).
CROPNET = dict(arch="cropnet2d", widths=(16, 32, 64, 128), max_gap_bins=12, learning_rate=0.003, batch_size=64,
               augment=False, class_weights=True, val_fraction=0.0, input_scaling="smooth")
#: the contract every model here reads (CROPNET's gap rule, the paper's season).
CONTRACT = FeatureSpec(max_gap_bins=CROPNET["max_gap_bins"])
PATCH = "wc-gee-patches/0000280849BAC91C"
#: (name, reader, path under ../shared/data)
DOMAINS = (
    ("FRA 2023 dekadal", "worldcereal", "wc-extractions/2023_FRA_LPIS_POLY_110_dekadal.geoparquet"),
    ("FRA 2022 monthly", "worldcereal", "wc-extractions/2022_FRA_LPIS_POLY_110_monthly.geoparquet"),
    ("BEL 2021 monthly", "worldcereal", "wc-extractions/2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet"),
    ("BEL 2019 patch", "patch", PATCH),
)


# ---------------------------------------------------------------- pure logic: draws and summaries

def allocate(counts: np.ndarray, n: int) -> np.ndarray:
    """Samples per class for a draw of ``n`` from classes of ``counts`` members: the proportional
    quota rounded by largest remainder, at least one of every non-empty class when ``n`` allows (taken
    from the classes furthest above their quota), never more than a class holds. (k,) int64 summing
    to min(n, counts.sum())."""
    counts = np.asarray(counts, dtype=np.int64)
    n = int(min(n, counts.sum()))
    quota = n * counts / max(counts.sum(), 1)
    take = np.floor(quota).astype(np.int64)
    present = counts > 0
    if n >= present.sum():
        take[present] = np.maximum(take[present], 1)
    while take.sum() > n:  # the at-least-one rule overshot: trim the class furthest above its quota
        take[np.argmax(np.where(take > 1, take - quota, -np.inf))] -= 1
    while take.sum() < n:  # largest remainder first
        take[np.argmax(np.where(take < counts, quota - take, -np.inf))] += 1
    return take


def stratified_draw(labels: np.ndarray, n: int, seed: int, stream: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` samples (at most all) drawn from ``labels`` (n_samples,) stratified by
    class (:func:`allocate`); the same (labels, n, seed, stream) always gives the same draw."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    counts = np.array([(labels == c).sum() for c in classes])
    take = allocate(counts, n)
    rng = np.random.default_rng([seed, stream, 104729])
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def split_target(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pool, test)`` indices: TEST_SHARE of each class (stratified, per seed) for testing."""
    test = stratified_draw(labels, int(round(TEST_SHARE * len(labels))), seed, stream=1)
    return np.setdiff1d(np.arange(len(labels)), test), test


def used_counts(pool_size: int, wanted: tuple[int, ...] = N_LABELS) -> dict[int, int]:
    """Requested n -> the n actually drawn (capped at the pool), keeping each drawn n once."""
    used: dict[int, int] = {}
    for n in wanted:
        capped = min(n, pool_size)
        if capped not in used.values():
            used[n] = capped
    return used


def mean_std(values: list[float]) -> str:
    values = [v for v in values if v is not None and not np.isnan(v)]
    if not values:
        return "n/a"
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}"


# ---------------------------------------------------------------- data

def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def on_common_year(series: SampleSeries) -> SampleSeries:
    """``series`` moved onto the COMMON_YEAR calendar (season start to season start, whole days)."""
    year = infer_season_year(series)
    month, day = Season().start_month_day
    shift = np.datetime64(f"{COMMON_YEAR}-{month:02d}-{day:02d}") - np.datetime64(f"{year}-{month:02d}-{day:02d}")
    moved = {"dates": series.dates + shift}
    if getattr(series, "season_year", None) is not None:
        moved["season_year"] = np.full(len(series), COMMON_YEAR)
    return dataclasses.replace(series, **moved)


def fold_classes(series: SampleSeries) -> SampleSeries:
    names = series.crop_class.astype(str)
    return dataclasses.replace(series, crop_class=np.where(np.isin(names, KEPT), names, OTHER).astype(object))


def read_domain(reader: str, path: Path) -> SampleSeries:
    """A domain's usable samples (the gap rule of CONTRACT), on the common calendar, classes folded."""
    if reader == "patch":
        series = sample_from_files(path, region="BEL", rules=SamplingRules(buffer_m=20, spacing_m=30, per_cell=400))
    else:
        series = read_worldcereal(path)
    series = fold_classes(on_common_year(series))
    keep = series_features(series, CONTRACT).keep
    return series.subset(np.flatnonzero(keep))


# ---------------------------------------------------------------- models and scores

QUIET = dict(progress=False, echo=lambda _: None, overwrite=True)


def source_model(domains: dict[str, SampleSeries], target: str, seed: int, epochs: int, work: Path) -> Path:
    """The source CropNet of ``target`` and ``seed`` (trained once; reused when its model.pt exists)."""
    out = work / "sources" / slug(target) / f"seed{seed}"
    if not (out / "model.pt").is_file():
        cpu = time.process_time()
        union = concat([s for name, s in domains.items() if name != target])
        train(union, out, seed=seed, epochs=epochs, **CROPNET, **QUIET)
        write_json_atomic(out / "cost.json", {"target": target, "seed": seed, "n_train": len(union),
                                              "cpu_seconds": round(time.process_time() - cpu, 2)})
    return out / "model.pt"


def scores(y_true: np.ndarray, proba: np.ndarray) -> dict:
    """OA, macro-F1 and corn F1 of the most probable KEPT class."""
    allowed = np.isin(np.array(CLASSES), KEPT)
    pred = np.where(allowed[None, :], proba, -np.inf).argmax(axis=1)
    report = classification_report(y_true, pred, len(CLASSES))
    corn = report.f1[CLASSES.index("corn")]
    return {"overall_accuracy": report.overall_accuracy, "macro_f1": report.macro_f1,
            "corn_f1": None if np.isnan(corn) or report.support[CLASSES.index("corn")] == 0 else float(corn),
            "n_test": int(len(y_true))}


def torch_proba(model_pt: Path, values: np.ndarray) -> np.ndarray:
    model, _ = load_model(model_pt)
    return torch.softmax(logits_of(model, CONTRACT.model_input(values), "cpu", 512), dim=1).numpy()


def run_cell(method: str, train_set: SampleSeries, source: Path, test_values: np.ndarray, seed: int,
             epochs: int, finetune_epochs: int | None, work: Path) -> np.ndarray | None:
    """Test probabilities of one method trained on ``train_set`` (None: not defined for n = 0)."""
    if len(train_set) == 0:
        return torch_proba(source, test_values) if method == "fine-tuned" else None
    if method == "RF-500":
        x = series_features(train_set, CONTRACT).values
        forest = fit_random_forest(x.reshape(len(x), -1), train_set.labels, n_estimators=RF_TREES, seed=seed,
                                   n_jobs=1)
        return forest_probabilities(forest, test_values.reshape(len(test_values), -1))
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work / "tmp") as tmp:
        if method == "fine-tuned":
            extra = {} if finetune_epochs is None else {"epochs": finetune_epochs}
            model = train(train_set, tmp, init_from=str(source), seed=seed, **extra, **QUIET).model_path
        else:
            model = train(train_set, tmp, seed=seed, epochs=epochs, **CROPNET, **QUIET).model_path
        return torch_proba(model, test_values)


def result_path(work: Path, target: str, n: int, method: str, seed: int) -> Path:
    return work / "results" / f"{slug(target)}__n{n}__{slug(method)}__seed{seed}.json"


def run_target(domains: dict[str, SampleSeries], target: str, seeds: int, args: argparse.Namespace,
               work: Path) -> None:
    series = domains[target]
    test_features = series_features(series, CONTRACT).values
    for seed in range(seeds):
        pool, test = split_target(series.labels, seed)
        for wanted, n in used_counts(len(pool), tuple(args.n)).items():
            todo = [m for m in METHODS if not result_path(work, target, n, m, seed).is_file()]
            if not todo:
                continue
            source = source_model(domains, target, seed, args.epochs, work)
            train_set = series.subset(pool[stratified_draw(series.labels[pool], n, seed)])
            for method in todo:
                started, cpu = time.perf_counter(), time.process_time()
                proba = run_cell(method, train_set, source, test_features[test], seed, args.epochs,
                                 args.finetune_epochs, work)
                record = {"target": target, "n_requested": wanted, "n": n, "method": method, "seed": seed,
                          "n_pool": int(len(pool)), "epochs": args.epochs, "finetune_epochs": args.finetune_epochs,
                          "class_counts": {c: int(k) for c, k in zip(CLASSES, np.bincount(
                              train_set.labels, minlength=len(CLASSES))) if k},
                          "cpu_seconds": round(time.process_time() - cpu, 2),
                          "wall_seconds": round(time.perf_counter() - started, 2)}
                if proba is not None:
                    record.update(scores(series.labels[test], proba))
                write_json_atomic(result_path(work, target, n, method, seed), record, indent=2)
                shown = f"OA {100 * record['overall_accuracy']:.1f}" if proba is not None else "n/a"
                print(f"{target} n={n} {method} seed {seed}: {shown} ({record['cpu_seconds']} CPU s)", flush=True)


# ---------------------------------------------------------------- table

def table(results: list[dict], sources: list[dict], targets: list[str], seeds: int, epochs: int) -> str:
    """The Markdown table: per metric, rows target x n, columns methods (mean ± std over seeds, %);
    ``sources`` the cost records of the source models."""
    cpu = sum(r["cpu_seconds"] for r in results) + sum(r["cpu_seconds"] for r in sources)
    lines = [
        "# Few labels of your own: fine-tuned vs from scratch vs RF-500",
        "",
        f"Reproduce: `.venv/bin/python experiments/transfer_fewshot.py --seeds {seeds} --epochs {epochs}` "
        f"(source models and scratch CropNets: {epochs} epochs; fine-tuning: the `--init-from` defaults). "
        f"Mean ± std over {seeds} seed(s), in %, on the test half of each target's usable samples; n target "
        "samples drawn (stratified) from the other half. n = 0 is the source model, trained on the other "
        f"domains, as it is. CPU time of these cells (models and scores, source models counted once): "
        f"{cpu / 60:.1f} CPU minutes.",
        "",
    ]
    for metric, title in (("overall_accuracy", "Overall accuracy"), ("macro_f1", "Macro-F1"),
                          ("corn_f1", "Corn (maize) F1")):
        lines += [f"## {title}", "", "| target | n | " + " | ".join(METHODS) + " |",
                  "|---|---:|" + "---:|" * len(METHODS)]
        for target in targets:
            cells = [r for r in results if r["target"] == target]
            for n in sorted({r["n"] for r in cells}):
                row = [mean_std([r.get(metric) for r in cells if r["n"] == n and r["method"] == m
                                 and metric in r]) for m in METHODS]
                capped = sorted({r["n_requested"] for r in cells if r["n"] == n} - {n})
                note = f" (pool cap; asked {', '.join(map(str, capped))})" if capped else ""
                lines.append(f"| {target} | {n}{note} | " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 (default 3)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of source and scratch CropNets (default 30)")
    parser.add_argument("--finetune-epochs", type=int, default=None,
                        help="epochs of fine-tuning (default: the --init-from default, training/finetune.py)")
    parser.add_argument("--targets", nargs="*", default=[d[0] for d in DOMAINS], help="target domains (names)")
    parser.add_argument("--n", type=int, nargs="*", default=list(N_LABELS), help="target sample counts")
    parser.add_argument("--out", type=Path, default=Path("runs/transfer_fewshot/table.md"), help="Markdown table")
    parser.add_argument("--work", type=Path, default=None, help="results and models (default: --out's folder)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - {d[0] for d in DOMAINS})
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {[d[0] for d in DOMAINS]}")
    torch.set_num_threads(1)
    work = ((args.work or args.out.parent)
            / (f"epochs{args.epochs}_finetune{args.finetune_epochs or 'default'}_"
               f"{'aug' if CROPNET['augment'] else 'noaug'}_{CROPNET['input_scaling']}"))
    data = shared_data_dir()
    domains = {name: read_domain(reader, data / path) for name, reader, path in DOMAINS}
    for name, series in domains.items():
        counts = {c: int(k) for c, k in zip(CLASSES, np.bincount(series.labels, minlength=len(CLASSES))) if k}
        print(f"{name}: {len(series)} usable samples {counts}", flush=True)
    for target in args.targets:
        run_target(domains, target, args.seeds, args, work)
    shutil.rmtree(work / "tmp", ignore_errors=True)
    results = [json.loads(p.read_text()) for p in sorted((work / "results").glob("*.json"))]
    results = [r for r in results if r["target"] in args.targets and r["seed"] < args.seeds and r["n"] in
               {min(n, r["n_pool"]) for n in args.n}]
    sources = [json.loads(p.read_text()) for p in sorted((work / "sources").glob("*/seed*/cost.json"))]
    sources = [r for r in sources if r["target"] in args.targets and r["seed"] < args.seeds]
    write_text_atomic(args.out, table(results, sources, args.targets, args.seeds, args.epochs))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
