"""Recipe of the shipped zoo models ``cropnet-weu`` (Western-Europe corn / wheat / other, CropNet 2D)
and ``tempcnn-weu`` (its distilled TempCNN student for fast mapping).

Rerun it from the repository root (2 CPU cores: a few minutes, CPU time printed at the end)::

    .venv/bin/python models/train_zoo.py               # LODO scores (3 seeds) + the shipped models
    .venv/bin/python models/train_zoo.py --seeds 1     # quicker check of the recipe

Data: every shippable labelled domain except the Flanders 2019 demo patch (which stays unseen, so the
demo's cross-domain score is honest): WorldCereal point extractions in ``../shared/data/wc-extractions``
(MIT; see that folder's PROVENANCE.md) -- France 2022 (Corsica, monthly composites), France 2023
(south-west, dekadal composites), Belgium 2021 (Flanders, monthly composites). WorldCereal ships no
B8A; ``read_worldcereal`` fills it with B8 (its documented approximation).

Recipe (the same for the leave-one-domain-out folds and for the shipped model):
* classes with fewer than MIN_CLASS_SAMPLES pooled samples (soybeans: 13) are folded into "other";
  the model is a corn / wheat / other model and its other outputs are switched off (their logits
  lowered by LOGIT_OFF, so their probability is ~0 after softmax, in fp32 and in int8);
* every sample keeps its own season year (2021, 2022, 2023): the features are days since the
  season start of each sample's own season;
* CropNet 2D with widths 16-32-64-128, no augmentation, class weights, EPOCHS epochs, max gap 12 bins
  (monthly composites leave up to a month empty), as experiments/ci_small.yaml, and the input scaling
  ``smooth`` (a 25-day moving mean over time inside the model): the recipe with the best mean
  macro-F1 over the four folds of the transfer benchmark's recipe search (docs/transfer.md).
The student (``gee-crop train --arch tempcnn --distill-from TEACHER``, training/distill.py) learns the
teacher's soft probabilities plus the labels on the same training domains, with the same options,
epochs and class weights: in every leave-one-domain-out fold and seed it is distilled from that fold's
teacher (same seed), so teacher and student scores are paired on the same held-out samples. Its other
outputs are switched off as the teacher's.
The shipped files are the int8 ONNX exports of the models trained on all three domains (seed 0),
calibrated on their own training samples; one speed bench (onnxruntime, every core, the same real
inputs) times both. The cards (models/<name>.md, also shipped) and the zoo index
(gee_crop/resources/models/index.json) are written from the run's numbers. ``gee-crop map`` keeps the
teacher as its default unless the student's LODO OA and macro-F1, averaged over the folds, are both at
least the teacher's (STUDENT_DEFAULT_RULE).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gee_crop.atomic import atomic_write, write_json_atomic, write_text_atomic
from gee_crop.classes import CLASSES, OTHER
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.export.onnx import export_and_check
from gee_crop.export.quantize import quantize_exported
from gee_crop.models.predict import open_predictor
from gee_crop.testing.paths import shared_data_dir
from gee_crop.training.dataset import series_features
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import train
from gee_crop.types import SampleSeries, concat

REPO = Path(__file__).resolve().parents[1]
NAME = "cropnet-weu"
STUDENT_NAME = "tempcnn-weu"
RESOURCES = REPO / "gee_crop" / "resources" / "models"
#: (domain name, file in wc-extractions, composite cadence)
DOMAINS = (
    ("FRA 2022 (Corsica)", "2022_FRA_LPIS_POLY_110_monthly.geoparquet", "monthly"),
    ("FRA 2023 (south-west)", "2023_FRA_LPIS_POLY_110_dekadal.geoparquet", "dekadal"),
    ("BEL 2021 (Flanders)", "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet", "monthly"),
)
MIN_CLASS_SAMPLES = 30
LOGIT_OFF = 50.0
EPOCHS = 30
TRAIN_OPTIONS = dict(arch="cropnet2d", epochs=EPOCHS, batch_size=64, learning_rate=0.003,
                     widths=(16, 32, 64, 128), augment=False, class_weights=True, max_gap_bins=12,
                     input_scaling="smooth")
STUDENT_OPTIONS = dict(TRAIN_OPTIONS, arch="tempcnn", widths=(32, 64, 64, 64))
#: the row of experiments/transfer_lodo.yaml that runs this recipe (its scores go on the card)
BENCHMARK_MODEL = "smooth scaling"
STUDENT_DEFAULT_RULE = ("the student becomes the default of `gee-crop map` only if its leave-one-domain-out OA "
                        "and macro-F1, each averaged over the three folds (paired: same folds, same seeds), "
                        "are both at least the teacher's")
#: Where the model may be used: France, Belgium and their neighbours (lon_min, lat_min, lon_max, lat_max).
DOMAIN_BBOX = (-5.5, 41.0, 10.0, 52.0)


def read_domain(data: Path, file: str) -> SampleSeries:
    """A domain's samples, each with its own season year (the reader's, checked against the dates)."""
    return read_worldcereal(data / "wc-extractions" / file)


def fold_rare(series: SampleSeries, kept: tuple[str, ...]) -> SampleSeries:
    classes = np.where(np.isin(series.crop_class.astype(str), kept), series.crop_class, OTHER)
    return dataclasses.replace(series, crop_class=classes.astype(object))


def switch_off(model_pt: Path, kept: tuple[str, ...], source: str) -> None:
    """Lower the logits of classes outside ``kept`` so the model never predicts them; record it."""
    payload = torch.load(model_pt, map_location="cpu", weights_only=True)
    off = [i for i, c in enumerate(CLASSES) if c not in kept]
    # the output layer's bias: the last bias of the state dict (CropNet's classifier, TempCNN's head)
    key = [k for k in payload["state_dict"] if k.endswith(".bias")][-1]
    bias = payload["state_dict"][key].clone()
    assert bias.shape == (len(CLASSES),), f"{key} is not the output layer of {model_pt}"
    bias[off] -= LOGIT_OFF
    payload["state_dict"][key] = bias
    payload["output_classes"] = list(kept)
    payload["train_config"]["data"]["source"] = source
    atomic_write(model_pt, lambda tmp: torch.save(payload, tmp))


def score(model: Path, test: SampleSeries) -> dict:
    predictor = open_predictor(model, device="cpu")
    feats = series_features(test, predictor.contract)
    proba = predictor.predict_proba(feats.values[feats.keep], batch_size=512)
    report = classification_report(test.labels[feats.keep], proba.argmax(axis=1))
    return {"overall_accuracy": float(report.overall_accuracy), "macro_f1": float(report.macro_f1),
            "n_samples": int(feats.keep.sum())}


def train_pair(train_set: SampleSeries, run_dir: Path, seed: int, kept: tuple[str, ...], source: str) -> tuple[Path, Path]:
    """The teacher CropNet and its distilled TempCNN student (same data, seed and augmentation)."""
    quiet = dict(progress=False, echo=lambda m: None, overwrite=True, seed=seed)
    teacher = train(train_set, run_dir / "teacher", **TRAIN_OPTIONS, **quiet).model_path
    switch_off(teacher, kept, source)
    student = train(train_set, run_dir / "student", distill_from=str(teacher), **STUDENT_OPTIONS, **quiet).model_path
    switch_off(student, kept, source)
    return teacher, student


def bench_speed(models: dict[str, Path], series: SampleSeries, rounds: int = 3) -> dict[str, float]:
    """px/s of onnxruntime on every core, the same real inputs for each model, best of ``rounds``."""
    threads = os.cpu_count() or 1
    predictors = {name: open_predictor(path, threads=threads) for name, path in models.items()}
    feats = series_features(series, next(iter(predictors.values())).contract)
    values = feats.values[feats.keep]
    inputs = np.concatenate([values] * int(np.ceil(8192 / len(values))))[:8192]
    speed: dict[str, float] = {}
    for _ in range(rounds):  # other jobs share the cores: keep each model's best round
        for name, predictor in predictors.items():
            predictor.predict_proba(inputs[:512], 512)
            start = time.perf_counter()
            predictor.predict_proba(inputs, 512)
            speed[name] = max(speed.get(name, 0.0), len(inputs) / (time.perf_counter() - start))
    return {"threads": threads, "pixels": len(inputs), **{k: round(v) for k, v in speed.items()}}


def lodo_means(runs_by_fold: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    return {name: {"overall_accuracy": float(np.mean([r["overall_accuracy"] for r in runs])),
                   "macro_f1": float(np.mean([r["macro_f1"] for r in runs])),
                   "macro_f1_std": float(np.std([r["macro_f1"] for r in runs]))}
            for name, runs in runs_by_fold.items()}


def student_is_default(record: dict) -> bool:
    """STUDENT_DEFAULT_RULE on the run's paired LODO scores."""
    teacher, student = lodo_means(record["lodo"]), lodo_means(record["student_lodo"])
    return all(np.mean([student[d][m] for d in student]) >= np.mean([teacher[d][m] for d in teacher])
               for m in ("overall_accuracy", "macro_f1"))


