"""`gee-crop train --init-from` through the CLI: defaults from the source, one-line user errors."""
from __future__ import annotations

import dataclasses
import shutil

from click.testing import CliRunner

import gee_crop.pipeline.train as pipeline_train
from gee_crop.cli import main
from gee_crop.models.io import load_model
from gee_crop.models.zoo import zoo_models
from tests.cli.errors import user_error




def test_cli_fine_tunes_with_the_sources_settings(source, bel_table, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(bel_table), "--out", str(out), "--init-from", str(source),
                                       "--epochs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"fine-tuning {source} (cropnet2d" in result.output and "validated on 0" in result.output
    _, meta = load_model(out / "model.pt")
    config = meta["train_config"]
    # --widths, --lr and --max-gap-bins were left at the CLI's defaults: the source's settings apply
    assert config["widths"] == [8, 8, 8, 8] and config["max_gap_bins"] == 12
    assert config["learning_rate"] < 1e-3 and config["epochs"] == 1
    assert meta["init_from"]["name"] == str(source)


def test_cli_refuses_options_that_contradict_the_source(source, bel_table, tmp_path):
    result = CliRunner().invoke(main, ["train", str(bel_table), "--out", str(tmp_path / "run"), "--init-from",
                                       str(source), "--widths", "16,16,16,16", "--quiet"])
    user_error(result, "widths (16, 16, 16, 16) (the source's: (8, 8, 8, 8))", "drop these options")


def test_cli_names_the_fix_for_a_zoo_model_shipped_without_torch_weights(bel_table, tmp_path, monkeypatch):
    """The zoo ships int8 ONNX; without `<name>.pt` beside it, --init-from NAME says what is missing."""
    shipped = []
    for model in zoo_models():
        shutil.copy(model.path, tmp_path / model.path.name)
        shipped.append(dataclasses.replace(model, path=tmp_path / model.path.name))
    monkeypatch.setattr(pipeline_train, "zoo_models", lambda: shipped)
    name = shipped[0].name
    result = CliRunner().invoke(main, ["train", str(bel_table), "--out", str(tmp_path / "run"), "--init-from",
                                       name, "--quiet"])
    user_error(result, f"the zoo model {name} only as int8 ONNX", f"fp32 torch weights ({name}.pt)",
                "install a gee-crop release that ships")
