"""The paper's class-alignment rules (METHOD.md "Evaluation") as experiments apply them.

Constructed cases: known truths and predictions through the experiment's scoring path, and a real
run whose target is declared a binary-label region."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gee_crop.classes import CLASS_INDEX, CLASSES
from gee_crop.training.alignment import align, alignment_for
from gee_crop.training.metrics import classification_report

C = CLASS_INDEX


def score(source: str, target: str, truth: list[str], pred: list[str]):
    rule = alignment_for(source, target)
    y_true, y_pred, kept = align(np.array([C[t] for t in truth]), np.array([C[p] for p in pred]),
                                 rule.target_classes, rule.drop_true_classes)
    return classification_report(y_true, y_pred), kept


def test_binary_target_counts_foreign_predictions_as_other():
    # ARG labels only soybeans / other: a corn prediction on an "other" pixel is right there
    report, kept = score("FRA", "ARG", ["other", "other", "soybeans", "soybeans"],
                         ["corn", "wheat", "soybeans", "corn"])
    assert kept.all()
    assert report.overall_accuracy == pytest.approx(3 / 4)
    assert report.confusion[C["soybeans"], C["other"]] == 1  # the soybean pixel predicted corn became "other"


def test_ternary_targets_keep_their_own_classes():
    report, _ = score("USA", "AUS", ["sugarcane", "cotton", "other", "other"], ["sugarcane", "cotton", "rice", "corn"])
    assert report.overall_accuracy == 1.0
    report, _ = score("USA", "CHN", ["rice", "other"], ["rice", "soybeans"])
    assert report.overall_accuracy == 1.0


def test_fra_to_usa_drops_sugarcane_and_cotton_samples():
    report, kept = score("FRA", "USA", ["corn", "sugarcane", "cotton", "wheat"], ["corn", "other", "other", "corn"])
    np.testing.assert_array_equal(kept, [True, False, False, True])
    assert report.confusion.sum() == 2 and report.overall_accuracy == 0.5
    # only FRA -> USA: a USA model keeps them
    _, kept = score("USA", "USA", ["sugarcane", "cotton"], ["sugarcane", "cotton"])
    assert kept.all()


def test_full_label_targets_are_scored_as_predicted():
    report, _ = score("FRA", "BEL", ["corn", "other"], ["soybeans", "other"])
    assert report.overall_accuracy == 0.5
    assert report.classes_present == (C["corn"], C["other"])  # mF1 over classes present in the truth


@pytest.mark.slow
def test_runner_applies_the_rule_of_the_declared_target_region(tmp_path, tiny_config):
    """The same real Belgian pixels declared as an ARG target: no prediction outside {soybeans, other}."""
    import dataclasses

    from gee_crop.experiments import run_experiment
    from tests.experiments.conftest import load_tiny

    config = load_tiny(tiny_config)
    patch = dataclasses.replace(config.datasets["BEL_patch"], key="ARG_like", region="ARG")
    config = dataclasses.replace(
        config, datasets={**config.datasets, "ARG_like": patch}, seeds=(0,),
        transfers=(dataclasses.replace(config.transfers[1], target="ARG_like", label=""),),
        models=config.models[1:], insight={"figures": False})
    run = run_experiment(config, tmp_path / "out", echo=lambda _: None)
    (result,) = run.results
    assert result["transfer"] == "FRA→ARG" and result["target_region"] == "ARG" and result["source_region"] == "FRA"
    assert "counted as other" in result["alignment_rule"]
    cm = np.array(result["confusion_matrix"])
    outside = [i for i, name in enumerate(CLASSES) if name not in ("soybeans", "other")]
    assert cm[:, outside].sum() == 0
    # the patch's true corn and wheat pixels can no longer be right: OA <= share of "other"
    assert result["overall_accuracy"] <= cm[C["other"]].sum() / cm.sum() + 1e-9
    assert json.loads((tmp_path / "out" / "results.json").read_text())["results"][0]["alignment"]["target_classes"] \
        == ["soybeans", "other"]
