"""``train --arch auto`` (training/selection.py): spatial k-fold cross-validation over the candidates, a
prior kept unless clearly beaten, the winner trained on every label and written map-ready."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.splits import block_ids, spatial_block_folds
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.export.cards import card_text, read_card
from gee_crop.export.onnx import export_and_check
from gee_crop.models.io import read_model_meta
from gee_crop.models.predict import open_predictor
from gee_crop.models.zoo import zoo_models
from gee_crop.testing.paths import shared_data_dir
from gee_crop.training.dataset import series_features
from gee_crop.models.domain import DomainReport
from gee_crop.training.selection import (AUTO_BLOCK_M, Candidate, CandidateScore, choose, rule_applied,
                                         select_and_train, usable)
from gee_crop.training.trainer import train
from tests.cli.errors import user_error
from tests.training.realdata import one_torch_thread


@pytest.fixture(scope="module")
def fra():
    """France 2023: 500 real WorldCereal samples (corn, soybeans, wheat, other)."""
    return read_worldcereal(shared_data_dir() / "wc-extractions" / "2023_FRA_LPIS_POLY_110_dekadal.geoparquet")


def test_spatial_folds_test_each_sample_once_and_never_split_a_block(fra):
    folds = spatial_block_folds(fra.lon, fra.lat, block_m=AUTO_BLOCK_M, k=3, seed=0)
    tested = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(fra)))
    blocks = block_ids(fra.lon, fra.lat, AUTO_BLOCK_M)
    for train_idx, test_idx in folds:
        assert not set(blocks[train_idx]) & set(blocks[test_idx])
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) < 0.2 * len(fra)  # balanced by the largest-block-first assignment


def _score(name: str, rank: int, folds: tuple[float, ...]) -> CandidateScore:
    return CandidateScore(Candidate(name, rank, {}), folds, 1.0)


QUIET = DomainReport("tempcnn-weu", judged=True, fires=False, unseen_share=0.0, outside_share=0.0)
#: the guard's warning fires (28 % of the table in an unseen zone, as France 2023 for the benchmark's stand-in),
#: yet most of the table lies in the source's zones: the fine-tuned model stays the prior
PARTLY = DomainReport("tempcnn-weu", judged=True, fires=True, unseen_share=0.28, outside_share=0.0)
FIRES = DomainReport("tempcnn-weu", judged=True, fires=True, unseen_share=1.0, outside_share=1.0)
AFAR = DomainReport("tempcnn-weu", judged=True, fires=True, unseen_share=0.1, outside_share=0.6)
UNJUDGED = DomainReport("old.pt", judged=False)


def test_in_domain_the_fine_tuned_model_wins_unless_clearly_beaten_on_every_fold():
    """Synthetic fold scores: the prior of the choice where its source trained in most of the table's zones."""
    tuned = _score("fine-tuned", 2, (0.60, 0.70, 0.80))
    noisy = _score("RF-500", 1, (0.75, 0.69, 0.85))  # mean 4 points ahead, behind on one fold
    slight = _score("TempCNN", 3, (0.605, 0.705, 0.805))  # ahead on every fold, by half a point
    better = _score("linear", 0, (0.62, 0.73, 0.82))  # ahead on every fold, by 2.3 points
    best = _score("CropNet 2D", 4, (0.65, 0.75, 0.85))  # ahead on every fold, by 5 points
    for guard in (QUIET, PARTLY):
        assert choose((noisy, tuned, slight), guard) is tuned
        assert choose((better, noisy, tuned, best), guard) is best
        assert choose((better, tuned), guard) is better
    rule, why = rule_applied((better, tuned), QUIET)
    assert rule.startswith("the fine-tuned model unless")
    assert why == "tempcnn-weu was trained in the climate zones of 100 % of the table"
    assert rule_applied((better, tuned), PARTLY)[1] == "tempcnn-weu was trained in the climate zones of 72 % of the table"


