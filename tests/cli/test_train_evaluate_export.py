"""`gee-crop train / evaluate / export` through the CLI, and their one-line user errors (exit 1)."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import to_arrow, write_table
from tests.training.realdata import MAX_GAP_BINS, TINY_WIDTHS, labelled_pixels, one_torch_thread, table_file
from tests.cli.errors import user_error


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`gee-crop train` on the real pixel table: 3 epochs, tiny widths."""
    table = table_file(tmp_path_factory)
    out = tmp_path_factory.mktemp("cli_run")
    result = CliRunner().invoke(main, ["train", str(table), "--out", str(out), "--epochs", "3",
                                       "--widths", ",".join(map(str, TINY_WIDTHS)), "--lr", "3e-3",
                                       "--batch-size", "32", "--max-gap-bins", str(MAX_GAP_BINS),
                                       "--quiet", "--seed", "1"])
    assert result.exit_code == 0, result.output
    return table, out, result.output


def test_train_writes_a_run_folder(trained):
    _, out, output = trained
    assert "dropped 0 of 360 samples" in output and "validation OA" in output
    assert {p.name for p in out.iterdir()} >= {"model.pt", "config.json", "history.csv", "checkpoint.pt"}
    config = json.loads((out / "config.json").read_text())
    assert config["train_config"]["epochs"] == 3 and config["train_config"]["seed"] == 1
    assert config["train_config"]["widths"] == list(TINY_WIDTHS)


