"""Few labels of your own, every recipe (issue 23 item 5): what to use at which number of labels.

One command reproduces the table (from the repository root; resumable: finished cells are skipped)::

    .venv/bin/python experiments/fewlabel_benchmark.py                         # 5 seeds, 4 targets
    .venv/bin/python experiments/fewlabel_benchmark.py --seeds 1 --epochs 3 --n 20 --targets "BEL 2021 monthly"

Targets: the four domains of experiments/transfer_fewshot.py (France 2023 dekadal, France 2022 monthly,
Belgium 2021 monthly, the Flanders 2019 Earth Engine patch; its readers, calendar move and draws are
shared). Unlike there, the classes are kept as the data has them (France 2023's soybeans stay a class
of their own). Per target and seed:

* the target's usable samples (gap rule of ``--arch auto``) are split by **spatial blocks inside the
  target** (data/splits.py ``spatial_block_split``, blocks of ``selection.fold_block_m``), half of them
  for testing; n in N_LABELS samples (all: the whole other half) are drawn from the rest, stratified
  (transfer_fewshot.stratified_draw);
* **zoo as-is**: the shipped zoo is trained on three of these targets, so its stand-in is trained
  leave-one-domain-out: a TempCNN with the zoo recipe (models/train_zoo.py: smooth scaling, class
  weights, no augmentation) on the other three domains, folded to corn / wheat / other like the zoo and
  recorded as predicting those only (``output_classes``); used as it is, it does not depend on n;
* **majority**: always the most frequent class of the n labels;
* every **candidate** of ``train --arch auto`` (training/selection.py ``candidates``: linear, RF-500,
  fine-tuned from the stand-in, TempCNN, CropNet 2D from CROPNET_MIN_ROWS labels), trained on the n
  labels with ``Candidate.fit`` and the seed;
* **auto**: the cross-validation of ``--arch auto`` on the n labels (``cross_validate`` + ``choose``,
  same folds and seed as ``select_and_train``; the per-fold scores are stored, so a record shows how the choice was made). Its final model is ``winner.fit(n labels, seed)``,
  exactly the call of that candidate's own row (same labels, seed and options; training is seeded and
  repeatable, training/loop.py), so auto's test score **is** that row's score and is reused, not
  recomputed. That holds because the rows here train with the same ``epochs`` as auto's candidates; a
  run that gave the rows other settings than auto's cross-validation would have to retrain the winner.

Scores on the test blocks: macro-F1 (over the classes the test part holds) and OA. Outputs under
``--work`` (default: the folder of ``--out``), in a subfolder per epochs setting: ``results/*.json``
(one per target, n, method and seed, with its CPU and wall seconds), ``sources/`` and the Markdown table.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # transfer_fewshot beside this script
import transfer_fewshot as fewshot  # noqa: E402

from gee_crop.atomic import write_json_atomic, write_text_atomic  # noqa: E402
from gee_crop.classes import CLASSES  # noqa: E402
from gee_crop.data.sampling import sample_from_files  # noqa: E402
from gee_crop.data.splits import spatial_block_folds, spatial_block_split  # noqa: E402
from gee_crop.data.worldcereal import read_worldcereal  # noqa: E402
from gee_crop.errors import InputError  # noqa: E402
from gee_crop.models.io import update_model_meta  # noqa: E402
from gee_crop.testing.paths import shared_data_dir  # noqa: E402
from gee_crop.training.selection import (AUTO_FOLDS, Candidate, candidates, choose, cross_validate,  # noqa: E402
                                         fold_block_m, usable)
from gee_crop.training.metrics import classification_report  # noqa: E402
from gee_crop.training.trainer import train  # noqa: E402
from gee_crop.types import SampleSeries, SamplingRules, concat  # noqa: E402

#: label counts of the curve; 0 stands for all the labels of the pool.
N_LABELS = (20, 50, 100, 200, 0)
TEST_FRACTION = 0.5
SEEDS = 5
BASELINES = ("majority", "zoo as-is")
CANDIDATES = ("linear", "RF-500", "fine-tuned", "TempCNN", "CropNet 2D")
METHODS = (*BASELINES, *CANDIDATES, "auto")
#: the zoo stand-in: the zoo student's recipe (models/train_zoo.py) without the teacher.
ZOO_RECIPE = dict(arch="tempcnn", widths=(32, 64, 64, 64), max_gap_bins=12, learning_rate=0.003, batch_size=64,
                  augment=False, class_weights=True, val_fraction=0.0, input_scaling="smooth")
QUIET = dict(progress=False, echo=lambda _: None, overwrite=True)


def read_target(reader: str, path: Path) -> SampleSeries:
    """A domain's samples on the common calendar, classes as the data has them, usable for ``auto``."""
    if reader == "patch":
        series = sample_from_files(path, region="BEL", rules=SamplingRules(buffer_m=20, spacing_m=30, per_cell=400))
    else:
        series = read_worldcereal(path)
    return usable(fewshot.on_common_year(series))


