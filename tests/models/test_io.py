"""Model files: round trips and clear errors for files that are not gee-crop models."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from gee_crop.errors import ModelFileError
from gee_crop.models.baselines import fit_random_forest
from gee_crop.models.cropnet import CropNet2D
from gee_crop.models.io import load_model, save_model, save_random_forest

META = {"classes": ["corn", "soybeans", "rice", "wheat", "sugarcane", "cotton", "other"],
        "bands": ["B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"],
        "season": {"start_month_day": [5, 1], "length_days": 213, "window_days": 5, "n_bins": 43,
                   "year_trained": 2019},
        "cloud_threshold": 0.75, "max_gap_bins": 8, "feature_kind": "median2d",
        "train_config": {"epochs": 1, "widths": (8, 16, 32, 64)}, "metrics": {"val_oa": np.float64(0.5)}}
ARCH_KWARGS = {"n_bins": 43, "widths": [8, 16, 32, 64]}


def test_cropnet_round_trip(tmp_path):
    torch.manual_seed(0)
    model = CropNet2D(**ARCH_KWARGS).eval()
    model.set_normalization(np.full(10, 0.1), np.full(10, 0.05))
    path = save_model(tmp_path / "model.pt", model, "cropnet2d", ARCH_KWARGS, META)
    loaded, meta = load_model(path)
    x = torch.rand(3, 1, 10, 43)
    assert torch.equal(loaded(x), model(x))
    assert not loaded.training
    assert meta["gee_crop_model"] == "1" and meta["arch"] == "cropnet2d"
    assert meta["season"]["n_bins"] == 43 and meta["feature_kind"] == "median2d"
    # numpy scalars and tuples are stored as plain JSON types (the file loads with weights_only=True)
    assert meta["metrics"]["val_oa"] == 0.5 and meta["train_config"]["widths"] == [8, 16, 32, 64]
    assert "state_dict" not in meta
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


def test_random_forest_round_trip(tmp_path):
    """Synthetic features: two separable clusters."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (30, 4)), rng.normal(5, 1, (30, 4))]).astype(np.float32)
    y = np.repeat([0, 6], 30)
    forest = fit_random_forest(x, y, n_estimators=10)
    path = save_random_forest(tmp_path / "model.pkl", forest, {"n_estimators": 10},
                              {**META, "feature_kind": "median1d"})
    loaded, meta = load_model(path)
    assert meta["arch"] == "random_forest"
    np.testing.assert_array_equal(loaded.predict(x), forest.predict(x))


def test_random_bytes_are_not_a_model(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(ModelFileError, match="is not a gee-crop model.*gee-crop train"):
        load_model(path)


def test_plain_state_dict_is_not_a_model(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(CropNet2D(widths=(4, 4, 4, 4)).state_dict(), path)
    with pytest.raises(ModelFileError, match="plain torch state_dict"):
        load_model(path)


def test_foreign_pickle_and_missing_file(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    with pytest.raises(ModelFileError, match="without the 'gee_crop_model' key"):
        load_model(path)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "absent.pt")


def test_newer_format_version_is_refused(tmp_path):
    path = save_model(tmp_path / "model.pt", CropNet2D(**ARCH_KWARGS), "cropnet2d", ARCH_KWARGS, META)
    payload = torch.load(path, weights_only=True)
    payload["gee_crop_model"] = "99"
    torch.save(payload, path)
    with pytest.raises(ModelFileError, match="format '99'.*upgrade gee-crop"):
        load_model(path)
