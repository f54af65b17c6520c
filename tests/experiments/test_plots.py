"""Insight plots: PNG + SVG files with the expected content, and the experiment's figure set."""
from __future__ import annotations

import json

import numpy as np

from gee_crop.viz.plots import plot_band_time, plot_confusion, plot_importance_bars, plot_tsne, tsne_embedding

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png_svg(paths, *texts):
    png, svg = paths
    assert png.suffix == ".png" and png.read_bytes()[:8] == PNG
    body = svg.read_text()
    assert svg.suffix == ".svg" and body.lstrip().startswith("<?xml") and "<svg" in body
    for text in texts:
        assert text in body
    assert not list(png.parent.glob(".*.tmp"))  # written through temporary files


def test_confusion_shows_only_classes_in_play(tmp_path):
    cm = np.zeros((7, 7), dtype=int)
    cm[0, 0], cm[0, 6], cm[3, 3], cm[6, 6], cm[6, 1] = 12, 3, 40, 51, 2  # corn, wheat, other; soybeans predicted
    paths = plot_confusion(cm, tmp_path / "cm", "FRA→BEL")
    assert_png_svg(paths, "corn", "soybeans", "wheat", "other", "FRA→BEL", "51")
    svg = paths[1].read_text()
    assert "cotton" not in svg and "sugarcane" not in svg and "rice" not in svg


def test_band_time_grid_and_importance_bars(tmp_path):
    maps = {"corn|BEL": np.random.default_rng(0).random((10, 43)), "wheat|NLD": np.ones((10, 43))}
    assert_png_svg(plot_band_time(maps, tmp_path / "cam", "Grad-CAM", bin_days=np.arange(43) * 5.0 + 2.5),
                   "B8A", "corn", "wheat", "BEL", "NLD")
    assert_png_svg(plot_importance_bars(np.array([0.1, 0.5, 0.2]), ["B8_c", "GCVI_sin1", "B11_cos2"],
                                        tmp_path / "imp", "importance", top=2), "GCVI_sin1", "B11_cos2")
    assert "B8_c" not in (tmp_path / "imp.svg").read_text()  # only the top 2


def test_tsne_separates_two_synthetic_clusters(tmp_path):
    """Synthetic features (two well-separated Gaussian clusters) stay separated in the embedding."""
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (40, 20)), rng.normal(8, 1, (40, 20))])
    labels = np.repeat([0, 3], 40)
    emb = tsne_embedding(features)
    assert emb.shape == (80, 2)
    centre = emb[:40].mean(axis=0), emb[40:].mean(axis=0)
    spread = max(emb[:40].std(axis=0).max(), emb[40:].std(axis=0).max())
    assert np.linalg.norm(centre[0] - centre[1]) > 3 * spread
    groups = np.array(["FRA"] * 40 + ["BEL"] * 40, dtype=object)
    assert_png_svg(plot_tsne(emb, labels, groups, [("both", ["FRA", "BEL"])], tmp_path / "tsne"), "FRA: corn",
                   "BEL: wheat")


def test_experiment_draws_every_insight_figure(tiny_experiment):
    run, out, _ = tiny_experiment
    index = json.loads((out / "figures" / "index.json").read_text())
    sections = [e["section"] for e in index]
    assert sections.count("Confusion matrices") == 4  # 2 models x 2 transfers
    assert {"Class activation maps", "Mean NDVI curves", "t-SNE of median features",
            "Random Forest importance"} <= set(sections)
    for entry in index:
        assert_png_svg([out / "figures" / f"{entry['stem']}.{fmt}" for fmt in ("png", "svg")])
    cam = (out / "figures" / "cam__cropnet_2d_aug__FRA.svg").read_text()
    assert "FRA→BEL patch" in cam and "corn" in cam and "wheat" in cam  # per class and per target
    ndvi = (out / "figures" / "ndvi_curves.svg").read_text()
    assert "BEL_patch (2019)" in ndvi and "FRA (2023)" in ndvi
    assert len(run.figures) == 2 * len(index)
