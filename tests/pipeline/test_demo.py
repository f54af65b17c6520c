"""`gee-crop demo` end to end on the shipped real patch (short CropNet schedule to keep CI fast)."""
from __future__ import annotations

import csv
import json

import numpy as np
import rasterio
from click.testing import CliRunner

from gee_crop.classes import NO_CLASS
from gee_crop.cli import main
from gee_crop.data.patch import read_patch
from gee_crop.data.table import read_table
from gee_crop.testing.paths import demo_patch_dir
from tests.assessment.hand_count import parcel_hand_count


def confusion_matrix(path) -> np.ndarray:
    """The counts of an evaluation's confusion_matrix.csv (rows truth, columns prediction)."""
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    return np.array([[int(v) for v in row[1:]] for row in rows])


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
    # the CropNet score is its confusion matrix's: correct over scored held-out samples, every one scored
    cropnet = confusion_matrix(out / "cropnet" / "evaluation" / "confusion_matrix.csv")
    assert cropnet.sum() == summary["scores"]["CropNet 2D"]["n_test"] == summary["n_test"]
    assert summary["scores"]["CropNet 2D"]["oa"] == np.trace(cropnet) / cropnet.sum()
    assert summary["onnx_max_abs_diff"] < 1e-4
    # one honest score: the shipped zoo model, trained on France 2022/2023 and Belgium 2021 and never
    # on this patch, evaluated on the same held-out samples
    cross = summary["cross_domain"]
    assert cross["model"] == "tempcnn-weu" and 0 < cross["n_test"] <= summary["n_test"]
    assert not any("2019" in domain for domain in cross["trained_on"])
    majority = max(summary["class_counts"]["test"].values()) / summary["n_test"]  # 170 of 267 are "other"
    assert cross["oa"] > majority and "never on this patch" in result.output

    with rasterio.open(summary["map_outputs"]["cog"]) as cog:
        assert cog.count == 2 and cog.width == 64 and cog.height == 64
        assert cog.colormap(1)[6][:3] == (190, 190, 190)  # "other" in the class palette
    assert "map accuracy vs the label raster" in result.output
    # the map's score is the share of held-out pixels (test.parquet's rows and columns) where the map's
    # class band equals the patch's label raster
    with rasterio.open(out / "map" / "map.tif") as cog:
        mapped = cog.read(1)
    truth = read_patch(demo_patch_dir()).classes
    held_out = read_table(out / "test.parquet").extra
    rows, cols = held_out["row"], held_out["col"]
    assert len(set(zip(rows.tolist(), cols.tolist()))) == summary["n_test"]  # one pixel per sample
    assert summary["map_scores"]["map_oa_held_out_samples"] == (mapped[rows, cols] == truth[rows, cols]).mean()
    # the map is assessed as map producers report it: stratified sample, areas with 95 % CIs; the estimate's
    # CI holds the census accuracy of the mapped parcel pixels (the whole label raster)
    assessment = summary["assessment"]
    parcels = (truth != NO_CLASS) & (mapped != NO_CLASS)
    census = (mapped[parcels] == truth[parcels]).mean()
    assert assessment["n_points"] >= 150
    assert abs(assessment["overall_accuracy"] - census) <= assessment["overall_accuracy_ci95"]
    assert set(assessment["area_ha"]) == {"corn", "wheat", "other"}
    assert (out / "assessment" / "assessment.html").is_file() and "stratified estimate" in result.output
    # the parcel-level OA printed beside the pixel OA is the hand count over the label raster's parcels
    correct, counted, flagged = parcel_hand_count(truth, mapped)
    assert summary["map_scores"]["map_oa_parcels"] == correct / counted
    assert summary["assessment"]["parcels"]["flagged"]["parcels"] == flagged
    assert (
        f"map per parcel ({correct} of {counted} label parcels, flagged ones left out): OA "
        f"{100 * correct / counted:.2f} %, beside the pixel OA {100 * summary['map_scores']['map_oa_all_labelled']:.2f} %"
    ) in result.output
    assert (out / "map" / "parcels.gpkg").is_file() and (out / "assessment" / "parcel_assessment.csv").is_file()

    card = CliRunner().invoke(main, ["info", summary["onnx"]])
    assert "held-out blocks" in card.output.split("## Transfer scores")[1]
    assert "train.parquet" in card.output

    again = CliRunner().invoke(main, ["demo", "--out", str(out), "--epochs", "2", "--quiet"])
    assert again.exit_code == 1 and "--overwrite" in again.output