def test_outside_its_domain_the_forest_wins_unless_clearly_beaten_on_every_fold():
    """Synthetic fold scores: most of the table lies in zones or beyond the area the source never trained in,
    the guard cannot judge, or there is no fine-tuned candidate: RF-500 is the prior."""
    tuned = _score("fine-tuned", 2, (0.80, 0.85, 0.90))  # far ahead of the forest, but no prior out there
    forest = _score("RF-500", 1, (0.70, 0.72, 0.74))
    noisy = _score("TempCNN", 3, (0.72, 0.70, 0.78))  # 1.3 points ahead of the forest, though not on every fold
    steady = _score("linear", 0, (0.72, 0.74, 0.76))  # 2 points ahead of the forest on every fold
    for guard in (FIRES, AFAR, UNJUDGED, None):
        assert choose((forest, noisy), guard) is forest
        assert choose((forest, noisy, steady), guard) is steady
    assert choose((tuned, forest, noisy), FIRES) is tuned  # clearly ahead on every fold
    assert choose((noisy, steady)) is steady  # no forest scored: the best mean
    rule, why = rule_applied((tuned, forest), FIRES)
    assert rule.startswith("the RF-500 model unless another candidate beats it on every fold")
    assert why == "tempcnn-weu never trained in the climate zones of 100 % of the table (100 % outside its training area)"
    assert rule_applied((tuned, forest), AFAR)[1].endswith("(60 % outside its training area)")
    assert rule_applied((tuned, forest), UNJUDGED)[1].startswith("the domain guard cannot judge")
    assert rule_applied((forest, steady), None)[1] == "no fine-tuned candidate"


def test_auto_chooses_by_cross_validation_and_writes_a_map_ready_model(fra, tmp_path):
    rows = np.sort(np.random.default_rng(1).choice(len(fra), 60, replace=False))  # 1 epoch, 20 trees: quick
    models = {m.name: m for m in zoo_models()}
    lines: list[str] = []
    with one_torch_thread():
        result, comparison = select_and_train(fra.subset(rows), tmp_path / "run", zoo_models=models,
                                              default_zoo="tempcnn-weu", epochs=1, trees=20, progress=False,
                                              echo=lines.append)
    names = [s.candidate.name for s in comparison.scores]
    assert names == ["linear", "RF-500", "fine-tuned", "TempCNN"]  # cheapest first; 60 rows: no CropNet 2D
    assert comparison.skipped == ("CropNet 2D (needs 200 usable rows, the table has 60)",)
    assert comparison.guard is not None and not comparison.guard.fires  # France: in the zoo model's climate
    assert comparison.winner is choose(comparison.scores, comparison.guard)
    assert all(len(s.fold_f1) == 3 and 0 <= s.mean <= 1 for s in comparison.scores)
    stored = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert read_model_meta(result.model_path)["selection"] == stored
    assert stored["winner"] == comparison.winner.candidate.name and not (tmp_path / "run" / "selection").exists()
    assert stored["rule"].startswith("the fine-tuned model unless") and stored["guard"]["fires"] is False
    assert any(line.startswith("  chosen by: the fine-tuned model unless") for line in lines)
    assert "because tempcnn-weu was trained in the climate zones of 100 % of the table" in card_text(
        read_card(result.model_path))
    assert any(line.startswith(f"  * {comparison.winner.candidate.name}") for line in lines)
    assert f"Chosen by `--arch auto`: {stored['winner']} won a spatial 3-fold" in card_text(read_card(result.model_path))
    predictor = open_predictor(result.model_path, device="cpu")
    proba = predictor.predict_proba(series_features(fra.subset(rows[:5]), predictor.contract).values)
    assert proba.shape == (5, len(fra.classes)) and np.allclose(proba.sum(axis=1), 1, atol=1e-4)


def test_the_linear_model_exports_to_onnx_with_parity(fra, tmp_path):
    table = usable(fra.subset(np.arange(80)))
    with one_torch_thread():
        model = train(table, tmp_path / "run", arch="linear", epochs=2, augment=False, val_fraction=0.0,
                      max_gap_bins=12, progress=False, echo=lambda _: None).model_path
    path, max_diff, n = export_and_check(model, tmp_path / "linear.onnx", table)
    assert path.is_file() and n > 0 and max_diff < 1e-4


def test_auto_refuses_the_options_it_chooses_itself(tmp_path):
    result = CliRunner().invoke(main, ["train", "no.parquet", "--arch", "auto", "--epochs", "3", "--out",
                                       str(tmp_path / "run")])
    user_error(result, "--arch auto chooses the model and its training settings itself; drop epochs")
