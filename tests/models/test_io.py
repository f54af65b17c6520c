"""Model files: round trips, the one contract reader (by content, not suffix), and clear errors for
files that are not gee-crop models."""
from __future__ import annotations

import json
import pickle
import shutil

import joblib
import numpy as np
import onnx
import pytest
import torch

from gee_crop.errors import ModelFileError
from gee_crop.export.onnx import export_onnx
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.cropnet import CropNet2D
from gee_crop.models.forest import fit_random_forest, forest_probabilities
from gee_crop.models.io import (convert_command, file_kind, load_model, load_pickled_forest, read_contract,
                                read_model_meta, save_forest, save_model, update_model_meta)
from gee_crop.models.predict import open_predictor
from gee_crop.season import Season

META = {"classes": ["corn", "soybeans", "rice", "wheat", "sugarcane", "cotton", "other"],
        "bands": ["B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"],
        "season": {"start_month_day": [5, 1], "length_days": 213, "window_days": 5, "n_bins": 43,
                   "year_trained": 2019},
        "cloud_threshold": 0.75, "max_gap_bins": 8, "feature_kind": "median2d"}
CONTRACT = FeatureSpec.from_meta(META)
EXTRA = {"train_config": {"epochs": 1, "widths": (8, 16, 32, 64)}, "metrics": {"val_oa": np.float64(0.5)}}
ARCH_KWARGS = {"n_bins": 43, "widths": [8, 16, 32, 64]}


