"""`gee-crop demo` end to end on the shipped real patch (short CropNet schedule to keep CI fast)."""
from __future__ import annotations

import json

import rasterio
from click.testing import CliRunner

from gee_crop.cli import main


def test_demo_samples_trains_evaluates_exports_and_maps(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--epochs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "demo_summary.json").read_text())

    # held-out blocks are never trained on, and every class of the patch is on both sides
    assert summary["n_train"] + summary["n_test"] == 1119
    assert set(summary["class_counts"]["test"]) == {"corn", "wheat", "other"}
    assert "Held-out evaluation on" in result.output and "RF-500 1D" in result.output
    # RF-500 on 1D medians separates the three classes of the real patch well
    assert summary["scores"]["RF-500 1D"]["oa"] > 0.95
    assert 0.0 <= summary["scores"]["CropNet 2D"]["oa"] <= 1.0
    assert summary["onnx_max_abs_diff"] < 1e-4
    # one honest score: the shipped zoo model, trained on France 2022/2023 and Belgium 2021 and never
    # on this patch, evaluated on the same held-out samples
    cross = summary["cross_domain"]
    assert cross["model"] == "tempcnn-weu" and 0 < cross["n_test"] <= summary["n_test"]
    assert not any("2019" in domain for domain in cross["trained_on"])
    assert 0.3 < cross["oa"] <= 1.0 and "never on this patch" in result.output

    with rasterio.open(summary["map_outputs"]["cog"]) as cog:
        assert cog.count == 2 and cog.width == 64 and cog.height == 64
        assert cog.colormap(1)[6][:3] == (190, 190, 190)  # "other" in the class palette
    assert "map accuracy vs the label raster" in result.output
    assert 0.0 <= summary["map_scores"]["map_oa_held_out_samples"] <= 1.0
    # the map is assessed as map producers report it: stratified sample, areas with 95 % CIs
    assessment = summary["assessment"]
    assert assessment["n_points"] >= 150 and 0.0 < assessment["overall_accuracy"] <= 1.0
    assert set(assessment["area_ha"]) == {"corn", "wheat", "other"}
    assert (out / "assessment" / "assessment.html").is_file() and "stratified estimate" in result.output

    card = CliRunner().invoke(main, ["info", summary["onnx"]])
    assert "held-out blocks" in card.output.split("## Transfer scores")[1]
    assert "train.parquet" in card.output

    again = CliRunner().invoke(main, ["demo", "--out", str(out), "--epochs", "2", "--quiet"])
    assert again.exit_code == 1 and "--overwrite" in again.output
