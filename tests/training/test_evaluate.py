"""Evaluating saved models on a real sample table, with the paper's class alignment."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gee_crop.classes import CLASS_INDEX
from gee_crop.models.io import read_contract
from gee_crop.models.predict import open_predictor
from gee_crop.pipeline.evaluate import write_evaluation_files
from gee_crop.training.dataset import series_features
from gee_crop.training.evaluate import evaluate_model, write_evaluation
from gee_crop.training.trainer import train
from tests.training.realdata import MAX_GAP_BINS, labelled_pixels, table_file, tiny_run


def test_scores_match_the_models_own_predictions(tmp_path_factory):
    run = tiny_run(tmp_path_factory)
    series = labelled_pixels()
    evaluation = evaluate_model(run / "model.pt", table_file(tmp_path_factory))
    assert evaluation.target_region == "BEL" and evaluation.source_region == "BEL"
    assert evaluation.alignment.describe() == "none" and evaluation.year == 2019
    # the same numbers by hand: features as trained, argmax of the probabilities
    feats = series_features(series, read_contract(run / "model.pt"))
    pred = open_predictor(run / "model.pt").predict_proba(feats.values[feats.keep]).argmax(axis=1)
    truth = series.labels[feats.keep]
    assert evaluation.report.overall_accuracy == pytest.approx((pred == truth).mean())
    assert evaluation.report.confusion.sum() == feats.keep.sum()
    assert evaluation.n_dropped_gaps == (~feats.keep).sum()
    assert evaluation.report.overall_accuracy > 0.85  # mostly its own training pixels


def test_binary_target_alignment_counts_other_predictions_as_other(tmp_path_factory):
    run = tiny_run(tmp_path_factory)
    evaluation = evaluate_model(run / "model.pt", labelled_pixels(), target_region="ARG")
    cm = evaluation.report.confusion
    allowed = [CLASS_INDEX["soybeans"], CLASS_INDEX["other"]]
    assert cm[:, [i for i in range(7) if i not in allowed]].sum() == 0
    # every corn and wheat pixel is now "wrong": only the true "other" pixels can be right
    other = labelled_pixels().labels == CLASS_INDEX["other"]
    assert evaluation.report.overall_accuracy <= other.mean() + 1e-9


def test_written_outputs(tmp_path_factory, tmp_path):
    evaluation = evaluate_model(tiny_run(tmp_path_factory) / "model.pt", labelled_pixels())
    assert set(write_evaluation(evaluation, tmp_path / "plain")) == {"metrics", "csv"}  # training draws nothing
    paths = write_evaluation_files(evaluation, tmp_path / "eval")  # the command's files: the figure added
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["overall_accuracy"] == pytest.approx(evaluation.report.overall_accuracy)
    assert metrics["classes_present"] == ["corn", "wheat", "other"]
    lines = paths["csv"].read_text().splitlines()
    assert lines[0].split(",")[1:] == ["corn", "soybeans", "rice", "wheat", "sugarcane", "cotton", "other"]
    counts = np.array([[int(v) for v in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_array_equal(counts, evaluation.report.confusion)
    assert paths["png"].name == "confusion_matrix.png" and paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "OA" in evaluation.summary() and "macro-F1" in evaluation.summary()


def test_random_forest_file_evaluates(tmp_path):
    series = labelled_pixels()
    rf = train(series.subset(np.arange(0, 360, 2)), tmp_path / "rf", arch="random_forest",
               n_estimators=50, max_gap_bins=MAX_GAP_BINS, progress=False, echo=lambda _: None)
    evaluation = evaluate_model(rf.model_path, series.subset(np.arange(1, 360, 2)))
    assert evaluation.report.confusion.sum() > 150
    assert evaluation.report.overall_accuracy > 0.8  # unseen pixels of the same fields