def _two_clusters():
    """Synthetic features: two separable clusters of 4 features, classes corn (0) and other (6)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (30, 4)), rng.normal(5, 1, (30, 4))]).astype(np.float32)
    return x, np.repeat([0, 6], 30)


@pytest.fixture
def model_pt(tmp_path):
    torch.manual_seed(0)
    model = CropNet2D(**ARCH_KWARGS).eval()
    model.set_normalization(np.full(10, 0.1), np.full(10, 0.05))
    return model, save_model(tmp_path / "model.pt", model, "cropnet2d", ARCH_KWARGS, CONTRACT, **EXTRA)


@pytest.fixture
def forest_onnx(tmp_path):
    """A 10-tree forest on 4 synthetic features, saved as model.onnx (contract: harmonic-like flat input)."""
    x, y = _two_clusters()
    forest = fit_random_forest(x, y, n_estimators=10)
    contract = FeatureSpec("median1d", season=Season(length_days=10, window_days=25), bands=("B2", "B3", "B4", "B8"))
    assert contract.n_features == 4
    return forest, save_forest(tmp_path / "model.onnx", forest, {"n_estimators": 10}, contract, **EXTRA,
                               feature_importances=forest.feature_importances_.tolist())


def test_cropnet_round_trip(model_pt):
    model, path = model_pt
    loaded, meta = load_model(path)
    x = torch.rand(3, 1, 10, 43)
    assert torch.equal(loaded(x), model(x))
    assert not loaded.training
    assert meta["gee_crop_model"] == "1" and meta["arch"] == "cropnet2d"
    assert meta["season"]["n_bins"] == 43 and meta["feature_kind"] == "median2d"
    # numpy scalars and tuples are stored as plain JSON types (the file loads with weights_only=True)
    assert meta["metrics"]["val_oa"] == 0.5 and meta["train_config"]["widths"] == [8, 16, 32, 64]
    assert "state_dict" not in meta
    assert not list(path.parent.glob(".*tmp"))  # atomic write left no temp file


def test_random_forest_round_trip_through_onnx(forest_onnx):
    forest, path = forest_onnx
    assert path.name == "model.onnx" and file_kind(path) == "onnx"
    meta = read_model_meta(path)
    assert meta["arch"] == "random_forest" and meta["arch_kwargs"] == {"n_estimators": 10}
    assert meta["metrics"]["val_oa"] == 0.5 and len(meta["feature_importances"]) == 4
    x, _ = _two_clusters()
    predictor = open_predictor(path)
    np.testing.assert_allclose(predictor.predict_proba(x), forest_probabilities(forest, x), atol=1e-6)
    np.testing.assert_array_equal(predictor.predict_proba(x).argmax(1), forest.predict(x))


def test_read_contract_dispatches_on_content_not_suffix(model_pt, forest_onnx, tmp_path):
    _, pt = model_pt
    _, forest = forest_onnx
    assert read_contract(pt) == CONTRACT and read_contract(pt).year_trained == 2019
    assert read_contract(forest).feature_kind == "median1d" and read_contract(forest).n_features == 4
    # the same files under misleading names
    assert read_contract(shutil.copy(pt, tmp_path / "model.onnx.bak")) == CONTRACT
    assert read_contract(shutil.copy(forest, tmp_path / "forest.pt")) == read_contract(forest)


def test_read_contract_of_an_onnx_export_and_an_update(model_pt, tmp_path):
    _, pt = model_pt
    exported = export_onnx(pt, tmp_path / "exported.bin")
    assert file_kind(exported) == "onnx" and read_contract(exported) == CONTRACT
    update_model_meta(pt, metrics={"transfers": [{"target": "x"}]})
    assert read_model_meta(pt)["metrics"] == {"transfers": [{"target": "x"}]}
    assert read_contract(pt) == CONTRACT  # weights and contract untouched
    proto = onnx.load(str(exported))
    assert {p.key for p in proto.metadata_props} >= {"classes", "bands", "season", "feature_kind", "model_card"}


def test_files_written_by_0_1_0_still_load(model_pt, tmp_path):
    """0.1.0 wrote the same dict into model.pt, and ONNX metadata strings without ``arch``."""
    model, _ = model_pt
    old_pt = tmp_path / "old.pt"
    torch.save({"gee_crop_model": "1", "arch": "cropnet2d", "arch_kwargs": ARCH_KWARGS, **META,
                "train_config": {"epochs": 1}, "metrics": {},
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, old_pt)
    assert read_contract(old_pt) == CONTRACT
    x = torch.rand(2, 1, 10, 43)
    assert torch.equal(load_model(old_pt)[0](x), model(x))
    exported = export_onnx(old_pt, tmp_path / "old.onnx")
    proto = onnx.load(str(exported))
    del proto.metadata_props[:]
    old_props = {"gee_crop_model": "1", "classes": json.dumps(META["classes"]), "bands": json.dumps(META["bands"]),
                 "season": json.dumps(META["season"]), "feature_kind": "median2d",
                 "cloud_threshold": repr(0.75), "max_gap_bins": str(8),
                 "model_card": json.dumps({"model": "cropnet2d"})}
    for key, value in old_props.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(exported))
    assert read_contract(exported) == CONTRACT
    np.testing.assert_allclose(open_predictor(exported).predict_proba(x.numpy()),
                               torch.softmax(model(x), dim=1).detach().numpy(), atol=1e-5)


def test_random_bytes_are_not_a_model(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(ModelFileError, match="is not a gee-crop model.*gee-crop train"):
        load_model(path)
    with pytest.raises(ModelFileError, match="is not a gee-crop model.*gee-crop train"):
        read_contract(path)
    text = tmp_path / "notes.onnx"
    text.write_text("not a model\n")
    with pytest.raises(ModelFileError, match="is not a gee-crop model"):
        read_contract(text)


def test_plain_state_dict_is_not_a_model(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(CropNet2D(widths=(4, 4, 4, 4)).state_dict(), path)
    with pytest.raises(ModelFileError, match="plain torch state_dict"):
        load_model(path)
    with pytest.raises(ModelFileError, match="plain torch state_dict"):
        read_contract(path)


def test_a_0_1_0_forest_pickle_is_refused_with_the_conversion_command(tmp_path):
    """gee-crop 0.1.0 wrote forests as a joblib pickle of the metadata dict + the estimator."""
    x, y = _two_clusters()
    forest = fit_random_forest(x, y, n_estimators=5)
    path = tmp_path / "model.pkl"
    joblib.dump({"gee_crop_model": "1", **META, "feature_kind": "median1d", "arch": "random_forest",
                 "arch_kwargs": {"n_estimators": 5}, "train_config": {}, "metrics": {}, "estimator": forest}, path)
    command = convert_command(path)
    assert command == f"gee-crop export {path} --out {tmp_path / 'model.onnx'} --trust-pickle"
    for read in (read_contract, load_model, open_predictor, lambda p: load_pickled_forest(p)):
        with pytest.raises(ModelFileError, match="no longer loads") as info:
            read(path)
        assert command in str(info.value) and "\n" not in str(info.value)
    with pytest.warns(UserWarning, match="trust_pickle"):
        estimator, meta = load_pickled_forest(path, trust_pickle=True)
    np.testing.assert_array_equal(estimator.predict(x), forest.predict(x))
    assert meta["arch"] == "random_forest" and "estimator" not in meta


def test_foreign_pickle_and_missing_file(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    with pytest.raises(ModelFileError, match="--trust-pickle"):
        load_model(path)
    with pytest.warns(UserWarning), pytest.raises(ModelFileError, match="without the 'gee_crop_model' key"):
        load_pickled_forest(path, trust_pickle=True)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "absent.pt")


def test_newer_format_version_is_refused(model_pt):
    _, path = model_pt
    payload = torch.load(path, weights_only=True)
    payload["gee_crop_model"] = "99"
    torch.save(payload, path)
    with pytest.raises(ModelFileError, match="format '99'.*upgrade gee-crop"):
        load_model(path)