def benchmark_rows(run_dir: Path) -> dict:
    """The leave-one-domain-out benchmark's per-fold scores (docs/transfer.md) of the model row
    BENCHMARK_MODEL and of RF-500, from a finished ``gee-crop experiment experiments/transfer_lodo.yaml``
    folder: {model: {fold: {metric: (mean, std, n_seeds)}}} in %."""
    summary = json.loads((Path(run_dir) / "results.json").read_text())
    rows: dict = {}
    for model in (BENCHMARK_MODEL, "RF-500"):
        for r in summary["results"]:
            if r["model"] != model or not r["transfer"].startswith("LODO→") or "_" in r["target"]:
                continue
            fold = rows.setdefault(model, {}).setdefault(r["target"], {"OA": [], "mF1": [], "corn F1": []})
            corn = r.get("per_class", {}).get("corn", {})
            for key, v in (("OA", r["overall_accuracy"]), ("mF1", r["macro_f1"]),
                           ("corn F1", corn.get("f1") if corn.get("support") else None)):
                if v is not None:
                    fold[key].append(100 * v)
    return {m: {f: {k: [float(np.mean(v)), float(np.std(v)), len(v)] for k, v in fold.items() if v}
                for f, fold in folds.items()} for m, folds in rows.items()}


def _benchmark_lines(record: dict) -> list[str]:
    bench = record.get("benchmark")
    if not bench or BENCHMARK_MODEL not in bench:
        return []
    folds = list(bench[BENCHMARK_MODEL])
    lines = ["## The recipe on the transfer benchmark (docs/transfer.md)", "",
             f"Leave-one-domain-out over four real domains (the three above and the Flanders 2019 patch), "
             f"the recipe's row `{BENCHMARK_MODEL}` (the teacher {NAME}'s recipe; the student is distilled from it) "
             "beside RF-500 on the same inputs; mean ± std over seeds:", "",
             "| target domain | model | OA % | macro-F1 % | corn F1 % |", "|---|---|---|---|---|"]
    for fold in folds:
        for model in (BENCHMARK_MODEL, "RF-500"):
            cells = bench.get(model, {}).get(fold, {})
            lines.append(f"| {fold} | {model} | " + " | ".join(
                f"{cells[k][0]:.1f} ± {cells[k][1]:.1f}" if k in cells else "–" for k in ("OA", "mF1", "corn F1")) + " |")
    return [*lines, ""]