def test_train_resume_with_more_epochs(trained, tmp_path):
    table, out, _ = trained
    run = tmp_path / "run"
    args = ["train", str(table), "--out", str(run), "--widths", "8,16,32,64", "--max-gap-bins",
            str(MAX_GAP_BINS), "--no-augment", "--val-fraction", "0.2"]
    assert CliRunner().invoke(main, args + ["--epochs", "1"]).exit_code == 0
    again = CliRunner().invoke(main, args + ["--epochs", "1"])
    user_error(again, "already holds a training run", "--resume")
    resumed = CliRunner().invoke(main, args + ["--epochs", "2", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in resumed.output
    assert "training: 100%" in resumed.output and "2/2" in resumed.output  # the progress bar, finished
    assert len((run / "history.csv").read_text().splitlines()) == 3  # header + 2 epochs


def test_evaluate_prints_and_writes(trained, tmp_path):
    table, out, _ = trained
    result = CliRunner().invoke(main, ["evaluate", str(out / "model.pt"), str(table), "--out", str(tmp_path),
                                       "--target-region", "ARG", "--source-region", "USA"])
    assert result.exit_code == 0, result.output
    assert "USA -> ARG" in result.output and "counted as other" in result.output
    assert "OA" in result.output and "macro-F1" in result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["alignment"]["target_classes"] == ["soybeans", "other"]
    assert (tmp_path / "confusion_matrix.csv").exists() and (tmp_path / "confusion_matrix.png").exists()


def test_evaluate_record_puts_the_scores_in_the_exported_card(trained, tmp_path):
    import shutil

    table, out, _ = trained
    model = tmp_path / "model.pt"
    shutil.copy(out / "model.pt", model)
    result = CliRunner().invoke(main, ["evaluate", str(model), str(table), "--out", str(tmp_path / "eval"),
                                       "--record"])
    assert result.exit_code == 0, result.output
    oa = json.loads((tmp_path / "eval" / "metrics.json").read_text())["overall_accuracy"]
    onnx_path = tmp_path / "model.onnx"
    assert CliRunner().invoke(main, ["export", str(model), "--out", str(onnx_path)]).exit_code == 0
    info = CliRunner().invoke(main, ["info", str(onnx_path)])
    assert info.exit_code == 0, info.output
    transfer = info.output.split("## Transfer scores")[1]
    assert table.stem in transfer and f"OA {100 * oa:.2f} %" in transfer


def test_export_and_its_parity_line(trained, tmp_path):
    _, out, _ = trained
    target = tmp_path / "model.onnx"
    result = CliRunner().invoke(main, ["export", str(out / "model.pt"), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "parity: max |dprob| =" in result.output and "real samples" in result.output
    diff = float(result.output.split("max |dprob| = ")[1].split()[0])
    assert diff < 1e-4
    assert (tmp_path / "model_card.md").exists()
    from gee_crop.models.io import read_model_meta

    # the domain guard's footprint travels with the export (models/domain.py): trained on Flanders pixels
    assert read_model_meta(target)["training_footprint"] == read_model_meta(out / "model.pt")["training_footprint"]
    assert read_model_meta(target)["training_footprint"]["zone_counts"].keys() == {"Cfb"}
    again = CliRunner().invoke(main, ["export", str(out / "model.pt"), "--out", str(target)])
    user_error(again, str(target), "--overwrite")
    assert CliRunner().invoke(main, ["export", str(out / "model.pt"), "--out", str(target),
                                     "--overwrite"]).exit_code == 0


def test_export_quantize_writes_an_int8_model_that_agrees_on_real_pixels(trained, tmp_path):
    import onnx

    from gee_crop.export.onnx import real_inputs
    from gee_crop.models.io import read_contract, read_onnx_metadata
    from gee_crop.models.predict import open_predictor

    table, out, _ = trained
    target = tmp_path / "model.onnx"
    result = CliRunner().invoke(main, ["export", str(out / "model.pt"), "--out", str(target),
                                       "--table", str(table), "--quantize"])
    assert result.exit_code == 0, result.output
    int8 = tmp_path / "model.int8.onnx"
    assert f"wrote {int8}" in result.output and "calibrated on" in result.output
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert read_onnx_metadata(int8)["classes"] == read_onnx_metadata(target)["classes"]
    inputs = real_inputs(read_contract(out / "model.pt"), table)
    agree = (open_predictor(int8).predict_proba(inputs).argmax(1)
             == open_predictor(target).predict_proba(inputs).argmax(1)).mean()
    assert agree >= 0.9


def test_table_missing_a_band_column(tmp_path):
    table = to_arrow(labelled_pixels().subset(np.arange(5))).drop_columns(["B12"])
    pq.write_table(table, tmp_path / "no_b12.parquet")
    result = CliRunner().invoke(main, ["train", str(tmp_path / "no_b12.parquet"), "--out", str(tmp_path / "r")])
    user_error(result, "B12")


def test_model_files_that_are_not_gee_crop_models(trained, tmp_path):
    table = trained[0]
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    weights = tmp_path / "weights.pt"
    torch.save(torch.load(trained[1] / "model.pt", weights_only=True)["state_dict"], weights)
    for path in (noise, weights):
        user_error(CliRunner().invoke(main, ["evaluate", str(path), str(table), "--out", str(tmp_path / "e")]),
                    "is not a gee-crop model", "gee-crop train")
        user_error(CliRunner().invoke(main, ["export", str(path), "--out", str(tmp_path / "m.onnx")]),
                    "is not a gee-crop model")


def test_season_outside_the_data(trained, tmp_path):
    result = CliRunner().invoke(main, ["train", str(trained[0]), "--out", str(tmp_path), "--year", "2030"])
    user_error(result, "2030", "year=2019")
    result = CliRunner().invoke(main, ["evaluate", str(trained[1] / "model.pt"), str(trained[0]),
                                       "--out", str(tmp_path), "--year", "2015"])
    user_error(result, "2015")


def test_unknown_class_name(tmp_path):
    series = labelled_pixels().subset(np.arange(5))
    series.crop_class[:] = "banana"
    write_table(series, tmp_path / "bananas.parquet")
    result = CliRunner().invoke(main, ["train", str(tmp_path / "bananas.parquet"), "--out", str(tmp_path / "r")])
    user_error(result, "'banana'", "corn")


def test_export_quantize_calibrates_on_the_calibration_table_else_on_shipped_pixels(trained, tmp_path):
    """Issue 11: --calibration TABLE (the user's own samples), else pixels of the demo patch shipped in
    the package (64: every 8th row and column of its 64 x 64 px)."""
    from gee_crop.data.table import read_table

    table, out, _ = trained
    shipped = CliRunner().invoke(main, ["export", str(out / "model.pt"), "--out", str(tmp_path / "a.onnx"),
                                        "--quantize"])
    assert shipped.exit_code == 0, shipped.output
    assert "calibrated on 64 real samples" in shipped.output and "on 64 real samples" in shipped.output
    own = CliRunner().invoke(main, ["export", str(out / "model.pt"), "--out", str(tmp_path / "b.onnx"),
                                    "--quantize", "--calibration", str(table)])
    assert own.exit_code == 0, own.output
    n_table = min(len(read_table(table)), 512)
    assert f"calibrated on {n_table} real samples" in own.output and n_table != 64
    assert (tmp_path / "b.int8.onnx").is_file()
