"""Insight plots of the paper (METHOD.md "Feature importance"), each written as PNG and SVG.

Every ``plot_*`` function takes arrays (no file reading, no model), draws one figure with the
Agg backend and writes ``<stem>.png`` and ``<stem>.svg`` atomically; it returns both paths.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.text import Text

from gee_crop.atomic import atomic_write
from gee_crop.classes import CLASSES, class_color
from gee_crop.sensors import SENTINEL2
from gee_crop.viz.text import for_figure

FORMATS = ("png", "svg")


def save_figure(fig, stem: str | os.PathLike, dpi: int = 110) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` (temp file + rename), close it, return the paths."""
    stem = Path(stem)
    paths = []
    # text from files is drawn as written: no control characters, no mathtext (bad TeX in a class name
    # would fail the draw); tick labels made at draw time take the rc setting
    for text in fig.findobj(Text):
        text.set_text(for_figure(text.get_text()))
        text.set_parse_math(False)
    try:
        for fmt in FORMATS:

            def write(tmp: Path, fmt: str = fmt) -> None:
                fig.savefig(
                    tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None
                )

            # SVG text stays text (searchable, smaller); no date, so reruns write identical files
            with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "gee-crop", "text.parse_math": False}):
                paths.append(atomic_write(stem.with_name(f"{stem.name}.{fmt}"), write))
    finally:
        plt.close(fig)
    return paths


def plot_confusion(
    confusion: np.ndarray, stem: str | os.PathLike, title: str = "", class_names: Sequence[str] = CLASSES
) -> list[Path]:
    """Confusion matrix (rows reference, columns prediction; (k, k) counts), shaded by row share
    (recall); rows and columns with no sample and no prediction are left out."""
    cm = np.asarray(confusion, dtype=np.int64)
    used = np.flatnonzero((cm.sum(axis=0) + cm.sum(axis=1)) > 0)
    cm = cm[np.ix_(used, used)]
    names = [for_figure(class_names[int(i)]) for i in used]
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    size = 1.6 + 0.75 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    for (i, j), count in np.ndenumerate(cm):
        ax.text(j, i, f"{count}", ha="center", va="center", fontsize=8, color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the reference class")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, stem)


def plot_ndvi_curves(
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray, int]]],
    bin_days: np.ndarray,
    stem: str | os.PathLike,
    title: str = "Mean NDVI per class",
) -> list[Path]:
    """Mean NDVI curves (paper Fig. 4): one panel per region, one line per class with a ±1 std band.

    ``curves[region][class] = (mean (t,), std (t,), n_samples)``; ``bin_days`` (t,) days since the
    season start of each bin's centre.
    """
    regions = list(curves)
    fig, axes = plt.subplots(1, len(regions), figsize=(4.2 * len(regions), 3.4), sharey=True, squeeze=False)
    for ax, region in zip(axes[0], regions):
        for name, (mean, std, n) in curves[region].items():
            color = class_color(name)
            ax.plot(bin_days, mean, color=color, lw=1.8, label=f"{name} (n={n})")
            ax.fill_between(bin_days, mean - std, mean + std, color=color, alpha=0.18, lw=0)
        ax.set_title(region, fontsize=10)
        ax.set_xlabel("days since season start")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[0][0].set_ylabel("NDVI")
    fig.suptitle(title, fontsize=10, y=1.03)
    return save_figure(fig, stem)


