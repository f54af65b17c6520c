"""Training end to end on real labelled pixels of the Flanders patch (tiny widths, few epochs)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from gee_crop.errors import InputError, OutputExistsError, SeasonError
from gee_crop.models.device import resolve_device
from gee_crop.models.io import load_model, read_model_meta
from gee_crop.training import loop
from gee_crop.training.loop import class_weights
from gee_crop.training.trainer import TrainConfig, train
from tests.training.realdata import MAX_GAP_BINS, TINY_RUN, TINY_WIDTHS, labelled_pixels, tiny_run

QUICK = dict(epochs=2, widths=TINY_WIDTHS, batch_size=32, max_gap_bins=MAX_GAP_BINS, learning_rate=1e-3)


def _small():
    return labelled_pixels().subset(np.arange(96))


def test_tiny_run_learns_the_patch_and_writes_its_outputs(tmp_path_factory):
    out = tiny_run(tmp_path_factory)
    model, meta = load_model(out / "model.pt")
    assert meta["arch"] == "cropnet2d" and meta["feature_kind"] == "median2d"
    assert meta["season"] == {"start_month_day": [5, 1], "length_days": 213, "window_days": 5,
                              "n_bins": 43, "year_trained": 2019}
    assert meta["train_config"]["learning_rate"] == TINY_RUN["learning_rate"]
    assert meta["train_config"]["data"]["regions"] == ["BEL"]
    assert set(meta["train_config"]["data"]["class_counts"]) == {"corn", "wheat", "other"}
    # normalization buffers hold the training reflectance statistics, not the identity
    assert 0.01 < float(model.normalization.mean.min()) < float(model.normalization.mean.max()) < 0.6
    validation = meta["metrics"]["validation"]
    # 12 epochs on 270 real pixels: well above the majority-class rate (other is about 55 %)
    assert validation["overall_accuracy"] > 0.8 and validation["macro_f1"] > 0.7
    with open(out / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(1, TINY_RUN["epochs"] + 1))
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    config = json.loads((out / "config.json").read_text())
    assert config["train_config"]["widths"] == list(TINY_WIDTHS) and config["metrics"] == meta["metrics"]
    assert (out / "checkpoint.pt").exists()


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    series = _small()
    full = train(series, tmp_path / "full", progress=False, echo=lambda _: None, **QUICK)

    real_save = loop._atomic_torch
    def save_then_interrupt(path, obj):
        real_save(path, obj)
        raise KeyboardInterrupt  # the process dies right after the first epoch's checkpoint
    monkeypatch.setattr(loop, "_atomic_torch", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(series, tmp_path / "cut", progress=False, echo=lambda _: None, **QUICK)
    monkeypatch.setattr(loop, "_atomic_torch", real_save)
    assert not (tmp_path / "cut" / "model.pt").exists()
    with pytest.raises(OutputExistsError, match="--resume"):
        train(series, tmp_path / "cut", progress=False, echo=lambda _: None, **QUICK)
    messages = []
    resumed = train(series, tmp_path / "cut", resume=True, progress=False, echo=messages.append, **QUICK)
    assert any("resuming" in m and "after epoch 1" in m for m in messages)
    a = torch.load(full.model_path, weights_only=True)["state_dict"]
    b = torch.load(resumed.model_path, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[0]["train_loss"] == full.history[0]["train_loss"]


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    series = _small()
    runs = [train(series, tmp_path / name, progress=False, echo=lambda _: None, seed=seed, **{**QUICK, "epochs": 1})
            for name, seed in (("a", 0), ("b", 0), ("c", 1))]
    weights = [torch.load(r.model_path, weights_only=True)["state_dict"] for r in runs]
    key = "classifier.weight"
    assert torch.equal(weights[0][key], weights[1][key])
    assert not torch.equal(weights[0][key], weights[2][key])


def test_resume_refuses_changed_options(tmp_path):
    series = _small()
    train(series, tmp_path, progress=False, echo=lambda _: None, **{**QUICK, "epochs": 1})
    with pytest.raises(InputError, match="other training options"):
        train(series, tmp_path, resume=True, progress=False, echo=lambda _: None, **{**QUICK, "seed": 5})


def test_dropped_samples_are_counted(tmp_path):
    messages = []
    result = train(_small(), tmp_path, progress=False, echo=messages.append,
                   **{**QUICK, "epochs": 1, "max_gap_bins": 4})
    assert result.n_dropped > 0
    assert f"dropped {result.n_dropped} of 96 samples" in messages[0]
    assert result.n_train + result.n_val == 96 - result.n_dropped


def test_random_forest_and_harmonic_cropnet1d(tmp_path):
    series = _small()
    rf = train(series, tmp_path / "rf", arch="random_forest", feature_kind="harmonic", n_estimators=20,
               progress=False, echo=lambda _: None, max_gap_bins=MAX_GAP_BINS)
    meta = read_model_meta(rf.model_path)
    assert rf.model_path.name == "model.onnx" and len(meta["feature_importances"]) == 35
    assert meta["feature_kind"] == "harmonic" and meta["arch_kwargs"] == {"n_estimators": 20}
    net = train(series, tmp_path / "1d", arch="cropnet1d", progress=False, echo=lambda _: None,
              class_weights=True, augment=False, **QUICK)
    model, meta = load_model(net.model_path)
    assert meta["feature_kind"] == "median1d" and model.n_features == 430


def test_option_errors():
    with pytest.raises(InputError, match="cropnet2d cannot use 'harmonic'"):
        TrainConfig(feature_kind="harmonic").resolved()
    with pytest.raises(InputError, match="unknown architecture"):
        TrainConfig(arch="svm").resolved()
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available.*--device cpu"):
            resolve_device("cuda")
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_season_outside_the_data(tmp_path):
    with pytest.raises(SeasonError, match="2030"):
        train(_small(), tmp_path, year=2030, progress=False, echo=lambda _: None, **QUICK)


def test_class_weights_are_inverse_frequency():
    """counts corn 10, wheat 30, other 60 -> weights 100 / (3 * count); absent classes 1."""
    w = class_weights(np.repeat([0, 3, 6], [10, 30, 60]))
    np.testing.assert_allclose(w.numpy(), [100 / 30, 1, 1, 100 / 90, 1, 1, 100 / 180], rtol=1e-6)
