"""Training, augmentation and evaluation on a table mixing France 2023 and Flanders 2019: each sample
keeps its own season (the bug: one season for the whole table dropped the other year's samples)."""
from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import write_table
from gee_crop.features.augment import AugmentConfig
from gee_crop.export.cards import model_card, model_card_markdown
from gee_crop.models.io import read_contract, read_model_meta
from gee_crop.training.dataset import AugmentedBatches, series_features
from gee_crop.training.evaluate import evaluate_model
from gee_crop.training.trainer import TrainConfig, train
from gee_crop.types import concat

TINY = {"epochs": 1, "widths": (8, 8, 8, 8), "max_gap_bins": 12, "batch_size": 64, "progress": False}


@pytest.fixture(scope="module")
def mixed(fra23, patch19):
    """France 2023 (500 samples) and the Flanders 2019 patch (477) in one table."""
    return concat([fra23, patch19])


@pytest.fixture(scope="module")
def trained(mixed, tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed_run")
    lines: list[str] = []
    result = train(mixed, out, echo=lines.append, **TINY)
    return out, result, lines


def test_training_keeps_both_years(trained):
    out, result, lines = trained
    # one dekadal French sample has too long a gap; nothing else is dropped
    assert result.n_dropped == 1 and result.n_train + result.n_val == 976
    assert lines[0].startswith("seasons 2019 (477), 2023 (499); dropped 1 of 977 samples")
    config = json.loads((out / "config.json").read_text())
    assert config["train_config"]["data"]["seasons"] == {"2019": 477, "2023": 499}
    assert read_contract(result.model_path).year_trained == 2023  # the most common season


def test_model_card_names_every_season_trained_on(trained):
    _, result, _ = trained
    card = model_card_markdown(model_card(read_model_meta(result.model_path), 1, (1, 10, 43), "x", "y"))
    assert "(trained on the 2019 (477), 2023 (499) seasons)" in card


def test_a_single_forced_year_drops_the_other_domain(mixed):
    spec = TrainConfig(max_gap_bins=12).resolved().feature_spec()
    assert series_features(mixed, spec, 2019).keep.sum() == 477  # all of France dropped
    assert series_features(mixed, spec, 2023).keep.sum() == 499  # all of Flanders dropped


def test_augmentation_composites_each_sample_over_its_own_season(mixed):
    spec = TrainConfig(max_gap_bins=12).resolved().feature_spec()
    feats = series_features(mixed, spec)
    keep = np.flatnonzero(feats.keep)
    batches = AugmentedBatches(mixed.subset(keep), feats.values[keep], feats.years[keep], spec,
                               asdict(AugmentConfig.none()))
    rows = np.array([0, 1, 498, 499, 500, 975])  # both sides of the France / Flanders boundary
    got = batches.inputs(rows, np.random.default_rng(0))
    assert np.array_equal(got, spec.model_input(feats.values[keep][rows]))


def test_evaluation_scores_each_sample_in_its_own_season(trained, mixed):
    out, result, _ = trained
    evaluation = evaluate_model(result.model_path, mixed, device="cpu")
    assert evaluation.n_dropped_gaps == 1 and evaluation.seasons == {2019: 477, 2023: 499}
    assert evaluation.year == 2023 and evaluation.to_dict()["season_years"] == {"2019": 477, "2023": 499}
    assert "seasons 2019 (477), 2023 (499)" in evaluation.summary()


def test_cli_year_forces_one_season(mixed, tmp_path):
    table = write_table(mixed, tmp_path / "mixed.parquet")
    result = CliRunner().invoke(main, ["train", str(table), "--out", str(tmp_path / "run"), "--year", "2019",
                                       "--epochs", "1", "--widths", "8,8,8,8", "--max-gap-bins", "12", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "season 2019 (477); dropped 500 of 977 samples" in result.output
    assert read_contract(tmp_path / "run" / "model.pt").year_trained == 2019
