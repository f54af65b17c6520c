"""Tables of the leave-one-domain-out transfer benchmark (docs/transfer.md) from experiment folders.

    .venv/bin/python experiments/transfer_tables.py runs/transfer_search            # recipe search
    .venv/bin/python experiments/transfer_tables.py runs/transfer_lodo --shift      # final table + shift score

Prints Markdown (and writes it to <run>/transfer_tables.md):
* the fold table: one row per model, per LODO fold (target = a domain) OA / macro-F1 / corn F1,
  mean ± std over seeds, and the mean over folds;
* nested recipe selection: for every fold, the CropNet recipe with the best mean macro-F1 on the OTHER
  folds, and its score on this fold (a recipe is never chosen on the fold it is scored on);
* with --shift: the rank correlation (Spearman) between each target's domain-shift score and the
  model's accuracy drop (in-domain validation OA of the training run minus target OA), over every
  (target, seed) of the CropNet models that carry a shift summary.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from gee_crop.atomic import write_text_atomic

FOLD_PREFIX = "LODO→"
METRICS = (("overall_accuracy", "OA"), ("macro_f1", "mF1"), ("f1:corn", "corn F1"))


def value(result: dict, key: str) -> float | None:
    if key.startswith("f1:"):
        entry = result.get("per_class", {}).get(key[3:])
        return None if not entry or not entry.get("support") or entry.get("f1") is None else 100 * entry["f1"]
    return None if result.get(key) is None else 100 * result[key]


def cell(values: list[float]) -> str:
    return "–" if not values else f"{np.mean(values):.1f} ± {np.std(values):.1f}"


def main_folds(summary: dict) -> list[str]:
    """The LODO folds whose target is a whole domain (the source is every other domain)."""
    domains = set()
    for t in summary["transfers"]:
        domains.update(t["source"].split("+"))
    return [t["label"] for t in summary["transfers"] if t["target"] in domains]


def results_of(summary: dict, model: str, label: str) -> list[dict]:
    return [r for r in summary["results"] if r["model"] == model and r["transfer"] == label]


def fold_table(summary: dict, folds: list[str]) -> str:
    models = [m["name"] for m in summary["models"]]
    head = ["model"] + [f"{f[len(FOLD_PREFIX):]} {short}" for f in folds for _, short in METRICS] + ["mean OA", "mean mF1"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for model in models:
        cells, means = [], {"overall_accuracy": [], "macro_f1": []}
        for fold in folds:
            runs = results_of(summary, model, fold)
            for key, _ in METRICS:
                cells.append(cell([v for r in runs if (v := value(r, key)) is not None]))
            for key in means:
                vals = [v for r in runs if (v := value(r, key)) is not None]
                if vals:
                    means[key].append(np.mean(vals))
        lines.append("| " + " | ".join([model, *cells, *(f"{np.mean(v):.1f}" if len(v) == len(folds) else "–"
                                                         for v in means.values())]) + " |")
    return "\n".join(lines)


def nested_selection(summary: dict, folds: list[str], candidates: list[str]) -> str:
    """For each fold, the candidate with the best mean macro-F1 over the other folds, scored here."""
    def mean_mf1(model: str, fold: str) -> float | None:
        vals = [v for r in results_of(summary, model, fold) if (v := value(r, "macro_f1")) is not None]
        return float(np.mean(vals)) if vals else None

    lines = ["| fold | recipe chosen on the other folds | its OA | its mF1 | its corn F1 | RF-500 OA | RF-500 mF1 | RF-500 corn F1 |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for fold in folds:
        others = [f for f in folds if f != fold]
        scored = {m: [mean_mf1(m, f) for f in others] for m in candidates}
        scored = {m: float(np.mean(v)) for m, v in scored.items() if all(x is not None for x in v)}
        if not scored:
            continue
        best = max(scored, key=scored.get)
        runs = results_of(summary, best, fold)
        rf = results_of(summary, "RF-500", fold)
        lines.append("| " + " | ".join([fold[len(FOLD_PREFIX):], f"{best} ({scored[best]:.1f} on the others)",
                                         *(cell([v for r in runs if (v := value(r, k)) is not None]) for k, _ in METRICS),
                                         *(cell([v for r in rf if (v := value(r, k)) is not None]) for k, _ in METRICS)])
                     + " |")
    return "\n".join(lines)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    def ranks(a: np.ndarray) -> np.ndarray:
        order = np.argsort(a, kind="stable")
        r = np.empty(len(a))
        r[order] = np.arange(len(a))
        for v in np.unique(a):   # average the ranks of ties
            r[a == v] = r[a == v].mean()
        return r
    rx, ry = ranks(np.asarray(x, float)), ranks(np.asarray(y, float))
    return float(np.corrcoef(rx, ry)[0, 1])


def validation_oa(run_dir: Path, model_path: str) -> float | None:
    """The in-domain validation OA recorded in a trained model (random held-out share of its training set)."""
    path = run_dir / model_path
    if path.suffix != ".pt" or not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    oa = payload.get("metrics", {}).get("validation", {}).get("overall_accuracy")
    return None if oa is None else 100 * oa


def held_out_domain(summary: dict, source: str) -> str | None:
    """The domain a LODO fold leaves out: every domain the experiment trains on, minus this fold's."""
    domains = set()
    for t in summary["transfers"]:
        domains.update(t["source"].split("+"))
    left = domains - set(source.split("+"))
    return left.pop() if len(left) == 1 else None