def run(out: Path, seeds: int, publish_models: bool = True, benchmark: Path | None = None) -> None:
    started, cpu0 = time.time(), resource.getrusage(resource.RUSAGE_SELF)
    torch.set_num_threads(1)
    data = shared_data_dir()
    domains = {name: read_domain(data, file) for name, file, _ in DOMAINS}
    pooled = concat(list(domains.values()))
    counts = {c: int((pooled.crop_class == c).sum()) for c in CLASSES}
    kept = tuple(c for c in CLASSES if counts[c] >= MIN_CLASS_SAMPLES)
    domains = {name: fold_rare(series, kept) for name, series in domains.items()}

    lodo: dict[str, list[dict]] = {}
    student_lodo: dict[str, list[dict]] = {}
    for held_out in domains:
        train_set = concat([s for n, s in domains.items() if n != held_out])
        for seed in range(seeds):
            run_dir = out / "lodo" / held_out.split(" (")[0].replace(" ", "_") / f"seed{seed}"
            teacher, student = train_pair(train_set, run_dir, seed, kept, f"all domains but {held_out}")
            lodo.setdefault(held_out, []).append({"seed": seed, **score(teacher, domains[held_out])})
            student_lodo.setdefault(held_out, []).append({"seed": seed, **score(student, domains[held_out])})
            print(f"held out {held_out}, seed {seed}: teacher {lodo[held_out][-1]}, "
                  f"student {student_lodo[held_out][-1]}", flush=True)

    pooled = concat(list(domains.values()))
    teacher, student = train_pair(pooled, out / "final", 0, kept, " + ".join(domains))
    exports = {}
    for name, model_pt in ((NAME, teacher), (STUDENT_NAME, student)):
        onnx, diff, _ = export_and_check(model_pt, out / f"{name}.onnx", pooled, overwrite=True)
        int8, n_cal = quantize_exported(onnx, pooled)
        exports[name] = {"int8": int8, "pt": model_pt, "parity_max_abs_diff": float(diff), "n_calibration": n_cal,
                         "int8_bytes": int8.stat().st_size}
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    speed = bench_speed({name: e["int8"] for name, e in exports.items()}, pooled)
    samples = {name: {c: int((s.crop_class == c).sum()) for c in kept} for name, s in domains.items()}
    record = {"name": NAME, "student": STUDENT_NAME, "kept": list(kept),
              "folded": {c: n for c, n in counts.items() if n and c not in kept},
              "samples": samples, "lodo": lodo, "student_lodo": student_lodo,
              "parity_max_abs_diff": exports[NAME]["parity_max_abs_diff"],
              "n_calibration": exports[NAME]["n_calibration"],
              "student_parity_max_abs_diff": exports[STUDENT_NAME]["parity_max_abs_diff"],
              "student_n_calibration": exports[STUDENT_NAME]["n_calibration"],
              "cpu_seconds": round(cpu_s, 1), "wall_seconds": round(time.time() - started, 1),
              "seeds": seeds, "train_options": _options(TRAIN_OPTIONS), "student_options": _options(STUDENT_OPTIONS),
              "int8_bytes": exports[NAME]["int8_bytes"], "student_int8_bytes": exports[STUDENT_NAME]["int8_bytes"],
              "speed_int8_px_per_s": speed, "domains": [[n, f, c] for n, f, c in DOMAINS]}
    record["student_default"] = student_is_default(record)
    write_json_atomic(out / "recipe_run.json", record, indent=2)
    record["benchmark"] = benchmark_rows(benchmark) if benchmark else None
    if publish_models:
        publish({name: e["int8"] for name, e in exports.items()}, record,
                {name: e["pt"] for name, e in exports.items()})
    else:  # the cards only, beside the run
        write_text_atomic(out / f"{NAME}.md", card_markdown(record))
        write_text_atomic(out / f"{STUDENT_NAME}.md", student_card_markdown(record))
    print(json.dumps({k: record[k] for k in ("cpu_seconds", "wall_seconds", "int8_bytes", "student_int8_bytes",
                                             "speed_int8_px_per_s", "student_default")}))