def zoo_stand_in(domains: dict[str, SampleSeries], target: str, seed: int, epochs: int, work: Path) -> Path:
    """The leave-one-domain-out zoo of ``target`` (trained once per seed; reused when its model.pt exists)."""
    out = work / "sources" / fewshot.slug(target) / f"seed{seed}"
    if not (out / "model.pt").is_file():
        cpu = time.process_time()
        union = concat([fewshot.fold_classes(s) for name, s in domains.items() if name != target])
        model = train(union, out, seed=seed, epochs=epochs, **ZOO_RECIPE, **QUIET).model_path
        update_model_meta(model, output_classes=[c for c in CLASSES if c in fewshot.KEPT])
        write_json_atomic(out / "cost.json", {"target": target, "seed": seed, "n_train": len(union),
                                              "cpu_seconds": round(time.process_time() - cpu, 2)})
    return out / "model.pt"


def scores(y_true: np.ndarray, pred: np.ndarray) -> dict:
    report = classification_report(y_true, pred, len(CLASSES))
    return {"macro_f1": float(report.macro_f1), "overall_accuracy": float(report.overall_accuracy)}


def result_path(work: Path, target: str, n: int, method: str, seed: int) -> Path:
    return work / "results" / f"{fewshot.slug(target)}__n{n}__{fewshot.slug(method)}__seed{seed}.json"


def write_record(work: Path, record: dict) -> None:
    write_json_atomic(result_path(work, record["target"], record["n"], record["method"], record["seed"]), record,
                      indent=2)
    shown = f"macro-F1 {100 * record['macro_f1']:.1f}" if "macro_f1" in record else record.get("error", "")
    print(f"{record['target']} n={record['n']} {record['method']} seed {record['seed']}: {shown} "
          f"({record['wall_seconds']} s)", flush=True)


def fit_and_score(candidate: Candidate, train_set: SampleSeries, test_set: SampleSeries, seed: int,
                  work: Path) -> dict:
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work / "tmp") as tmp:
        model = candidate.fit(train_set, tmp, seed).model_path
        return scores(test_set.labels, candidate.predict(model, test_set).argmax(axis=1))


