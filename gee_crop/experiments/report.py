"""One self-contained HTML page for a finished experiment: its results table, every raw result and
its figures. Figures are embedded as PNG data: URIs (the SVGs are linked beside them); styles are
inline; there are no scripts, fonts or other external resources, so the page opens offline."""

from __future__ import annotations

import base64
import json
import os
from html import unescape
from pathlib import Path
from typing import cast

from gee_crop.atomic import write_text_atomic
from gee_crop.errors import InputError
from gee_crop.experiments.tables import aggregate, metrics
from gee_crop.viz.html import html_page, number
from gee_crop.viz.text import escape_strings, for_html


def _results_table(summary: dict) -> str:
    rows = aggregate(summary)
    labels = [t["label"] for t in summary["transfers"]]
    columns = metrics(summary)
    head = "".join(f'<th colspan="{len(columns)}">{label}</th>' for label in labels)
    sub = "".join(f"<th>{short}</th>" for _ in labels for _, short in columns)
    body = []
    for model in summary["models"]:
        cells = {r["transfer"]: r for r in rows if r["model"] == model["name"]}
        params = next((r["n_parameters"] for r in cells.values() if r["n_parameters"]), None)
        tds = []
        for label in labels:
            for _, short in columns:
                mean, std = cells[label][f"{short}_mean"], cells[label][f"{short}_std"]
                cell = "–" if mean is None else f"{number(mean, '.2f')} ± {number(std, '.2f')}"
                tds.append(f'<td class="num">{cell}</td>')
        body.append(
            f'<tr><td>{model["name"]}</td><td class="num">'
            f"{'–' if not params else number(params, '.2f', 1e-6) + ' M'}</td>{''.join(tds)}</tr>"
        )
    return (
        f'<table><tr><th rowspan="2">model</th><th rowspan="2">params</th>{head}</tr><tr>{sub}</tr>'
        + "".join(body)
        + "</table>"
    )


def _raw_table(summary: dict) -> str:
    header = ("model", "transfer", "seed", "OA %", "mF1 %", "samples", "class alignment", "train s")
    rows = []
    for r in summary["results"]:
        rows.append(
            "<tr>"
            + "".join(
                [
                    f"<td>{r['model']}</td>",
                    f"<td>{r['transfer']}</td>",
                    f'<td class="num">{r["seed"]}</td>',
                    f'<td class="num">{number(r["overall_accuracy"], ".2f", 100)}</td>',
                    f'<td class="num">{number(r["macro_f1"], ".2f", 100)}</td>',
                    f'<td class="num">{r["n_samples"]}</td>',
                    f"<td>{r.get('alignment_rule', '')}</td>",
                    f'<td class="num">{number(r.get("train_seconds", 0), ".1f")}</td>',
                ]
            )
            + "</tr>"
        )
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>" + "".join(rows) + "</table>"


def _figures(exp_dir: Path, base: str) -> str:
    index = exp_dir / "figures" / "index.json"
    if not index.is_file():
        return "<p>No figures: run the experiment with figures on (insight: {figures: true}).</p>"
    sections: dict[str, list[str]] = {}
    for entry in json.loads(index.read_text(encoding="utf-8")):
        png = exp_dir / "figures" / f"{entry['stem']}.png"
        if not png.is_file():
            continue
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        svg = f"{base}figures/{entry['stem']}.svg"
        sections.setdefault(entry["section"], []).append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{for_html(entry["caption"])}">'
            f'<figcaption>{for_html(entry["caption"])} (<a href="{for_html(svg)}">SVG</a>)</figcaption></figure>'
        )
    return "".join(f"<h2>{for_html(section)}</h2>" + "".join(items) for section, items in sections.items())


def report_html(exp_dir: str | os.PathLike, link_base: str = "") -> str:
    """The report page of the experiment folder ``exp_dir`` (written by ``gee-crop experiment``);
    ``link_base`` prefixes links to its files (the folder relative to where the page is saved)."""
    exp_dir = Path(exp_dir)
    base = for_html(link_base)
    results = exp_dir / "results.json"
    if not results.is_file():
        raise InputError(
            f"{exp_dir} holds no results.json; give the --out folder of `gee-crop experiment` "
            "(or run the experiment first)"
        )
    # every string of results.json is escaped once, here, whatever field it sits in
    summary = cast(dict, escape_strings(json.loads(results.read_text(encoding="utf-8")), for_html))
    try:
        return _page(summary, exp_dir, base, link_base)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            f"{results} is damaged ({type(exc).__name__}: {str(exc)[:80]!r}); rerun the experiment "
            "(`gee-crop experiment`) to write it again"
        ) from None


def _page(summary: dict, exp_dir: Path, base: str, link_base: str) -> str:
    seeds = ", ".join(map(str, summary["seeds"]))
    table_note = f" Layout: {summary['table']}." if summary.get("table") else ""
    body = f"""<h1>{summary["title"]}</h1>
<p class="meta">Experiment <code>{summary["name"]}</code>; {len(summary["results"])} results over seeds {seeds};
train on the source, test on the target, class alignment as in the paper (METHOD.md "Evaluation").{table_note}
Raw numbers: <a href="{base}results.json">results.json</a>, table: <a href="{base}table.csv">table.csv</a>,
<a href="{base}table.md">table.md</a>.</p>
<h2>Results: OA and macro-F1 (%), mean ± std over seeds</h2>
{_results_table(summary)}
<details><summary>Every (model, transfer, seed) result</summary>{_raw_table(summary)}</details>
{_figures(exp_dir, link_base)}
<p class="meta">Generated by gee-crop. Contains modified Copernicus Sentinel data; labels from the providers named
in the datasets' PROVENANCE files.</p>"""
    # html_page escapes the title itself: give it the title as it was in the file
    return html_page(f"{unescape(summary['title'])} — gee-crop experiment", body)


def write_report(exp_dir: str | os.PathLike, out_path: str | os.PathLike | None = None) -> Path:
    """Write the report page (default ``<exp_dir>/report.html``) atomically; returns its path."""
    exp_dir = Path(exp_dir)
    path = Path(out_path) if out_path else exp_dir / "report.html"
    rel = os.path.relpath(exp_dir.resolve(), path.resolve().parent)
    base = "" if rel == "." else Path(rel).as_posix() + "/"
    return write_text_atomic(path, report_html(exp_dir, base))
