"""The domain summary in model files: written by training (torch and Random Forest), carried into the
ONNX export and its int8 copy, read back by evaluation; models without one keep working."""
from __future__ import annotations

import pytest

from gee_crop.export.onnx import export_onnx
from gee_crop.export.quantize import quantize_exported
from gee_crop.features.shift import LOW_CONFIDENCE, summary_of
from gee_crop.models.io import read_model_meta
from gee_crop.models.predict import open_predictor
from gee_crop.models.zoo import zoo_model
from gee_crop.training.dataset import series_features
from gee_crop.training.evaluate import EVALUATION_BATCH, evaluate_model
from gee_crop.training.trainer import train
from tests.training.realdata import MAX_GAP_BINS, labelled_pixels, one_torch_thread

QUIET = dict(progress=False, echo=lambda _: None)


def low_confidence_count(model_path, table) -> tuple[int, int]:
    """(samples the model classifies, those whose highest class probability is below LOW_CONFIDENCE), counted
    from the model's own probabilities on the table."""
    predictor = open_predictor(model_path, device="cpu")
    features = series_features(table, predictor.contract)
    proba = predictor.predict_proba(features.values[features.keep], batch_size=EVALUATION_BATCH)
    return len(proba), int((proba.max(axis=1) < LOW_CONFIDENCE).sum())


def assert_low_confidence_share_is_the_models(score: dict, model_path, table) -> None:
    n_classified, n_low = low_confidence_count(model_path, table)
    assert score["n_classified"] == n_classified > 0
    assert score["low_confidence_share"] == pytest.approx(n_low / n_classified)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A one-epoch CropNet 2D (widths 8) on 360 real labelled pixels of the Flanders 2019 patch."""
    out = tmp_path_factory.mktemp("tiny")
    with one_torch_thread():
        run = train(labelled_pixels(), out, epochs=1, widths=(8, 8, 8, 8), max_gap_bins=MAX_GAP_BINS, **QUIET)
    return run


def test_training_stores_the_summary_of_its_training_inputs(tiny_model):
    meta = read_model_meta(tiny_model.model_path)
    summary = summary_of(meta)
    assert summary is not None and summary.transform == "log_reflectance" and summary.input_shape == (10, 43)
    assert summary.n_samples == tiny_model.n_train  # the training split, not the validation samples
    assert 0 < summary.quantiles["0.5"] < summary.ood_distance


def test_the_summary_survives_onnx_export_and_int8(tiny_model, tmp_path):
    onnx_path = export_onnx(tiny_model.model_path, tmp_path / "tiny.onnx")
    stored = read_model_meta(tiny_model.model_path)["domain_summary"]
    assert read_model_meta(onnx_path)["domain_summary"] == stored
    int8, _ = quantize_exported(onnx_path, labelled_pixels(), out_path=tmp_path / "tiny.int8.onnx")
    assert read_model_meta(int8)["domain_summary"] == stored


def test_a_random_forest_file_carries_it_too(tmp_path):
    run = train(labelled_pixels(), tmp_path, arch="random_forest", n_estimators=10, max_gap_bins=MAX_GAP_BINS,
                **QUIET)
    summary = summary_of(read_model_meta(run.model_path))
    assert summary is not None and summary.n_samples == run.n_train


def test_evaluation_reports_the_shift_of_its_test_set(tiny_model):
    evaluation = evaluate_model(tiny_model.model_path, labelled_pixels(n=200, seed=1), device="cpu")
    score = evaluation.to_dict()["domain_shift"]
    # other pixels of the training patch: in distribution
    assert score["available"] and score["n_scored"] == evaluation.n_samples - evaluation.n_dropped_gaps
    assert score["ood_share"] <= 0.05 and 0.8 < score["shift"] < 1.2
    assert score["n_classified"] == score["n_scored"]
    assert_low_confidence_share_is_the_models(score, tiny_model.model_path, labelled_pixels(n=200, seed=1))


def test_the_shipped_models_carry_their_training_summary():
    for name in ("cropnet-weu", "tempcnn-weu"):
        assert summary_of(read_model_meta(zoo_model(name).path)) is not None, name


def test_a_model_without_a_summary_evaluates_with_the_shift_unavailable(old_model):
    assert "domain_summary" not in read_model_meta(old_model)
    evaluation = evaluate_model(old_model, labelled_pixels(n=100, seed=2), device="cpu")
    score = evaluation.to_dict()["domain_shift"]
    assert score["available"] is False and score["shift"] is None and score["ood_share"] is None
    assert_low_confidence_share_is_the_models(score, old_model, labelled_pixels(n=100, seed=2))
