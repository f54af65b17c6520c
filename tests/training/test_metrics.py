"""OA, macro-F1 and per-class scores against a hand-computed confusion matrix."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.training.metrics import classification_report, confusion_matrix, format_report, report_from_confusion

CORN, SOY, WHEAT, OTHER = 0, 1, 3, 6


def test_confusion_matrix_counts_rows_truth_columns_prediction():
    y_true = [CORN, CORN, CORN, WHEAT, WHEAT, OTHER]
    y_pred = [CORN, CORN, WHEAT, WHEAT, OTHER, OTHER]
    cm = confusion_matrix(y_true, y_pred)
    assert cm.shape == (7, 7) and cm.sum() == 6
    assert cm[CORN, CORN] == 2 and cm[CORN, WHEAT] == 1 and cm[WHEAT, WHEAT] == 1
    assert cm[WHEAT, OTHER] == 1 and cm[OTHER, OTHER] == 1


def test_report_on_a_hand_computed_matrix():
    """Truth corn 10 (8 right, 2 -> wheat), wheat 5 (4 right, 1 -> other), other 5 (all right),
    plus 1 other predicted as soybeans (a class absent from the truth).
    OA = (8 + 4 + 5) / 21 = 17/21.
    corn: P = 8/8, R = 8/10, F1 = 16/18.  wheat: P = 4/6, R = 4/5, F1 = 8/11.
    other: TP 5, FP 1, FN 1 -> F1 = 10/12.  soybeans: predicted once, no support -> not averaged.
    macro-F1 over the classes present in the truth = (16/18 + 8/11 + 10/12) / 3."""
    cm = np.zeros((7, 7), dtype=np.int64)
    cm[CORN, CORN], cm[CORN, WHEAT] = 8, 2
    cm[WHEAT, WHEAT], cm[WHEAT, OTHER] = 4, 1
    cm[OTHER, OTHER], cm[OTHER, SOY] = 5, 1
    report = report_from_confusion(cm)
    assert report.overall_accuracy == pytest.approx(17 / 21)
    assert report.precision[CORN] == 1.0 and report.recall[CORN] == pytest.approx(0.8)
    assert report.f1[CORN] == pytest.approx(16 / 18)
    assert report.precision[WHEAT] == pytest.approx(4 / 6) and report.f1[WHEAT] == pytest.approx(8 / 11)
    assert report.f1[OTHER] == pytest.approx(10 / 12)
    assert report.f1[SOY] == 0.0 and np.isnan(report.recall[SOY]) and report.precision[SOY] == 0.0
    assert report.classes_present == (CORN, WHEAT, OTHER)
    assert report.macro_f1 == pytest.approx((16 / 18 + 8 / 11 + 10 / 12) / 3)
    assert np.isnan(report.precision[2]) and np.isnan(report.f1[2])  # rice: neither true nor predicted
    assert report.support.tolist() == [10, 0, 0, 5, 0, 0, 6]


def test_perfect_and_to_dict():
    y = np.array([CORN, WHEAT, WHEAT, OTHER])
    report = classification_report(y, y)
    assert report.overall_accuracy == 1.0 and report.macro_f1 == 1.0
    d = report.to_dict()
    assert d["classes_present"] == ["corn", "wheat", "other"]
    assert d["per_class"]["rice"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert d["n_samples"] == 4
    text = format_report(report)
    assert "100.00" in text and "rice" not in text


def test_shape_mismatch_is_a_programming_error():
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix([0, 1], [0])
