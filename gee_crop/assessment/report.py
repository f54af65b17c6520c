"""What an assessment writes: JSON and CSV of the estimates, a figure of the estimated areas with
their 95 % confidence intervals beside the pixel-count areas, and an HTML section/page."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gee_crop.assessment.estimators import StratifiedEstimates
from gee_crop.atomic import atomic_write, write_json_atomic, write_text_atomic
from gee_crop.viz.html import html_page
from gee_crop.viz.plots import save_figure
from gee_crop.viz.text import for_figure, for_html

CSV_COLUMNS = (
    "class",
    "mapped_ha",
    "area_ha",
    "area_ha_ci95",
    "users_accuracy",
    "users_accuracy_ci95",
    "producers_accuracy",
    "producers_accuracy_ci95",
    "sample_points_mapped",
    "sample_points_reference",
)
NOTE = (
    "Areas are error-adjusted stratified estimates (Olofsson et al. 2014, Remote Sensing of Environment 148, "
    "42-57) from the labelled sample; the pixel counts of the map are biased by its classification errors."
)

FIGURE_CAPTION = "Estimated area per class with its 95 % confidence interval, beside the map's pixel count."


def write_estimates_csv(summary: dict, path: str | os.PathLike) -> Path:
    """One row per class: mapped and estimated areas, accuracies, each with its 95 % CI half-width."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for name, row in summary["classes"].items():
                writer.writerow({"class": name, **{k: row[k] for k in CSV_COLUMNS[1:]}})

    return atomic_write(Path(path), write)


def plot_areas(estimates: StratifiedEstimates, stem: str | os.PathLike) -> list[Path]:
    """Bars of the pixel-count area and the estimated area (with its 95 % CI) of every class present."""
    present = np.flatnonzero((estimates.mapped_ha > 0) | (estimates.sample_counts.sum(axis=0) > 0))
    names = [for_figure(estimates.classes[i]) for i in present]
    x = np.arange(len(present))
    fig, ax = plt.subplots(figsize=(1.4 * len(present) + 2.5, 3.6))
    ax.bar(x - 0.2, estimates.mapped_ha[present], width=0.4, color="#bbbbbb", label="map pixel count")
    ax.bar(
        x + 0.2,
        estimates.area_ha[present],
        width=0.4,
        color="#3b7dd8",
        yerr=estimates.ci95(estimates.area_ha_se[present]),
        capsize=4,
        label="estimate ± 95 % CI",
    )
    ax.set_xticks(x, names)
    ax.set_ylabel("area (ha)")
    ax.set_title("Area per class: stratified estimate vs. pixel count")
    ax.legend(frameon=False)
    return save_figure(fig, stem)


def _pct(value: float | None, ci: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} ± {100 * (ci or 0):.1f}"


def section_html(summary: dict, figure: str) -> str:
    """The assessment as an HTML section (every value from ``summary`` escaped)."""
    rows = []
    for name, row in summary["classes"].items():
        if not (row["mapped_ha"] or row["sample_points_reference"]):
            continue  # a legend class neither mapped nor seen in the reference
        area = "–" if row["area_ha"] is None else f"{row['area_ha']:,.2f} ± {row['area_ha_ci95'] or 0:,.2f}"
        rows.append(
            f'<tr><td>{for_html(name)}</td><td class="num">{row["mapped_ha"]:,.2f}</td>'
            f'<td class="num">{area}</td>'
            f'<td class="num">{_pct(row["users_accuracy"], row["users_accuracy_ci95"])}</td>'
            f'<td class="num">{_pct(row["producers_accuracy"], row["producers_accuracy_ci95"])}</td>'
            f'<td class="num">{row["sample_points_mapped"]}</td></tr>'
        )
    warnings = "".join(f"<li>{for_html(w)}</li>" for w in summary.get("warnings", []))
    return f"""<h2>Accuracy and area: stratified estimates</h2>
<p class="meta">{for_html(NOTE)} Map: <code>{for_html(str(summary["map"]))}</code>; {summary["n_points"]} reference
points. Overall accuracy {_pct(summary["overall_accuracy"], summary["overall_accuracy_ci95"])} %.</p>
{f'<ul class="meta">{warnings}</ul>' if warnings else ""}
<table><tr><th>class</th><th>map pixel count (ha)</th><th>estimated area (ha, ± 95 % CI)</th>
<th>user's accuracy (%)</th><th>producer's accuracy (%)</th><th>points</th></tr>{"".join(rows)}</table>
<figure><img src="{for_html(figure)}" alt="estimated areas with confidence intervals beside pixel counts">
<figcaption>{FIGURE_CAPTION}</figcaption></figure>
"""


def write_assessment(estimates: StratifiedEstimates, summary: dict, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write assessment.json, assessment.csv, areas.png/.svg and assessment.html into ``out_dir``."""
    out_dir = Path(out_dir)
    figures = plot_areas(estimates, out_dir / "areas")
    page = html_page("gee-crop map assessment", "<h1>Map assessment</h1>\n" + section_html(summary, figures[0].name))
    return {
        "json": write_json_atomic(out_dir / "assessment.json", summary),
        "csv": write_estimates_csv(summary, out_dir / "assessment.csv"),
        "figure": figures[0],
        "html": write_text_atomic(out_dir / "assessment.html", page),
    }


PARCEL_CSV_COLUMNS = ("class", "parcels_mapped", "parcels_reference", "users_accuracy", "producers_accuracy")
PARCEL_AREA_COLUMNS = ("mapped_ha", "area_ha", "area_ha_ci95")


def write_parcel_assessment(summary: dict, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write parcel_assessment.json (``summary`` of :func:`gee_crop.assessment.parcels.parcel_summary`) and
    parcel_assessment.csv (one row per class: parcel counts, accuracies, estimated areas when there are)."""
    out_dir = Path(out_dir)
    areas = (summary["area_estimates"] or {}).get("classes", {})
    columns = PARCEL_CSV_COLUMNS + (PARCEL_AREA_COLUMNS if areas else ())

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for name, row in summary["classes"].items():
                area = {k: areas[name][k] for k in PARCEL_AREA_COLUMNS} if areas else {}
                writer.writerow({"class": name, **{k: row[k] for k in PARCEL_CSV_COLUMNS[1:]}, **area})

    return {
        "json": write_json_atomic(out_dir / "parcel_assessment.json", summary),
        "csv": atomic_write(out_dir / "parcel_assessment.csv", write),
    }