def run_cells(domains: dict[str, SampleSeries], target: str, seed: int, args: argparse.Namespace,
              work: Path) -> None:
    series = domains[target]
    block_m = fold_block_m(series.lon, series.lat, 2)
    pool, test = spatial_block_split(series.lon, series.lat, block_m=block_m, test_fraction=TEST_FRACTION, seed=seed)
    test_set = series.subset(test)
    base = {"target": target, "seed": seed, "n_pool": int(len(pool)), "n_test": int(len(test)),
            "block_m": block_m, "epochs": args.epochs, "source_epochs": args.source_epochs}
    source = zoo_stand_in(domains, target, seed, args.source_epochs, work)
    if not result_path(work, target, 0, "zoo as-is", seed).is_file():  # n = 0: used as it is
        started = time.perf_counter()
        proba = Candidate("zoo as-is", -1, {}).predict(source, test_set)
        write_record(work, {**base, "n": 0, "method": "zoo as-is", **scores(test_set.labels, proba.argmax(axis=1)),
                            "wall_seconds": round(time.perf_counter() - started, 2)})
    for wanted in args.n:
        n = min(wanted or len(pool), len(pool))
        train_set = series.subset(pool[fewshot.stratified_draw(series.labels[pool], n, seed)])
        cell = {**base, "n": n, "n_requested": wanted or "all"}
        if not result_path(work, target, n, "majority", seed).is_file():
            majority = np.bincount(train_set.labels, minlength=len(CLASSES)).argmax()
            write_record(work, {**cell, "method": "majority", "wall_seconds": 0.0,
                                **scores(test_set.labels, np.full(len(test_set), majority))})
        pool_of = candidates(len(train_set), str(source), args.epochs)
        for candidate in pool_of:
            if result_path(work, target, n, candidate.name, seed).is_file():
                continue
            started, cpu = time.perf_counter(), time.process_time()
            try:
                record = fit_and_score(candidate, train_set, test_set, seed, work)
            except InputError as exc:  # e.g. one class only among n labels
                record = {"error": str(exc)}
            write_record(work, {**cell, "method": candidate.name, **record,
                                "cpu_seconds": round(time.process_time() - cpu, 2),
                                "wall_seconds": round(time.perf_counter() - started, 2)})
        if result_path(work, target, n, "auto", seed).is_file():
            continue
        started, cpu = time.perf_counter(), time.process_time()
        folds_block = fold_block_m(train_set.lon, train_set.lat)
        try:
            folds = spatial_block_folds(train_set.lon, train_set.lat, block_m=folds_block, k=AUTO_FOLDS, seed=seed)
            with tempfile.TemporaryDirectory(dir=work / "tmp") as tmp:
                cv = cross_validate(train_set, pool_of, folds, seed, Path(tmp), progress=False)
            winner = choose(cv).candidate.name
            # reuse (module docstring): auto's final model is exactly the winner's own row
            row = json.loads(result_path(work, target, n, winner, seed).read_text())
            if "macro_f1" not in row:
                raise InputError(f"the winner {winner} failed on all n labels: {row.get('error')}")
            record = {"winner": winner, "macro_f1": row["macro_f1"], "overall_accuracy": row["overall_accuracy"],
                      "cv": {s.candidate.name: [round(f, 4) for f in s.fold_f1] for s in cv}}
        except InputError as exc:
            record = {"error": str(exc)}
        write_record(work, {**cell, "method": "auto", **record, "cv_block_m": folds_block,
                            "cpu_seconds": round(time.process_time() - cpu, 2),
                            "wall_seconds": round(time.perf_counter() - started, 2)})


def _asked(records: list[dict]) -> list:
    """The requested label counts of ``records`` in curve order (numbers, then "all")."""
    asked = {r.get("n_requested") for r in records if r.get("n_requested") is not None}
    return sorted(asked - {"all"}) + (["all"] if "all" in asked else [])


def _label(asked, records: list[dict]) -> str:
    """A row's n: the requested count, with the counts drawn where the pool capped them."""
    drawn = sorted({r["n"] for r in records})
    shown = "-".join(map(str, (drawn[0], drawn[-1]) if len(drawn) > 1 else drawn))
    return f"{asked} ({shown})" if asked == "all" or drawn != [asked] else str(asked)