def _options(options: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


def _augment_words(opts: dict) -> str:
    words = ("the paper's augmentation (time shift, time scale, magnitude warp)" if opts.get("augment")
             else "no augmentation (it lowered leave-one-domain-out macro-F1 on the transfer benchmark, docs/transfer.md)")
    if opts.get("input_scaling", "standard") != "standard":
        words += f", input scaling `{opts['input_scaling']}` (inside the model; docs/transfer.md)"
    return words


def _mean_std(values: list[float]) -> str:
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}"


def _fold_rows(record: dict, key: str) -> list[str]:
    return [f"| {name} | {_mean_std([r['overall_accuracy'] for r in runs])} | "
            f"{_mean_std([r['macro_f1'] for r in runs])} | {runs[0]['n_samples']} |"
            for name, runs in record[key].items()]


def _paired_rows(record: dict) -> list[str]:
    """Teacher and student side by side per held-out domain, and the mean over the folds."""
    rows, means = [], []
    for name, teacher in record["lodo"].items():
        student = record["student_lodo"][name]
        cells = [[r[m] for r in runs] for m in ("overall_accuracy", "macro_f1") for runs in (teacher, student)]
        means.append([np.mean(c) for c in cells])
        rows.append(f"| {name} | " + " | ".join(_mean_std(c) for c in cells) + f" | {teacher[0]['n_samples']} |")
    mean = np.mean(means, axis=0) * 100
    rows.append("| **mean over folds** | " + " | ".join(f"{v:.1f}" for v in mean) + " | |")
    return rows