def plot_tsne(
    embedding: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    panels: Sequence[tuple[str, Sequence[str]]],
    stem: str | os.PathLike,
    title: str = "t-SNE of median features",
) -> list[Path]:
    """t-SNE scatter panels (paper Fig. 14). ``embedding`` (n, 2), ``labels`` (n,) class indices,
    ``groups`` (n,) str (e.g. "FRA", "FRA augmented", "BEL"); each panel = (title, groups shown).
    Colour = class, marker = group (first group dots, later groups crosses/triangles)."""
    markers = ("o", "x", "^", "s", "+", "v")
    all_groups = list(dict.fromkeys(groups.tolist()))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    lo, hi = embedding.min(axis=0), embedding.max(axis=0)
    for ax, (panel_title, shown) in zip(axes[0], panels):
        for group in shown:
            marker = markers[all_groups.index(group) % len(markers)]
            for cls in np.unique(labels[groups == group]):
                sel = (groups == group) & (labels == cls)
                ax.scatter(
                    embedding[sel, 0],
                    embedding[sel, 1],
                    s=10,
                    marker=marker,
                    alpha=0.7,
                    color=class_color(CLASSES[cls]),
                    label=f"{group}: {CLASSES[cls]}",
                )
        ax.set_xlim(lo[0] - 1, hi[0] + 1)
        ax.set_ylim(lo[1] - 1, hi[1] + 1)
        ax.set_title(panel_title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=6, markerscale=1.5, loc="best")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, stem)


def tsne_embedding(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """(n, 2) t-SNE (sklearn.manifold.TSNE, PCA initialisation) of (n, F) features standardized per feature."""
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float64)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    perplexity = min(perplexity, max(2.0, (len(x) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def plot_band_time(
    maps: dict[str, np.ndarray],
    stem: str | os.PathLike,
    title: str,
    *,
    columns: Sequence[str] | None = None,
    cmap: str = "magma",
    colorbar_label: str = "",
    bin_days: np.ndarray | None = None,
) -> list[Path]:
    """A grid of band x time heatmaps (rows = SENTINEL2.bands, columns = bins): Grad-CAMs per class and
    region (paper Figs. 8-9) or RF importances. ``maps`` key "row|column" -> (10, t) array; missing
    cells stay blank. Rows and columns are the keys' parts in first-seen order (``columns`` to fix them)."""
    row_names = list(dict.fromkeys(k.split("|")[0] for k in maps))
    col_names = list(columns or dict.fromkeys(k.split("|")[1] for k in maps))
    vmax = max(float(np.nanmax(m)) for m in maps.values()) if maps else 1.0
    fig, axes = plt.subplots(
        len(row_names), len(col_names), squeeze=False, figsize=(3.4 * len(col_names) + 1, 1.7 * len(row_names) + 0.8)
    )
    image = None
    for i, row in enumerate(row_names):
        for j, col in enumerate(col_names):
            ax = axes[i][j]
            values = maps.get(f"{row}|{col}")
            if i == 0:
                ax.set_title(col, fontsize=9)
            if j == 0:
                ax.set_ylabel(row, fontsize=9)
            if values is None:  # e.g. a class absent from a target: say so rather than leave a hole
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes, fontsize=8)
                continue
            extent = None
            if bin_days is not None:
                extent = (bin_days[0], bin_days[-1], len(SENTINEL2.bands) - 0.5, -0.5)
            image = ax.imshow(
                values, aspect="auto", cmap=cmap, vmin=0, vmax=vmax or 1.0, extent=extent, interpolation="nearest"
            )
            ax.set_yticks(range(len(SENTINEL2.bands)), SENTINEL2.bands, fontsize=6)
            ax.tick_params(axis="x", labelsize=6)
            if i == len(row_names) - 1:
                ax.set_xlabel("days since season start" if bin_days is not None else "bin", fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes, fraction=0.02, label=colorbar_label)
    # above the column titles whatever the figure height (about 0.3 inch of room)
    fig.suptitle(title, fontsize=10, y=1.0 + 0.3 / fig.get_figheight())
    return save_figure(fig, stem)


def plot_importance_bars(
    importances: np.ndarray, names: Sequence[str], stem: str | os.PathLike, title: str, top: int = 20
) -> list[Path]:
    """Horizontal bars of the ``top`` largest importances (n,) with their names."""
    order = np.argsort(importances)[::-1][:top]
    fig, ax = plt.subplots(figsize=(5.5, 0.25 * len(order) + 1.2))
    ax.barh(range(len(order))[::-1], importances[order], color="#4a7ab5")
    ax.set_yticks(range(len(order))[::-1], [for_figure(names[i]) for i in order], fontsize=7)
    ax.set_xlabel("mean decrease in impurity")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, stem)
