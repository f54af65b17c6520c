"""`gee-crop cube` through the CLI on the real demo patch, and the one-line refusals between cubes, tables
and raw stacks (train, evaluate, map --source)."""
from __future__ import annotations

import builtins
import json

import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.demo import demo_patch_dir
from tests.cli.errors import user_error

MODELS = demo_patch_dir().parents[1] / "models"


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_cube") / "demo.zarr"
    result = CliRunner().invoke(main, ["cube", "--source", str(demo_patch_dir()), "--buffer-m", "10",
                                       "--block-px", "32", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_cube_command_reports_its_pixels_and_refuses_to_overwrite(cube):
    out, output = cube
    assert "wrote 2885 labelled pixels (corn 306, wheat 1070, other 1509) in 4 blocks" in output
    attrs = json.loads((out / "zarr.json").read_text())["attributes"]
    assert attrs["block_px"] == 32 and len(attrs["block_class_counts"]) == 4
    again = CliRunner().invoke(main, ["cube", "--source", str(demo_patch_dir()), "--out", str(out)])
    user_error(again, "exists", "--overwrite")


def test_map_source_refuses_a_cube(cube, tmp_path):
    result = CliRunner().invoke(main, ["map", "--source", str(cube[0]), "--out", str(tmp_path / "m")])
    user_error(result, "composite cube", "not a raw stack")


def test_train_and_evaluate_refuse_a_raw_stack_naming_the_cube_command(tmp_path):
    train = CliRunner().invoke(main, ["train", str(demo_patch_dir()), "--out", str(tmp_path / "run")])
    user_error(train, "raw stack", "gee-crop cube --source")
    evaluate = CliRunner().invoke(main, ["evaluate", str(MODELS / "tempcnn-weu.pt"), str(demo_patch_dir()),
                                         "--out", str(tmp_path / "ev")])
    user_error(evaluate, "raw stack", "gee-crop cube --source")


def test_evaluate_scores_a_shipped_model_on_every_pixel_of_the_cube(cube, tmp_path):
    result = CliRunner().invoke(main, ["evaluate", str(MODELS / "tempcnn-weu.pt"), str(cube[0]),
                                       "--out", str(tmp_path / "ev"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["n_table_samples"] == 2885
    assert 0.3 < metrics["overall_accuracy"] <= 1.0  # a Western-Europe model on Flanders pixels


def test_cube_without_zarr_says_how_to_install_it(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_zarr(name, *args, **kwargs):
        if name == "zarr":
            raise ImportError("No module named 'zarr'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zarr)
    result = CliRunner().invoke(main, ["cube", "--source", str(demo_patch_dir()), "--out", str(tmp_path / "c.zarr")])
    user_error(result, "zarr", "pip install 'gee-crop[cube]'")
    assert not (tmp_path / "c.zarr").exists()