def _speed_line(record: dict) -> str:
    speed = record["speed_int8_px_per_s"]
    return (f"- **Speed** (int8 ONNX, onnxruntime on {speed['threads']} CPU threads, the same "
            f"{speed['pixels']} real inputs, one bench run of the recipe): {NAME} {speed[NAME]:,} px/s, "
            f"{STUDENT_NAME} {speed[STUDENT_NAME]:,} px/s ({speed[STUDENT_NAME] / speed[NAME]:.1f}x). {NAME} is a narrow "
            "CropNet (widths 16-32-64-128); against the paper-width CropNet (64-128-256-512) the student is "
            "far faster still (`bench/bench_scale.py` prints both).")


def _default_line(record: dict, name: str) -> str:
    default = STUDENT_NAME if record["student_default"] else NAME
    if name == default:
        why = ("its distilled student did not score at least as well on the folds" if name == NAME
               else "it scored at least as well as its teacher on the folds")
        return (f"The default model of `gee-crop map` ({why}: {STUDENT_DEFAULT_RULE}). "
                "Shipped inside the package; rebuilt by `models/train_zoo.py`.")
    return (f"Not the default of `gee-crop map` ({default} is: {STUDENT_DEFAULT_RULE}); use it with "
            f"`gee-crop map --model {name}`. Shipped inside the package; rebuilt by `models/train_zoo.py`.")


def _data_lines(record: dict) -> list[str]:
    kept = record["kept"]
    rows = [f"| {name} | {cadence} | " + " | ".join(str(record["samples"][name][c]) for c in kept) + " |"
            for name, _, cadence in record["domains"]]
    folded = ", ".join(f"{c} ({n})" for c, n in record["folded"].items()) or "none"
    return [
        f"- **Classes**: {', '.join(kept)}. Every other output is switched off (probability ~0); classes "
        f"with fewer than {MIN_CLASS_SAMPLES} samples were folded into other: {folded}.",
        "- **Training domains** (WorldCereal point extractions, MIT; labels from the French RPG and the "
        "Flemish LPIS): composites of Sentinel-2 L2A, B8A filled with B8 (WorldCereal ships none).",
        "",
        "| domain | cadence | " + " | ".join(kept) + " |",
        "|---|---|" + "---|" * len(kept),
        *rows,
        "",
    ]


