"""Issue 23: the shipped zoo model fine-tuned on a real table with a class it does not predict (France
2023 WorldCereal samples, soybeans kept as their own class): train, evaluate, export and map end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import write_table
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.export.cards import card_text, read_card
from gee_crop.models.io import load_model
from gee_crop.models.zoo import zoo_model
from gee_crop.testing.paths import shared_data_dir

ZOO = "tempcnn-weu"


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """Real France 2023 samples: a training table (every soybean but three, 40 others) and a test table."""
    series = read_worldcereal(shared_data_dir() / "wc-extractions" / "2023_FRA_LPIS_POLY_110_dekadal.geoparquet")
    names = series.crop_class.astype(str)
    rng = np.random.default_rng(0)
    soy, rest = rng.permutation(np.flatnonzero(names == "soybeans")), rng.permutation(np.flatnonzero(names != "soybeans"))
    folder = tmp_path_factory.mktemp("fra23")
    train_rows, test_rows = np.sort(np.r_[soy[3:], rest[:40]]), np.sort(np.r_[soy[:3], rest[40:80]])
    return (write_table(series.subset(train_rows), folder / "train.parquet"),
            write_table(series.subset(test_rows), folder / "test.parquet"))


def test_the_zoo_model_learns_soybeans_and_maps_the_demo_patch(tables, tmp_path, patch_dir):
    train_table, test_table = tables
    run = tmp_path / "run"
    trained = CliRunner().invoke(main, ["train", str(train_table), "--out", str(run), "--init-from", ZOO,
                                        "--epochs", "3", "--quiet"])
    assert trained.exit_code == 0, trained.output
    heads = [line for line in trained.output.splitlines() if "new head for 7 classes" in line]
    assert heads and "(kept corn, wheat, other, added soybeans, rice, sugarcane, cotton)" in heads[0]
    assert "encoder frozen" not in heads[0]  # by default every layer learns (FREEZE_ENCODER_DEFAULT)
    model, meta = load_model(run / "model.pt")
    assert meta["init_from"]["name"] == ZOO and meta["init_from"]["head"]["classes_added"][0] == "soybeans"
    assert "output_classes" not in meta  # the new head predicts the table's classes, soybeans included
    zoo, _ = load_model(zoo_model(ZOO).path.with_name(f"{ZOO}.pt"))
    old, new = zoo.state_dict(), model.state_dict()
    encoder = [k for k in old if not k.startswith("head.5.") and old[k].is_floating_point()]
    assert not all(torch.equal(old[k], new[k]) for k in encoder)  # the encoder learned too
    assert not torch.equal(old["head.5.bias"], new["head.5.bias"])

    evaluated = CliRunner().invoke(main, ["evaluate", str(run / "model.pt"), str(test_table), "--out",
                                          str(tmp_path / "eval")])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["per_class"]["soybeans"]["support"] == 3  # scored as a class of its own, not as other

    onnx_path = tmp_path / "model.onnx"
    exported = CliRunner().invoke(main, ["export", str(run / "model.pt"), "--out", str(onnx_path)])
    assert exported.exit_code == 0, exported.output
    assert "classes added: soybeans, rice, sugarcane, cotton" in card_text(read_card(onnx_path))

    mapped = CliRunner().invoke(main, ["map", "--source", str(patch_dir), "--model", str(onnx_path), "--out",
                                       str(tmp_path / "map"), "--tile-size", "64", "--scheduler", "synchronous",
                                       "--quiet"])
    assert mapped.exit_code == 0, mapped.output
    assert (tmp_path / "map" / "map.tif").is_file() and "map accuracy vs the source's label raster" in mapped.output
