"""An RF-500 on EMIT June+August medians trains, is scored, is written as ONNX with an EMIT contract,
and predicts through open_predictor exactly as the forest does; a map refuses it by name. Features are
REAL EMIT spectra (../shared/data/emit: 10 VITALS points, 5 Argentina points, 100 cube pixels); their
months and classes are SYNTHETIC (no labelled EMIT June/August pair exists in the shared data)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gee_crop.data.emit import read_emit_l2a
from gee_crop.data.emit_table import EmitTable, emit_features
from gee_crop.errors import ModelFileError
from gee_crop.models.io import read_model_file
from gee_crop.models.predict import check_model_matches, open_predictor
from gee_crop.sensors import EMIT
from gee_crop.training.emit import EMIT_FEATURE_MONTHS, train_emit_forest

CLASSES = ("vegetation", "other")


@pytest.fixture(scope="module")
def tables(shared_data):
    cube = read_emit_l2a(shared_data / "emit" / "emit20250324t221005_10x10_l2a_layout.nc").select(EMIT.bands)
    spectra = cube.reshape(-1, len(EMIT.bands)).astype(np.float64)  # 100 real pixels
    red = spectra[:, EMIT.bands.index("reflectance_39")]  # 670 nm
    nir = spectra[:, EMIT.bands.index("reflectance_57")]  # 804 nm
    label = np.where((nir - red) / (nir + red) > 0.3, "vegetation", "other")  # SYNTHETIC classes from NDVI
    n = len(spectra)
    rows = []
    for month, scale in ((6, 1.0), (8, 0.9)):  # SYNTHETIC August: the same pixels 10 % darker
        part = pd.DataFrame(spectra * scale, columns=list(EMIT.bands))
        part.insert(0, "month", np.int8(month))
        part.insert(0, "crop_class", label)
        part.insert(0, "lat", np.repeat(np.arange(10), 10) * 1e-3)
        part.insert(0, "lon", np.tile(np.arange(10), 10) * 1e-3)
        rows.append(part)
    table = pd.concat(rows, ignore_index=True)
    train = table[table.lon < 0.007]
    test = table[table.lon >= 0.007]
    assert n == 100 and {"vegetation", "other"} <= set(label[:70])
    return EmitTable(train, (6, 8)), EmitTable(test, (6, 8))


def test_an_emit_forest_trains_scores_exports_and_predicts(tables, tmp_path):
    train, test = tables
    months = EMIT_FEATURE_MONTHS["emit_june_august"]
    path, metrics = train_emit_forest(train, months, tmp_path / "model.onnx", test=test, n_estimators=50, classes=CLASSES)
    assert metrics["n_train"] == 70 and metrics["n_test"] == 30
    _, truth = emit_features(test, months)
    majority = max(np.mean(truth == c) for c in CLASSES)
    assert metrics["test"]["overall_accuracy"] >= 0.85 > majority  # the classes follow the NDVI the bands carry
    model = read_model_file(path)
    contract = model.contract
    assert contract.sensor is EMIT and contract.months == (6, 8) and contract.n_features == 488
    x_test, _ = emit_features(test, months)
    proba = open_predictor(model).predict_proba(x_test)
    assert proba.shape == (30, 2) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ModelFileError, match="reads emit bands"):
        check_model_matches(contract)
    june, _ = train_emit_forest(train, (6,), tmp_path / "june.onnx", n_estimators=10, classes=CLASSES)
    assert read_model_file(june).contract.n_features == 244


@pytest.mark.parametrize(
    ("arch", "feature_set", "n_features"),
    [("cropnet1d", "emit_june_august", 488), ("random_forest", "emit_august", 244)],
)
def test_gee_crop_trains_evaluates_and_exports_an_emit_model(tables, tmp_path, arch, feature_set, n_features):
    """`gee-crop train EMIT_TABLE --features ... --arch ...`, `evaluate` and (CropNet 1D) `export` through the
    CLI on the real spectra (SYNTHETIC months and classes, as above); the ONNX export predicts as the model."""
    from click.testing import CliRunner

    from gee_crop.cli import main
    from gee_crop.data.emit_table import write_emit_table
    from tests.training.realdata import one_torch_thread

    train_path = write_emit_table(tables[0], tmp_path / "train_emit.parquet")
    test_path = write_emit_table(tables[1], tmp_path / "test_emit.parquet")
    run = CliRunner()
    common = ["--epochs", "30", "--widths", "4,4,4,4", "--lr", "1e-2", "--batch-size", "16", "--val-fraction", "0.2"]
    with one_torch_thread():
        trained = run.invoke(
            main,
            ["train", str(train_path), "--out", str(tmp_path / "run"), "--arch", arch,
             "--features", feature_set, "--quiet", *common],
        )
        assert trained.exit_code == 0, trained.output
        again = run.invoke(main, ["train", str(train_path), "--out", str(tmp_path / "run"), "--arch", arch])
        assert again.exit_code == 1 and "already holds a training run" in again.output
        model_path = tmp_path / "run" / ("model.onnx" if arch == "random_forest" else "model.pt")
        contract = read_model_file(model_path).contract
        assert contract.sensor is EMIT and contract.months == EMIT_FEATURE_MONTHS[feature_set]
        assert contract.n_features == n_features and contract.classes == ("other", "vegetation")
        scored = run.invoke(main, ["evaluate", str(model_path), str(test_path), "--out", str(tmp_path / "eval")])
        assert scored.exit_code == 0, scored.output
        metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
        _, truth = emit_features(tables[1], contract.months)
        majority = max(np.mean(truth == c) for c in CLASSES)
        assert metrics["overall_accuracy"] > majority and metrics["n_table_samples"] == 30
        if arch == "random_forest":  # already ONNX: export refuses it, as for Sentinel-2 forests
            return
        exported = run.invoke(
            main, ["export", str(model_path), "--out", str(tmp_path / "emit.onnx"), "--table", str(test_path)]
        )
        assert exported.exit_code == 0, exported.output
        without_table = run.invoke(main, ["export", str(model_path), "--out", str(tmp_path / "x.onnx")])
        assert without_table.exit_code == 1 and "give --table EMIT_TABLE" in without_table.output
        x_test, _ = emit_features(tables[1], contract.months)
        onnx_model = read_model_file(tmp_path / "emit.onnx")
        assert onnx_model.contract.sensor is EMIT and onnx_model.contract.months == contract.months
        torch_proba = open_predictor(model_path, device="cpu").predict_proba(x_test)
        onnx_proba = open_predictor(onnx_model).predict_proba(x_test)
        assert np.abs(torch_proba - onnx_proba).max() < 1e-4


def test_emit_feature_sets_need_an_emit_table_and_back(tables, tmp_path, tmp_path_factory):
    """An EMIT feature set on a Sentinel-2 table, and a Sentinel-2 kind on an EMIT table, are one-line errors."""
    from click.testing import CliRunner

    from gee_crop.cli import main
    from gee_crop.data.emit_table import write_emit_table
    from tests.training.realdata import table_file

    emit_path = write_emit_table(tables[0], tmp_path / "emit.parquet")
    run = CliRunner()
    wrong_kind = run.invoke(main, ["train", str(emit_path), "--out", str(tmp_path / "a"), "--features", "median2d"])
    assert wrong_kind.exit_code == 1 and "the table holds EMIT medians" in wrong_kind.output
    s2 = run.invoke(
        main, ["train", str(table_file(tmp_path_factory)), "--out", str(tmp_path / "b"), "--features", "emit_june"]
    )
    assert s2.exit_code == 1 and "is not an EMIT table" in s2.output
