"""An RF-500 on EMIT June+August medians trains, is scored, is written as ONNX with an EMIT contract,
and predicts through open_predictor exactly as the forest does; a map refuses it by name. Features are
REAL EMIT spectra (../shared/data/emit: 10 VITALS points, 5 Argentina points, 100 cube pixels); their
months and classes are SYNTHETIC (no labelled EMIT June/August pair exists in the shared data)."""

from __future__ import annotations

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
