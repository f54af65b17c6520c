"""open_predictor: the torch, onnxruntime and forest back ends agree on real pixels of the Flanders patch."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.errors import ModelFileError
from gee_crop.export.onnx import export_onnx
from gee_crop.models.forest import fit_random_forest, forest_probabilities
from gee_crop.models.io import read_contract
from gee_crop.models.predict import ForestPredictor, OnnxPredictor, TorchPredictor, open_predictor
from gee_crop.training.dataset import series_features, stratified_split
from gee_crop.training.trainer import train
from tests.training.realdata import MAX_GAP_BINS, labelled_pixels, tiny_run


@pytest.fixture(scope="module")
def cropnet_files(tmp_path_factory):
    """The shared tiny CropNet (model.pt) and its ONNX export."""
    model_pt = tiny_run(tmp_path_factory) / "model.pt"
    return model_pt, export_onnx(model_pt, tmp_path_factory.mktemp("predict") / "tiny.onnx")


@pytest.fixture(scope="module")
def features(cropnet_files):
    """Median features (n, 10, 43) of the real labelled pixels, as the tiny model composites them."""
    series = labelled_pixels()
    feats = series_features(series, read_contract(cropnet_files[0]))
    return feats.values[feats.keep], series.labels[feats.keep]


def test_torch_and_onnxruntime_agree_on_real_pixels(cropnet_files, features):
    model_pt, onnx_path = cropnet_files
    x, labels = features
    torch_backend, ort_backend = open_predictor(model_pt), open_predictor(onnx_path)
    assert isinstance(torch_backend, TorchPredictor) and isinstance(ort_backend, OnnxPredictor)
    assert torch_backend.contract == ort_backend.contract == read_contract(model_pt)
    p_torch, p_ort = torch_backend.predict_proba(x), ort_backend.predict_proba(x)
    assert p_torch.shape == (len(x), 7) and p_torch.dtype == np.float32
    assert np.abs(p_torch - p_ort).max() < 1e-4
    np.testing.assert_array_equal(p_torch.argmax(1), p_ort.argmax(1))
    assert (p_torch.argmax(1) == labels).mean() > 0.85  # mostly its own training pixels
    # medians (n, 10, t) and model inputs (n, 1, 10, t) are the same features; batches change nothing
    np.testing.assert_allclose(ort_backend.predict_proba(x[:, None], batch_size=7), p_ort, atol=1e-6)


def test_bf16_runs_on_torch_only(cropnet_files, features):
    model_pt, onnx_path = cropnet_files
    x, _ = features
    p32 = open_predictor(model_pt).predict_proba(x)
    p16 = open_predictor(model_pt, "bf16").predict_proba(x)
    assert (p32.argmax(1) == p16.argmax(1)).mean() >= 0.97
    with pytest.raises(ModelFileError, match="pass the trained model.pt"):
        open_predictor(onnx_path, "bf16")
    with pytest.raises(ModelFileError, match="precision 'fp8'"):
        open_predictor(model_pt, "fp8")


def test_forest_onnx_reproduces_scikit_learn_on_real_pixels(tmp_path):
    """The trainer's model.onnx against the same forest fitted again in memory (same seed and split)."""
    series = labelled_pixels()
    run = train(series, tmp_path, arch="random_forest", n_estimators=50, max_gap_bins=MAX_GAP_BINS,
                progress=False, echo=lambda _: None)
    assert run.model_path.name == "model.onnx" and not list(tmp_path.glob("*.pkl"))
    predictor = open_predictor(run.model_path)
    assert isinstance(predictor, ForestPredictor) and predictor.contract.feature_kind == "median1d"
    feats = series_features(series, predictor.contract)
    values, labels = feats.values[feats.keep], series.labels[feats.keep]
    flat = predictor.contract.model_input(values, flat=True)
    train_idx, _ = stratified_split(labels, 0.1, seed=0)
    forest = fit_random_forest(flat[train_idx], labels[train_idx], n_estimators=50, seed=0)
    expected = forest_probabilities(forest, flat)
    got = predictor.predict_proba(values)
    assert np.abs(expected - got).max() < 1e-5
    np.testing.assert_array_equal(expected.argmax(1), got.argmax(1))
    assert not got[:, [1, 2, 4, 5]].any()  # classes the forest never saw keep probability 0


def test_cached_predictors_are_shared(cropnet_files):
    _, onnx_path = cropnet_files
    shared = open_predictor(onnx_path, cache=True)
    assert open_predictor(onnx_path, cache=True) is shared
    assert open_predictor(onnx_path) is not shared
    assert not shared.quantized