def _cost_line(record: dict) -> str:
    return (f"Training cost: {record['cpu_seconds'] / 60:.1f} CPU minutes for the whole recipe ({record['seeds']} "
            "seeds x 3 folds of teacher and student + the shipped pair) on one torch thread.")


def _caveats(student: bool) -> list[str]:
    lines = [
        "## Where not to trust it",
        "",
        f"- Outside Western Europe (it warns outside lon/lat {list(DOMAIN_BBOX)}): other climates, "
        "calendars and crops were never seen.",
        "- For any crop but corn and wheat: soybeans, rice, sugarcane and cotton are never predicted, "
        "everything else is 'other' (grassland, barley, sunflower, vineyards, ...).",
        "- Trained on monthly / dekadal composites of a few hundred points; per-pixel 5-day composites "
        "from Earth Engine are sharper, so scores on them may differ either way. Validate on reference "
        "data of your region (`gee-crop assess`) before using its areas.",
    ]
    if student:
        lines.append(f"- It learnt {NAME}'s probabilities, mistakes included, and has far fewer weights: where the "
                     "teacher is unsure (a new region, an odd season) the student can differ from it more; map a "
                     f"small area with both (`--model {NAME}` / `--model {STUDENT_NAME}`) before a large job.")
    return [*lines, "", "Contains modified Copernicus Sentinel data.", ""]


def card_markdown(record: dict) -> str:
    opts = record["train_options"]
    return "\n".join([
        f"# {NAME}: Western-Europe corn / wheat / other (CropNet 2D, int8 ONNX)",
        "",
        _default_line(record, NAME),
        "",
        *_data_lines(record),
        f"- **Recipe**: CropNet 2D widths {opts['widths']}, {opts['epochs']} epochs, batch {opts['batch_size']}, "
        f"learning rate {opts['learning_rate']}, {_augment_words(opts)}, class weights, gaps up to {opts['max_gap_bins']} "
        f"5-day bins interpolated; int8 static quantisation calibrated on {record['n_calibration']} training "
        f"samples (fp32 export parity {record['parity_max_abs_diff']:.1e}). " + _cost_line(record),
        f"- **Distilled student**: `{STUDENT_NAME}` (a TempCNN, card `{STUDENT_NAME}.md`) maps faster.",
        _speed_line(record),
        "- **Never trained on** the Flanders 2019 patch of `gee-crop demo`: the demo's cross-domain score "
        "is an honest transfer.",
        "",
        f"## Leave-one-domain-out scores (same recipe, mean ± std over {record['seeds']} seeds)",
        "",
        "| held-out domain | OA % | macro-F1 % | samples |",
        "|---|---|---|---|",
        *_fold_rows(record, "lodo"),
        "",
        *_benchmark_lines(record),
        *_caveats(student=False),
    ])


def student_card_markdown(record: dict) -> str:
    opts = record["student_options"]
    return "\n".join([
        f"# {STUDENT_NAME}: Western-Europe corn / wheat / other, distilled from {NAME} (TempCNN, int8 ONNX)",
        "",
        _default_line(record, STUDENT_NAME),
        "",
        *_data_lines(record),
        f"- **How it was distilled**: a TempCNN (1D temporal CNN, widths {opts['widths']}) trained with "
        f"`gee-crop train --arch tempcnn --distill-from` the {NAME} teacher of the same training domains: its "
        "loss is half the teacher's softened probabilities (temperature 2, KL divergence) and half the labels "
        "(class-weighted cross-entropy); the teacher sees every augmented batch the student sees. Same "
        f"{opts['epochs']} epochs, batch {opts['batch_size']}, learning rate {opts['learning_rate']}, {_augment_words(opts)}, "
        f"gaps up to {opts['max_gap_bins']} bins, and the same model contract (input) as the teacher. In every "
        "leave-one-domain-out fold and seed it was distilled from that fold's teacher of the same seed, so the "
        f"scores below are paired. int8 static quantisation calibrated on {record['student_n_calibration']} "
        f"training samples (fp32 export parity {record['student_parity_max_abs_diff']:.1e}). " + _cost_line(record),
        _speed_line(record),
        "- **Never trained on** the Flanders 2019 patch of `gee-crop demo`.",
        "",
        f"## Leave-one-domain-out scores, teacher vs student (paired, mean ± std over {record['seeds']} seeds)",
        "",
        f"| held-out domain | OA % {NAME} | OA % {STUDENT_NAME} | macro-F1 % {NAME} | macro-F1 % {STUDENT_NAME} "
        "| samples |",
        "|---|---|---|---|---|---|",
        *_paired_rows(record),
        "",
        *_benchmark_lines(record),
        *_caveats(student=True),
    ])


