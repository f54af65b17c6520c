"""Recipe of the shipped zoo model ``cropnet-weu`` (Western-Europe corn / wheat / other).

Rerun it from the repository root (2 CPU cores: about half an hour, CPU time printed at the end)::

    .venv/bin/python models/train_zoo.py               # LODO scores (3 seeds) + the shipped model
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
* each domain's dates are moved by whole 365-day years onto the 2023 calendar (no 29 February lies
  in between), so one season year fits every domain: the features are days since the season start,
  so this changes nothing but the year label;
* CropNet 2D with widths 16-32-64-128, augmentation, class weights, EPOCHS epochs, max gap 12 bins
  (monthly composites leave up to a month empty), as experiments/ci_small.yaml.
The shipped file is the int8 ONNX export of the model trained on all three domains (seed 0),
calibrated on its own training samples; the card (models/cropnet-weu.md, also shipped) and the zoo
index (gee_crop/resources/models/index.json) are written from the run's numbers.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
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
from gee_crop.features.composite import infer_season_year
from gee_crop.models.predict import open_predictor
from gee_crop.testing.paths import shared_data_dir
from gee_crop.training.dataset import series_features
from gee_crop.training.metrics import classification_report
from gee_crop.training.trainer import train
from gee_crop.types import SampleSeries, concat

REPO = Path(__file__).resolve().parents[1]
NAME = "cropnet-weu"
RESOURCES = REPO / "gee_crop" / "resources" / "models"
#: (domain name, file in wc-extractions, composite cadence)
DOMAINS = (
    ("FRA 2022 (Corsica)", "2022_FRA_LPIS_POLY_110_monthly.geoparquet", "monthly"),
    ("FRA 2023 (south-west)", "2023_FRA_LPIS_POLY_110_dekadal.geoparquet", "dekadal"),
    ("BEL 2021 (Flanders)", "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet", "monthly"),
)
COMMON_YEAR = 2023
MIN_CLASS_SAMPLES = 30
LOGIT_OFF = 50.0
EPOCHS = 30
TRAIN_OPTIONS = dict(arch="cropnet2d", epochs=EPOCHS, batch_size=64, learning_rate=0.003,
                     widths=(16, 32, 64, 128), augment=True, class_weights=True, max_gap_bins=12)
#: Where the model may be used: France, Belgium and their neighbours (lon_min, lat_min, lon_max, lat_max).
DOMAIN_BBOX = (-5.5, 41.0, 10.0, 52.0)


def season_year(series: SampleSeries) -> int:
    """The season the domain's composites cover best."""
    return infer_season_year(series)


def read_domain(data: Path, file: str) -> SampleSeries:
    """A domain's samples, dates moved onto the COMMON_YEAR calendar (whole 365-day years)."""
    series = read_worldcereal(data / "wc-extractions" / file)
    shift = np.timedelta64(365 * (COMMON_YEAR - season_year(series)), "D")
    return dataclasses.replace(series, dates=series.dates + shift)


def fold_rare(series: SampleSeries, kept: tuple[str, ...]) -> SampleSeries:
    classes = np.where(np.isin(series.crop_class.astype(str), kept), series.crop_class, OTHER)
    return dataclasses.replace(series, crop_class=classes.astype(object))


def switch_off(model_pt: Path, kept: tuple[str, ...], source: str) -> None:
    """Lower the logits of classes outside ``kept`` so the model never predicts them; record it."""
    payload = torch.load(model_pt, map_location="cpu", weights_only=True)
    off = [i for i, c in enumerate(CLASSES) if c not in kept]
    bias = payload["state_dict"]["classifier.bias"].clone()
    bias[off] -= LOGIT_OFF
    payload["state_dict"]["classifier.bias"] = bias
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


def run(out: Path, seeds: int, publish_model: bool = True) -> None:
    started, cpu0 = time.time(), resource.getrusage(resource.RUSAGE_SELF)
    torch.set_num_threads(1)
    data = shared_data_dir()
    domains = {name: read_domain(data, file) for name, file, _ in DOMAINS}
    pooled = concat(list(domains.values()))
    counts = {c: int((pooled.crop_class == c).sum()) for c in CLASSES}
    kept = tuple(c for c in CLASSES if counts[c] >= MIN_CLASS_SAMPLES)
    domains = {name: fold_rare(series, kept) for name, series in domains.items()}
    quiet = dict(progress=False, echo=lambda m: None)

    lodo: dict[str, list[dict]] = {}
    for held_out in domains:
        train_set = concat([s for n, s in domains.items() if n != held_out])
        for seed in range(seeds):
            run_dir = out / "lodo" / held_out.split(" (")[0].replace(" ", "_") / f"seed{seed}"
            result = train(train_set, run_dir, seed=seed, overwrite=True, **TRAIN_OPTIONS, **quiet)
            switch_off(result.model_path, kept, f"all domains but {held_out}")
            lodo.setdefault(held_out, []).append({"seed": seed, **score(result.model_path, domains[held_out])})
            print(f"held out {held_out}, seed {seed}: {lodo[held_out][-1]}", flush=True)

    final = train(concat(list(domains.values())), out / "final", seed=0, overwrite=True, **TRAIN_OPTIONS, **quiet)
    switch_off(final.model_path, kept, " + ".join(domains))
    pooled = concat(list(domains.values()))
    onnx, diff, _ = export_and_check(final.model_path, out / f"{NAME}.onnx", pooled, overwrite=True)
    int8, n_cal = quantize_exported(onnx, pooled)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    samples = {name: {c: int((s.crop_class == c).sum()) for c in kept} for name, s in domains.items()}
    record = {"name": NAME, "kept": list(kept), "folded": {c: n for c, n in counts.items() if n and c not in kept},
              "samples": samples, "lodo": lodo, "parity_max_abs_diff": float(diff), "n_calibration": n_cal,
              "cpu_seconds": round(cpu_s, 1), "wall_seconds": round(time.time() - started, 1),
              "seeds": seeds, "train_options": {k: list(v) if isinstance(v, tuple) else v
                                                for k, v in TRAIN_OPTIONS.items()},
              "int8_bytes": int8.stat().st_size, "domains": [[n, f, c] for n, f, c in DOMAINS]}
    write_json_atomic(out / "recipe_run.json", record, indent=2)
    publish(int8, record)
    print(json.dumps({k: record[k] for k in ("cpu_seconds", "wall_seconds", "int8_bytes")}))