def reference_oa(reference_dir: Path) -> dict[str, float]:
    """Per domain, the mean in-domain OA (%) of an in-domain reference run (80/20 splits)."""
    summary = load_summary(reference_dir)
    by_domain: dict[str, list[float]] = {}
    for r in summary["results"]:
        if r["source"] == r["target"] and r.get("overall_accuracy") is not None:
            by_domain.setdefault(r["target"], []).append(100 * r["overall_accuracy"])
    return {d: float(np.mean(v)) for d, v in by_domain.items()}


def shift_points(summary: dict, run_dir: Path, key: str, reference: dict[str, float] | None = None) -> list[dict]:
    """(target, seed, model) points with a shift score and an accuracy drop: the in-domain reference OA
    of the fold's held-out domain minus the target OA when ``reference`` is given, else the model's
    own validation OA (a random share of its training set) minus the target OA."""
    points = []
    cache: dict[str, float | None] = {}
    for r in summary["results"]:
        shift = (r.get("domain_shift") or {}).get(key)
        if shift is None or r.get("overall_accuracy") is None or not r.get("model_path"):
            continue
        if reference is not None:
            val = reference.get(held_out_domain(summary, r["source"]) or "")
        else:
            if r["model_path"] not in cache:
                cache[r["model_path"]] = validation_oa(run_dir, r["model_path"])
            val = cache[r["model_path"]]
        if val is None:
            continue
        points.append({"model": r["model"], "target": r["target"], "seed": r["seed"], "shift": float(shift),
                       "drop": val - 100 * r["overall_accuracy"]})
    return points


def shift_table(points: list[dict], key: str) -> str:
    if len(points) < 3:
        return "(fewer than three targets carry a shift score)"
    lines = ["| model | targets × seeds | Spearman(shift score, OA drop) |", "|---|---:|---:|"]
    models = sorted({p["model"] for p in points})
    for model in models + ["all"]:
        sel = [p for p in points if model == "all" or p["model"] == model]
        if len(sel) >= 3:
            rho = spearman(np.array([p["shift"] for p in sel]), np.array([p["drop"] for p in sel]))
            lines.append(f"| {model} | {len(sel)} ({len({p['target'] for p in sel})} targets) | {rho:.2f} |")
    by_target = {}
    for p in points:
        by_target.setdefault(p["target"], []).append(p)
    lines += ["", f"| target | mean {key} | mean OA drop (points) | n |", "|---|---:|---:|---:|"]
    for target, sel in sorted(by_target.items(), key=lambda kv: np.mean([p["shift"] for p in kv[1]])):
        lines.append(f"| {target} | {np.mean([p['shift'] for p in sel]):.3f} | "
                     f"{np.mean([p['drop'] for p in sel]):.1f} | {len(sel)} |")
    return "\n".join(lines)


def load_summary(run_dir: Path) -> dict:
    """results.json of a finished run; of a run still going, the results finished so far."""
    if (run_dir / "results.json").is_file():
        return json.loads((run_dir / "results.json").read_text())
    results = [json.loads(p.read_text()) for p in sorted(run_dir.glob("runs/*/*/seed*.json"))]
    if not results:
        raise SystemExit(f"{run_dir} holds no finished result yet")
    models = list(dict.fromkeys((r["model"], r["arch"]) for r in results))
    transfers = list(dict.fromkeys((r["transfer"], r["source"], r["target"]) for r in results))
    return {"title": f"{run_dir.name} (in progress)", "seeds": sorted({r["seed"] for r in results}),
            "models": [{"name": n, "arch": a} for n, a in models],
            "transfers": [{"label": label, "source": src, "target": tgt} for label, src, tgt in transfers],
            "results": results}


def cpu_hours(summary: dict) -> float:
    """Wall hours of training (each trained model once: its targets share it) and scoring."""
    training: dict[str, float] = {}
    for r in summary["results"]:
        key = r.get("model_path") or f"{r['model']}|{r['source']}|{r['seed']}"
        training[key] = max(training.get(key, 0.0), r.get("train_seconds", 0.0))
    return (sum(training.values()) + sum(r.get("eval_seconds", 0.0) for r in summary["results"])) / 3600


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--shift", action="store_true", help="add the shift-score validation")
    parser.add_argument("--shift-key", default="shift", help="which domain_shift field to correlate")
    parser.add_argument("--reference", type=Path, default=None,
                        help="an in-domain reference run (experiments/transfer_indomain.yaml): the accuracy drop "
                             "is its OA on the held-out domain minus the transfer OA")
    args = parser.parse_args(argv)
    summary = load_summary(args.run_dir)
    folds = main_folds(summary)
    candidates = [m["name"] for m in summary["models"] if m["arch"] == "cropnet2d"]
    seeds = summary["seeds"]
    parts = [f"### {summary['title']}", "",
             f"OA, macro-F1 and corn F1 (%), mean ± std over {len(seeds)} seeds ({', '.join(map(str, seeds))}); "
             f"training + scoring time {cpu_hours(summary):.2f} h wall on 2 CPU cores.", "",
             fold_table(summary, folds), "", "Recipe chosen for each fold on the other folds (best mean macro-F1):",
             "", nested_selection(summary, folds, candidates)]
    if args.shift:
        reference = reference_oa(args.reference) if args.reference else None
        points = shift_points(summary, args.run_dir, args.shift_key, reference)
        what = ("in-domain reference OA (" + ", ".join(f"{d} {v:.1f}" for d, v in sorted(reference.items())) + ")"
                if reference else "the model's own validation OA")
        parts += ["", f"Domain-shift score (`{args.shift_key}`) against accuracy drop = {what} minus target OA:", "",
                  shift_table(points, args.shift_key)]
    text = "\n".join(parts) + "\n"
    write_text_atomic(args.run_dir / "transfer_tables.md", text)
    print(text)
    return text


if __name__ == "__main__":
    main()
