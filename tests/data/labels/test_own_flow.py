"""The whole flow with a user's own labels, legend and season, offline on real data: the Flanders 2019
patch's parcels as a GeoPackage with the product's finer classes (six classes) -> sample -> train (3 tiny
epochs) -> evaluate (per-class scores) -> export -> map, whose colour table and legend follow the classes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from gee_crop.classes import NO_CLASS, class_rgba_table
from gee_crop.cli import main
from gee_crop.data.table import read_table
from gee_crop.models.io import read_contract
from gee_crop.season import Season
from tests.data.labels.conftest import FLANDERS_CLASSES
from tests.training.realdata import one_torch_thread


def _ok(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def flow(tmp_path_factory, flanders_fields, patch_dir):
    gpkg, legend = flanders_fields
    out = tmp_path_factory.mktemp("own_flow")
    outputs = {}
    with one_torch_thread():
        outputs["sample"] = _ok(["sample", "--source", str(patch_dir), "--labels", str(gpkg), "--label-field", "ct",
                                 "--legend", str(legend), "--buffer-m", "20", "--spacing-m", "10",
                                 "--per-cell", "2000", "--season-start", "03-15", "--season-days", "200",
                                 "--window-days", "10", "--out", str(out / "fields.parquet")])
        outputs["train"] = _ok(["train", str(out / "fields.parquet"), "--out", str(out / "run"), "--epochs", "3",
                                "--widths", "8,16,32,64", "--lr", "3e-3", "--batch-size", "32", "--max-gap-bins", "6",
                                "--quiet", "--seed", "1"])
        outputs["evaluate"] = _ok(["evaluate", str(out / "run" / "model.pt"), str(out / "fields.parquet"),
                                   "--out", str(out / "eval")])
        outputs["export"] = _ok(["export", str(out / "run" / "model.pt"), "--out", str(out / "model.onnx"),
                                 "--table", str(out / "fields.parquet")])
        outputs["map"] = _ok(["map", "--model", str(out / "model.onnx"), "--source", str(patch_dir), "--out",
                              str(out / "map"), "--workers", "1", "--scheduler", "threads"])
    return out, outputs


def test_the_table_carries_the_legend_and_the_season(flow):
    out, outputs = flow
    table = read_table(out / "fields.parquet")
    assert table.classes == FLANDERS_CLASSES
    counts = {c: int((table.crop_class == c).sum()) for c in table.classes}
    assert min(counts.values()) >= 10 and counts["winter_wheat"] > counts["sugar_beet"]
    assert table.season == Season((3, 15), 200, 10, 0)
    assert "winter_wheat" in outputs["sample"] and "grassland" in outputs["sample"]


def test_the_model_contract_follows_the_table(flow):
    out, outputs = flow
    for model in (out / "run" / "model.pt", out / "model.onnx"):
        contract = read_contract(model)
        assert contract.classes == FLANDERS_CLASSES
        assert contract.season == Season((3, 15), 200, 10, 0) and contract.n_bins == 20
    assert "season 2019" in outputs["train"]
    card = (out / "model_card.md").read_text()
    assert "the same calendar date in both hemispheres" in card and "No training samples" not in card
    assert "winter_wheat, maize, winter_barley, sugar_beet, grassland, other" in card


def test_evaluation_reports_per_class_scores(flow):
    out, outputs = flow
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["classes"] == list(FLANDERS_CLASSES)
    assert set(metrics["per_class"]) == set(FLANDERS_CLASSES)
    assert metrics["per_class"]["winter_wheat"]["support"] > 100
    assert metrics["per_class"]["grassland"]["f1"] > 0.5  # a big, distinct class learns in 3 epochs
    header = (out / "eval" / "confusion_matrix.csv").read_text().splitlines()[0]
    assert header == "reference\\predicted," + ",".join(FLANDERS_CLASSES)
    assert "sugar_beet" in outputs["evaluate"] and "winter_barley" in outputs["evaluate"]


def test_the_map_has_the_classes_colour_table_and_legend(flow):
    out, outputs = flow
    with rasterio.open(out / "map" / "map.tif") as src:
        tags = src.tags(1)
        colours = src.colormap(1)
        mapped = src.read(1)
        season = json.loads(src.tags()["gee_crop_season"])
    assert json.loads(tags["class_names"]) == list(FLANDERS_CLASSES)
    table = class_rgba_table(FLANDERS_CLASSES)
    assert all(colours[k] == tuple(table[k]) for k in range(len(FLANDERS_CLASSES)))
    assert colours[NO_CLASS][3] == 0
    assert set(np.unique(mapped)) <= set(range(len(FLANDERS_CLASSES))) | {NO_CLASS}
    assert season["season"]["start"] == "2019-03-15" and season["season"]["n_bins"] == 20
    rows = (out / "map" / "areas.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == list(FLANDERS_CLASSES)
    assert (out / "map" / "map.png").stat().st_size > 10_000