def _mean_std(values: list[float]) -> str:
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}"


def card_markdown(record: dict) -> str:
    kept = record["kept"]
    rows = [f"| {name} | {cadence} | " + " | ".join(str(record["samples"][name][c]) for c in kept) + " |"
            for name, _, cadence in record["domains"]]
    lodo = [f"| {name} | {_mean_std([r['overall_accuracy'] for r in runs])} | "
            f"{_mean_std([r['macro_f1'] for r in runs])} | {runs[0]['n_samples']} |"
            for name, runs in record["lodo"].items()]
    folded = ", ".join(f"{c} ({n})" for c, n in record["folded"].items()) or "none"
    opts = record["train_options"]
    return "\n".join([
        f"# {NAME}: Western-Europe corn / wheat / other (CropNet 2D, int8 ONNX)",
        "",
        "The default model of `gee-crop map`. Shipped inside the package; rebuilt by `models/train_zoo.py`.",
        "",
        f"- **Classes**: {', '.join(kept)}. Every other output is switched off (probability ~0); classes "
        f"with fewer than {MIN_CLASS_SAMPLES} samples were folded into other: {folded}.",
        "- **Training domains** (WorldCereal point extractions, MIT; labels from the French RPG and the "
        "Flemish LPIS): composites of Sentinel-2 L2A, B8A filled with B8 (WorldCereal ships none).",
        "",
        "| domain | cadence | " + " | ".join(kept) + " |",
        "|---|---|" + "---|" * len(kept),
        *rows,
        "",
        f"- **Recipe**: CropNet 2D widths {opts['widths']}, {opts['epochs']} epochs, batch {opts['batch_size']}, "
        f"learning rate {opts['learning_rate']}, augmentation, class weights, gaps up to {opts['max_gap_bins']} "
        f"5-day bins interpolated; int8 static quantisation calibrated on {record['n_calibration']} training "
        f"samples (fp32 export parity {record['parity_max_abs_diff']:.1e}). Training cost: "
        f"{record['cpu_seconds'] / 60:.0f} CPU minutes for the whole recipe ({record['seeds']} seeds x 3 folds "
        "+ the shipped model) on one torch thread.",
        "- **Never trained on** the Flanders 2019 patch of `gee-crop demo`: the demo's cross-domain score "
        "is an honest transfer.",
        "",
        f"## Leave-one-domain-out scores (same recipe, mean ± std over {record['seeds']} seeds)",
        "",
        "| held-out domain | OA % | macro-F1 % | samples |",
        "|---|---|---|---|",
        *lodo,
        "",
        "## Where not to trust it",
        "",
        f"- Outside Western Europe (it warns outside lon/lat {list(DOMAIN_BBOX)}): other climates, "
        "calendars and crops were never seen.",
        "- For any crop but corn and wheat: soybeans, rice, sugarcane and cotton are never predicted, "
        "everything else is 'other' (grassland, barley, sunflower, vineyards, ...).",
        "- Trained on monthly / dekadal composites of a few hundred points; per-pixel 5-day composites "
        "from Earth Engine are sharper, so scores on them may differ either way. Validate on reference "
        "data of your region (`gee-crop assess`) before using its areas.",
        "",
        "Contains modified Copernicus Sentinel data.",
        "",
    ])


def publish(int8: Path, record: dict) -> None:
    """Copy the int8 model and its card into the package and write the zoo index."""
    RESOURCES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(int8, RESOURCES / f"{NAME}.int8.onnx")
    card = card_markdown(record)
    write_text_atomic(REPO / "models" / f"{NAME}.md", card)
    write_text_atomic(RESOURCES / f"{NAME}.md", card)
    lodo = {name: {"overall_accuracy": float(np.mean([r["overall_accuracy"] for r in runs])),
                   "macro_f1": float(np.mean([r["macro_f1"] for r in runs])),
                   "macro_f1_std": float(np.std([r["macro_f1"] for r in runs]))}
            for name, runs in record["lodo"].items()}
    index = {"default": NAME, "models": [{
        "name": NAME, "file": f"{NAME}.int8.onnx", "card": f"{NAME}.md",
        "summary": "Western-Europe corn / wheat / other, CropNet 2D int8",
        "classes": record["kept"], "domain_bbox": list(DOMAIN_BBOX),
        "domain": "France and Belgium (Western Europe)",
        "training_domains": [name for name, _, _ in record["domains"]], "lodo": lodo}]}
    write_json_atomic(RESOURCES / "index.json", index, indent=2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "zoo", help="run folder (not shipped; runs/ is ignored by git)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="a smaller value only to test the script")
    args = parser.parse_args()
    TRAIN_OPTIONS["epochs"] = args.epochs
    run(args.out, args.seeds)
    sys.exit(0)
