"""The experiment, report and info commands (click commands invoked directly)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from gee_crop.cli.experiment import command as experiment
from gee_crop.cli.info import command as info
from gee_crop.cli.report import command as report
from gee_crop.errors import ExperimentConfigError, ModelFileError


def test_experiment_command_resumes_and_prints_the_table(experiment_copy, tiny_config):
    result = CliRunner().invoke(experiment, [str(tiny_config), "--out", str(experiment_copy), "--no-figures"])
    assert result.exit_code == 0, result.output
    assert "0 of 8 (combination, seed) results computed, 8 reused" in result.output
    assert "| RF 1D | – |" in result.output and "±" in result.output
    assert (experiment_copy / "report.html").is_file()


def test_experiment_command_rejects_a_bad_file_and_bad_seeds(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: {A: {path: a.parquet}}\ntransfers: [{source: A, target: B}]\nmodels: [{arch: x}]\n")
    result = CliRunner().invoke(experiment, [str(bad), "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, ExperimentConfigError)
    assert "target 'B' is not a dataset" in str(result.exception)
    result = CliRunner().invoke(experiment, [str(bad), "--out", str(tmp_path / "o"), "--seeds", "0,x"])
    assert result.exit_code == 2 and "comma-separated integer seeds" in result.output


def test_report_command(experiment_copy, tmp_path):
    result = CliRunner().invoke(report, [str(experiment_copy), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0 and (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_info_prints_the_card_with_transfer_scores(experiment_copy):
    model = experiment_copy / "models" / "cropnet_2d_aug" / "FRA" / "seed0" / "model.pt"
    results = [json.loads((experiment_copy / "runs" / "cropnet_2d_aug" / t / "seed0.json").read_text())
               for t in ("FRA-BEL", "FRA-BEL_patch")]
    result = CliRunner().invoke(info, [str(model)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("# Model card: gee-crop cropnet2d")
    assert "regions: FRA" in out and "## Known limits" in out and "## Transfer scores" in out
    for r in results:
        assert f"- {r['transfer']}: OA {100 * r['overall_accuracy']:.2f} %" in out
    card = json.loads(CliRunner().invoke(info, [str(model), "--json"]).output)
    assert [s["target"] for s in card["transfer_scores"]] == ["BEL", "BEL_patch"]
    rf = experiment_copy / "models" / "rf_1d" / "FRA" / "seed1" / "model.onnx"
    assert "FRA→BEL: OA" in CliRunner().invoke(info, [str(rf)]).output


def test_info_reads_an_exported_onnx_model(experiment_copy, tmp_path):
    from gee_crop.export.onnx import export_onnx

    onnx_path = export_onnx(experiment_copy / "models" / "cropnet_2d_aug" / "FRA" / "seed0" / "model.pt",
                            tmp_path / "fra.onnx")
    result = CliRunner().invoke(info, [str(onnx_path)])
    assert result.exit_code == 0, result.output
    assert "# Model card: gee-crop cropnet2d" in result.output
    assert "classes corn, soybeans, rice, wheat, sugarcane, cotton, other" in result.output
    assert "43 bins of 5 days" in result.output and "## Transfer scores" in result.output


def test_info_on_a_file_that_is_not_a_model(tmp_path):
    junk = tmp_path / "notes.onnx"
    junk.write_text("hello")
    result = CliRunner().invoke(info, [str(junk)])
    assert isinstance(result.exception, ModelFileError) and "not an ONNX model" in str(result.exception)


def test_commands_are_registered_and_user_errors_print_one_line(tmp_path):
    from gee_crop.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: {A: {path: a.parquet}}\ntransfers: [{source: A, target: A}]\n"
                   "models: [{arch: cropnet2d}]\n")
    result = CliRunner().invoke(main, ["experiment", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {bad}: transfers[0]: training and testing on the same samples measures nothing; add "
        "'split: 0.2' for the paper's 80/20 in-region split"]  # the file and the key
    for name in ("experiment", "report", "info"):
        assert CliRunner().invoke(main, [name, "--help"]).exit_code == 0
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "no results.json" in result.output
