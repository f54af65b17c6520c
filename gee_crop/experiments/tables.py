"""Results tables laid out like the paper's Tables 3-7: one row per model (architecture, features,
augmentation), one OA / macro-F1 column pair per transfer, cells "mean ± std" in % over the seeds
(METHOD.md "Evaluation": mean ± std over seeds). Markdown for reading, CSV for plotting."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import cast

import numpy as np

from gee_crop.atomic import write_text_atomic
from gee_crop.viz.text import escape_strings, for_markdown

METRICS = (("overall_accuracy", "OA"), ("macro_f1", "mF1"))


def metrics(summary: dict) -> tuple[tuple[str, str], ...]:
    """OA, macro-F1 and the per-class F1 columns the experiment asks for (``class_f1: [corn]``)."""
    return METRICS + tuple((f"f1:{name}", f"{name} F1") for name in summary.get("class_f1", []))


def metric_value(result: dict, key: str) -> float | None:
    """A metric of one result; per-class F1 is None where the target holds no sample of the class."""
    if not key.startswith("f1:"):
        return result.get(key)
    entry = result.get("per_class", {}).get(key[3:])
    return entry["f1"] if entry and entry.get("support") else None


def aggregate(summary: dict) -> list[dict]:
    """Per (model, transfer): mean, std (population, ddof=0 as over a fixed seed set) and n seeds of
    OA and macro-F1 in %, plus the parameter count; rows in config order."""
    rows = []
    for model in summary["models"]:
        for transfer in summary["transfers"]:
            runs = [r for r in summary["results"] if r["model"] == model["name"] and r["transfer"] == transfer["label"]]
            row = {
                "model": model["name"],
                "transfer": transfer["label"],
                "n_seeds": len(runs),
                "n_parameters": next((r["n_parameters"] for r in runs if r.get("n_parameters")), None),
            }
            for key, short in metrics(summary):
                values = np.array(
                    [100 * value for r in runs if (value := metric_value(r, key)) is not None], dtype=np.float64
                )
                row[f"{short}_mean"] = float(values.mean()) if len(values) else None
                row[f"{short}_std"] = float(values.std()) if len(values) else None
            rows.append(row)
    return rows


def _cell(mean: float | None, std: float | None) -> str:
    return "–" if mean is None else f"{mean:.2f} ± {std:.2f}"


def _params(n: int | None) -> str:
    return "–" if not n else f"{n / 1e6:.2f} M"


#: above this many (transfer, metric) columns the Markdown table turns long: a row per (transfer, model).
WIDE_COLUMNS = 12


def markdown_table(summary: dict) -> str:
    """The results as a Markdown table (title line, header, one row per model; one row per transfer and
    model when a row per model would exceed WIDE_COLUMNS value columns). Every name and label goes through
    ``for_markdown``: it comes from an experiment's files and must not open a cell, link or tag."""
    summary = cast(dict, escape_strings(summary, for_markdown))  # a dict copied stays a dict
    rows = aggregate(summary)
    labels = [t["label"] for t in summary["transfers"]]
    if len(labels) * len(metrics(summary)) > WIDE_COLUMNS:
        return _long_markdown(summary, rows)
    header = ["model", "params"] + [f"{label} {short}" for label in labels for _, short in metrics(summary)]
    names = " and ".join(["OA", "macro-F1", *(f"{c} F1" for c in summary.get("class_f1", []))])
    lines = [
        f"**{summary['title']}** — {names} (%), mean ± std over {len(summary['seeds'])} seeds "
        f"({', '.join(map(str, summary['seeds']))})",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for model in summary["models"]:
        cells = {r["transfer"]: r for r in rows if r["model"] == model["name"]}
        params = next((r["n_parameters"] for r in cells.values() if r["n_parameters"]), None)
        values = [
            _cell(cells[label][f"{short}_mean"], cells[label][f"{short}_std"])
            for label in labels
            for _, short in metrics(summary)
        ]
        lines.append("| " + " | ".join([model["name"], _params(params), *values]) + " |")
    return "\n".join(lines) + "\n"


def _long_markdown(summary: dict, rows: list[dict]) -> str:
    columns = metrics(summary)
    header = ["transfer", "model", "params", *(short for _, short in columns), "seeds"]
    names = " and ".join(short for _, short in columns)
    lines = [
        f"**{summary['title']}** — {names} (%), mean ± std over {len(summary['seeds'])} seeds "
        f"({', '.join(map(str, summary['seeds']))})",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|",
    ]
    for transfer in summary["transfers"]:
        for row in (r for r in rows if r["transfer"] == transfer["label"]):
            values = [_cell(row[f"{short}_mean"], row[f"{short}_std"]) for _, short in columns]
            lines.append(
                "| "
                + " | ".join(
                    [transfer["label"], row["model"], _params(row["n_parameters"]), *values, str(row["n_seeds"])]
                )
                + " |"
            )
    return "\n".join(lines) + "\n"


def csv_table(summary: dict) -> str:
    """The same table as CSV: one row per model; per transfer OA/mF1 mean, std and seed count."""
    rows = aggregate(summary)
    labels = [t["label"] for t in summary["transfers"]]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["model", "n_parameters"]
        + [f"{label} {short} {stat}" for label in labels for _, short in metrics(summary) for stat in ("mean", "std")]
        + [f"{label} seeds" for label in labels]
    )
    for model in summary["models"]:
        cells = {r["transfer"]: r for r in rows if r["model"] == model["name"]}
        params = next((r["n_parameters"] for r in cells.values() if r["n_parameters"]), None)
        values = [
            ("" if cells[label][f"{short}_{stat}"] is None else f"{cells[label][f'{short}_{stat}']:.4f}")
            for label in labels
            for _, short in metrics(summary)
            for stat in ("mean", "std")
        ]
        writer.writerow([model["name"], params or ""] + values + [cells[label]["n_seeds"] for label in labels])
    return buf.getvalue()


def write_tables(summary: dict, out_dir: Path) -> dict[str, Path]:
    """Write ``table.md`` and ``table.csv`` atomically into ``out_dir``."""
    return {
        "markdown": write_text_atomic(Path(out_dir) / "table.md", markdown_table(summary)),
        "csv": write_text_atomic(Path(out_dir) / "table.csv", csv_table(summary)),
    }
