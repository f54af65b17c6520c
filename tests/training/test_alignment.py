"""Class alignment rules of the paper on constructed cases."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.classes import CLASS_INDEX as C
from gee_crop.errors import UnknownClassError
from gee_crop.training.alignment import align, alignment_for


def test_predictions_outside_the_target_set_become_other():
    y_true = np.array([C["soybeans"], C["other"], C["other"], C["soybeans"]])
    y_pred = np.array([C["soybeans"], C["corn"], C["wheat"], C["rice"]])
    t, p, kept = align(y_true, y_pred, target_classes=("soybeans", "other"))
    assert kept.all()
    assert p.tolist() == [C["soybeans"], C["other"], C["other"], C["other"]]
    assert t.tolist() == y_true.tolist()


def test_dropped_true_classes_leave_the_test_set():
    y_true = np.array([C["corn"], C["sugarcane"], C["cotton"], C["wheat"]])
    y_pred = np.array([C["corn"], C["corn"], C["cotton"], C["soybeans"]])
    t, p, kept = align(y_true, y_pred, drop_true_classes=("sugarcane", "cotton"))
    assert kept.tolist() == [True, False, False, True]
    assert t.tolist() == [C["corn"], C["wheat"]] and p.tolist() == [C["corn"], C["soybeans"]]


def test_paper_rules_per_transfer():
    assert alignment_for("USA", "ARG").target_classes == ("soybeans", "other")
    assert alignment_for("usa", "aus").target_classes == ("sugarcane", "cotton", "other")
    assert alignment_for("USA", "CHN").target_classes == ("rice", "other")
    fra_usa = alignment_for("FRA", "USA")
    assert fra_usa.target_classes is None and fra_usa.drop_true_classes == ("sugarcane", "cotton")
    assert alignment_for("USA", "FRA").drop_true_classes == ()
    none = alignment_for("FRA", "BEL")
    assert none.target_classes is None and none.describe() == "none"
    assert alignment_for(None, None).describe() == "none"


def test_unknown_class_in_an_alignment():
    with pytest.raises(UnknownClassError, match="'maize'.*corn"):
        align(np.array([0]), np.array([0]), target_classes=("maize", "other"))