def rewrite_cards(out: Path, benchmark: Path | None) -> None:
    """The cards and the zoo index of a finished run (``recipe_run.json``), with the benchmark's scores."""
    record = json.loads((out / "recipe_run.json").read_text())
    record["benchmark"] = benchmark_rows(benchmark) if benchmark else record.get("benchmark")
    write_json_atomic(out / "recipe_run.json", record, indent=2)
    publish({}, record, {})


def publish(int8: dict[str, Path], record: dict, weights: dict[str, Path]) -> None:
    """Copy the int8 models, their fp32 torch weights (``gee-crop train --init-from NAME``) and their
    cards into the package and write the zoo index."""
    RESOURCES.mkdir(parents=True, exist_ok=True)
    cards = {NAME: card_markdown(record), STUDENT_NAME: student_card_markdown(record)}
    for name, path in int8.items():
        shutil.copyfile(path, RESOURCES / f"{name}.int8.onnx")
        shutil.copyfile(weights[name], RESOURCES / f"{name}.pt")
    for name, card in cards.items():
        write_text_atomic(REPO / "models" / f"{name}.md", card)
        write_text_atomic(RESOURCES / f"{name}.md", card)
    speed = record["speed_int8_px_per_s"]
    common = {"classes": record["kept"], "domain_bbox": list(DOMAIN_BBOX),
              "domain": "France and Belgium (Western Europe)",
              "training_domains": [name for name, _, _ in record["domains"]]}
    models = [
        {"name": NAME, "file": f"{NAME}.int8.onnx", "card": f"{NAME}.md", "weights": f"{NAME}.pt",
         "summary": f"Western-Europe corn / wheat / other, CropNet 2D int8, {speed[NAME]:,} px/s",
         **common, "lodo": lodo_means(record["lodo"])},
        {"name": STUDENT_NAME, "file": f"{STUDENT_NAME}.int8.onnx", "card": f"{STUDENT_NAME}.md",
         "weights": f"{STUDENT_NAME}.pt",
         "summary": f"distilled TempCNN student of {NAME} for fast mapping, int8, {speed[STUDENT_NAME]:,} px/s",
         **common, "teacher": NAME, "lodo": lodo_means(record["student_lodo"])},
    ]
    index = {"default": STUDENT_NAME if record["student_default"] else NAME, "models": models}
    write_json_atomic(RESOURCES / "index.json", index, indent=2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "zoo", help="run folder (not shipped; runs/ is ignored by git)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="a smaller value only to test the script")
    parser.add_argument("--no-publish", action="store_true", help="leave the package's models untouched (a check)")
    parser.add_argument("--benchmark", type=Path, default=None,
                        help="a finished transfer_lodo run folder: its scores of the recipe go on the card")
    parser.add_argument("--cards-only", action="store_true",
                        help="rewrite the shipped cards and index from the run's recipe_run.json (and --benchmark) "
                             "without training")
    args = parser.parse_args()
    TRAIN_OPTIONS["epochs"] = STUDENT_OPTIONS["epochs"] = args.epochs
    if args.cards_only:
        rewrite_cards(args.out, args.benchmark)
    else:
        run(args.out, args.seeds, publish_models=not args.no_publish, benchmark=args.benchmark)
    sys.exit(0)