def table(results: list[dict], targets: list[str], args: argparse.Namespace) -> str:
    """Markdown: per metric, rows target x n, columns METHODS (mean ± std over seeds, %)."""
    seeds = sorted({r["seed"] for r in results})
    wall = sum(r.get("wall_seconds", 0) for r in results)
    lines = [
        "# Few labels of your own: every recipe of `--arch auto`",
        "",
        f"Reproduce: `.venv/bin/python experiments/fewlabel_benchmark.py --seeds {args.seeds} --epochs "
        f"{args.epochs} --source-epochs {args.source_epochs}` (networks: {args.epochs} epochs, the linear model "
        f"{2 * args.epochs}, fine-tuning {args.epochs}; zoo stand-in: {args.source_epochs} epochs). Mean ± std "
        f"over the seeds done ({', '.join(map(str, seeds)) or 'none'}), in %, on the test blocks (half of each "
        "target, spatial blocks). 'zoo as-is' does not depend on n (the same number on every row). auto's "
        f"score is its winner's row (see the script). Wall time of the cells shown: {wall / 3600:.1f} h.",
        "",
    ]
    for metric, title in (("macro_f1", "Macro-F1"), ("overall_accuracy", "Overall accuracy")):
        lines += [f"## {title}", "", "| target | n | " + " | ".join(METHODS) + " |",
                  "|---|---:|" + "---:|" * len(METHODS)]
        for target in targets:
            cells = [r for r in results if r["target"] == target]
            zoo = [r.get(metric) for r in cells if r["method"] == "zoo as-is"]
            for asked in _asked(cells):
                here = [r for r in cells if r.get("n_requested") == asked]
                row = [fewshot.mean_std(zoo) if m == "zoo as-is" else
                       fewshot.mean_std([r.get(metric) for r in here if r["method"] == m]) for m in METHODS]
                lines.append(f"| {target} | {_label(asked, here)} | " + " | ".join(row) + " |")
        lines.append("")
    lines += ["## What auto chose", "", "| target | n | winners (seeds 0, 1, ...) | auto CV seconds |",
              "|---|---:|---|---:|"]
    for target in targets:
        autos = [r for r in results if r["target"] == target and r["method"] == "auto"]
        for asked in _asked(autos):
            done = sorted((r for r in autos if r.get("n_requested") == asked), key=lambda r: r["seed"])
            winners = ", ".join(r.get("winner", "error") for r in done)
            lines.append(f"| {target} | {_label(asked, done)} | {winners} | "
                         f"{np.mean([r['wall_seconds'] for r in done]):.0f} |")
    asked_all = _asked([r for r in results if r["method"] != "zoo as-is"])
    lines += ["", "## Seconds per cell (mean wall time of one fit and score; auto: its cross-validation)", "",
              "| method | " + " | ".join(map(str, asked_all)) + " |", "|---|" + "---:|" * len(asked_all)]
    for method in (*CANDIDATES, "auto"):
        cells = [np.mean([r["wall_seconds"] for r in results if r["method"] == method
                          and r.get("n_requested") == a] or [np.nan]) for a in asked_all]
        lines.append(f"| {method} | " + " | ".join("" if np.isnan(c) else f"{c:.0f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _results(work: Path, args: argparse.Namespace) -> list[dict]:
    results = [json.loads(p.read_text()) for p in sorted((work / "results").glob("*.json"))]
    return [r for r in results if r["target"] in args.targets and r["seed"] < args.seeds]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds 0..S-1 (default {SEEDS})")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every network candidate (default: auto's own, training/selection.py)")
    parser.add_argument("--source-epochs", type=int, default=30, help="epochs of the zoo stand-ins (default 30)")
    parser.add_argument("--targets", nargs="*", default=[d[0] for d in fewshot.DOMAINS], help="target domains")
    parser.add_argument("--n", type=int, nargs="*", default=list(N_LABELS), help="label counts (0: all)")
    parser.add_argument("--out", type=Path, default=Path("runs/fewlabel/table.md"), help="Markdown table")
    parser.add_argument("--work", type=Path, default=None, help="results and models (default: --out's folder)")
    parser.add_argument("--table-only", action="store_true", help="rewrite --out from the results so far")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - {d[0] for d in fewshot.DOMAINS})
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {[d[0] for d in fewshot.DOMAINS]}")
    torch.set_num_threads(1)
    work = (args.work or args.out.parent) / f"epochs{args.epochs or 'auto'}_source{args.source_epochs}"
    if args.table_only:
        write_text_atomic(args.out, table(_results(work, args), args.targets, args))
        return 0
    data = shared_data_dir()
    domains = {name: read_target(reader, data / path) for name, reader, path in fewshot.DOMAINS}
    for name, series in domains.items():
        counts = {c: int(k) for c, k in zip(CLASSES, np.bincount(series.labels, minlength=len(CLASSES))) if k}
        print(f"{name}: {len(series)} usable samples {counts}", flush=True)
    for seed in range(args.seeds):  # seed-major: a stopped run leaves whole seeds
        for target in args.targets:
            run_cells(domains, target, seed, args, work)
            write_text_atomic(args.out, table(_results(work, args), args.targets, args))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
