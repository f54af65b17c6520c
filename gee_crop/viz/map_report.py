"""The offline page of a finished map (``report.html`` beside ``map.tif``): the preview, the numbers of
``summary.json`` and its transfer risk (domain shift and low-confidence share, whole map and per tile;
gee_crop.features.shift). Every value comes from the summary, escaped through :func:`gee_crop.viz.text.for_html`."""

from __future__ import annotations

from gee_crop.features.shift import describe_score, shift_warnings
from gee_crop.viz.html import html_page, is_number, number
from gee_crop.viz.text import escape_strings, for_html

#: per-tile rows shown (the tiles of highest shift first); summary.json lists every tile.
MAX_TILE_ROWS = 50


def _share(value: object) -> str:
    return "n/a" if value is None else number(value, ".1f", 100.0) + " %"


def _shift_section(shift: dict) -> str:
    whole = shift.get("whole_map") or {}
    if not whole:
        return "<h2>Transfer risk</h2>\n<p>not computed for this map.</p>"
    parts = ["<h2>Transfer risk</h2>", f"<p>{for_html(describe_score(whole))}</p>"]
    parts += [f"<p><strong>{for_html(w)}</strong></p>" for w in shift_warnings(whole)]
    parts.append(
        '<p class="meta">shift: geometric mean distance of the pixels from the model\'s training '
        "inputs, relative to the training samples' own (nominal 1.0); unlike: share beyond the "
        "training 99th percentile (nominal 1 %); low-confidence: highest class probability below "
        '50 %. See docs/mapping.md, "Transfer risk".</p>'
    )
    if shift.get("n_tiles_unscored"):
        parts.append(
            f'<p class="meta">{number(shift["n_tiles_unscored"])} tile(s) were finished by an older '
            "gee-crop and are not scored.</p>"
        )
    tiles = [t for t in shift.get("tiles") or [] if isinstance(t, dict)]
    tiles.sort(key=lambda t: -t["shift"] if is_number(t.get("shift")) else 0.0)
    if tiles:
        rows = "".join(
            f'<tr><td>{t.get("tile")}</td><td class="num">{number(t.get("n_classified"), ",")}</td>'
            f'<td class="num">{_share(t.get("ood_share"))}</td>'
            f'<td class="num">{"n/a" if t.get("shift") is None else number(t.get("shift"), ".2f")}</td>'
            f'<td class="num">{_share(t.get("low_confidence_share"))}</td></tr>'
            for t in tiles[:MAX_TILE_ROWS]
        )
        shown = f" ({MAX_TILE_ROWS} of {len(tiles)}, highest shift first)" if len(tiles) > MAX_TILE_ROWS else ""
        parts.append(
            f"<details open><summary>Per tile{shown}</summary><table><tr><th>tile</th><th>pixels</th>"
            f"<th>unlike training</th><th>shift</th><th>low-confidence</th></tr>{rows}</table></details>"
        )
    return "\n".join(parts)


def map_report_html(summary: dict, preview_name: str) -> str:
    """The page of a map's ``summary`` (the dict written to summary.json); ``preview_name`` is the
    PNG beside the page."""
    s = escape_strings(summary, for_html)
    assert isinstance(s, dict)  # escape_strings maps a dict to a dict
    grid = s.get("grid") or {}
    hectares = s.get("hectares") or {}
    rows = "".join(
        f'<tr><td>{name}</td><td class="num">{number(ha, ",.2f")}</td></tr>' for name, ha in hectares.items() if ha
    )
    accuracy = s.get("accuracy") or {}
    oa, f1 = accuracy.get("overall_accuracy"), accuracy.get("macro_f1")
    acc = (
        f"<p>map accuracy vs the source's label raster: OA {number(oa, '.1f', 100.0)} %, "
        f"macro-F1 {number(f1, '.1f', 100.0)} %</p>"
        if accuracy
        else ""
    )
    body = "\n".join(
        [
            f"<h1>gee-crop map, season {s.get('year')}</h1>",
            f'<p class="meta">{grid.get("width")} x {grid.get("height")} px ({grid.get("crs")}); '
            f"{s.get('n_tiles')} tile(s); "
            f"{number(s.get('n_pixels_classified'), ',')} pixels classified</p>",
            f'<figure><img src="{for_html(preview_name)}" alt="map preview"></figure>',
            _shift_section(s.get("domain_shift") or {}),
            "<h2>Pixel-count areas</h2>",
            '<p class="meta">pixel counts are biased by the map\'s errors; estimate areas with `gee-crop assess`.</p>',
            f"<table><tr><th>class</th><th>hectares</th></tr>{rows}</table>",
            acc,
        ]
    )
    return html_page(f"gee-crop map, season {summary.get('year')}", body)
