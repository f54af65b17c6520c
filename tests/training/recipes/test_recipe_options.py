"""The recipe options as a user sets them: `gee-crop train --input-scaling` and experiment-file keys, recorded in
the model and refused with a message that names the fix when wrong."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from click.testing import CliRunner

from gee_crop.cli import main
from gee_crop.data.table import write_table
from gee_crop.errors import ExperimentConfigError, InputError
from gee_crop.experiments.config import parse_experiment
from gee_crop.export.cards import read_card
from gee_crop.models.io import read_contract, read_model_meta
from gee_crop.testing.paths import shared_data_dir
from gee_crop.training.trainer import train
from tests.experiments.conftest import TINY as TINY_EXPERIMENT


def parse(models: list[dict], defaults: dict | None = None):
    raw = copy.deepcopy(TINY_EXPERIMENT)
    raw["models"] = models
    if defaults is not None:
        raw["defaults"] = defaults
    return parse_experiment(raw, Path("/base"), shared_data=shared_data_dir)


def test_experiment_keys_reach_the_trainer():
    config = parse([
        {"name": "paper aug", "arch": "cropnet2d", "augment": True},
        {"name": "dropout only", "arch": "cropnet2d", "augment": {"dropout": True},
         "train": {"input_scaling": "log", "balanced_sampling": True}},
        {"name": "all", "arch": "cropnet1d", "augment": {"shift": True, "dropout": True},
         "train": {"augment_options": {"p_dropout": 0.8, "dropout_days": 20}}},
    ])
    paper, dropout, both = config.models
    # `augment: true` is the paper's three transforms; dropout is named only when on (fingerprints of
    # runs made before it existed stay valid)
    assert paper.augment == {"shift": True, "scale": True, "warp": True}
    assert "p_dropout" not in paper.train_options()["augment_options"]
    options = dropout.train_options()
    assert options["augment"] and options["augment_options"] == {"p_shift": 0.0, "p_scale": 0.0, "p_warp": 0.0,
                                                                 "p_dropout": 0.5}
    assert options["input_scaling"] == "log" and options["balanced_sampling"] is True
    assert both.train_options()["augment_options"]["p_dropout"] == 0.8


@pytest.mark.parametrize("models, defaults, words", [
    # TrainConfig's own reasons, at the key that holds the option
    ([{"arch": "cropnet2d", "train": {"input_scaling": "sqrt"}}], None,
     "models[0].train.input_scaling: --input-scaling 'sqrt' is unknown"),
    ([{"arch": "cropnet2d", "train": {"balanced_sampling": "yes"}}], None,
     "models[0].train.balanced_sampling: balanced_sampling 'yes' is not true or false"),
    ([{"arch": "cropnet2d", "augment": {"dropout": 1}}], None, "dropout must be true or false"),
    ([{"arch": "random_forest", "features": "median1d"}], {"input_scaling": "log"},
     "defaults.input_scaling (for models[0]): --input-scaling log: a random_forest splits each feature"),
    ([{"arch": "cropnet1d", "features": "harmonic", "train": {"input_scaling": "log"}}], None,
     "models[0].train.input_scaling: --input-scaling log rescales reflectance; harmonic coefficients are not"),
    ([{"arch": "random_forest", "features": "median1d", "train": {"balanced_sampling": True}}], None,
     "models[0].train.balanced_sampling: balanced_sampling draws the batches of a network's epochs; a random_forest "
     "is fitted once"),
    ([{"arch": "random_forest", "features": "median1d", "augment": {"dropout": True}}], None, "augment: false"),
])
def test_bad_experiment_values_are_refused(models, defaults, words):
    with pytest.raises(ExperimentConfigError) as err:
        parse(models, defaults)
    assert words in str(err.value)


@pytest.fixture(scope="module")
def table(fra_dekadal, tmp_path_factory) -> Path:
    return write_table(fra_dekadal.subset(range(200)), tmp_path_factory.mktemp("table") / "fra.parquet")


def test_train_cli_records_smooth_scaling(table, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(table), "--out", str(out), "--epochs", "1",
                                       "--widths", "8,8,8,8", "--max-gap-bins", "12", "--quiet",
                                       "--input-scaling", "smooth"])
    assert result.exit_code == 0, result.output
    model = out / "model.pt"
    assert read_contract(model).input_scaling == "smooth"
    assert read_card(model)["training"]["input_scaling"] == "smooth"


def test_the_other_recipe_options_reach_model_and_card_through_train_config(recipe_models):
    """Log scaling, balanced sampling and cadence dropout, trained through TrainConfig (the experiment's
    route; conftest.RECIPE), are recorded in the model and its card."""
    model = recipe_models[0]
    config = read_model_meta(model)["train_config"]
    assert read_contract(model).input_scaling == "log"
    assert config["balanced_sampling"] is True and config["augment_options"] == {"p_dropout": 0.5}
    training = read_card(model)["training"]
    assert training["input_scaling"] == "log" and training["balanced_sampling"] is True
    assert training["augment_options"] == {"p_dropout": 0.5}


@pytest.mark.parametrize("args, words", [
    (["--input-scaling", "sqrt"], "'sqrt' is not one of 'standard', 'smooth'"),
    # docs/transfer.md: log scaling, cadence dropout and balanced sampling are experiment options only
    (["--input-scaling", "log"], "'log' is not one of 'standard', 'smooth'"),
    (["--augment-dropout", "0.5"], "No such option '--augment-dropout'"),
    (["--balanced-sampling"], "No such option '--balanced-sampling'"),
])
def test_train_cli_refuses_bad_values_and_offers_only_the_recommended_recipe(table, tmp_path, args, words):
    result = CliRunner().invoke(main, ["train", str(table), "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 2 and words in result.output
    assert not (tmp_path / "run").exists()


def test_dropout_without_augmentation_is_a_user_error(table, tmp_path):
    with pytest.raises(InputError, match="augmentation is off"):
        train(table, tmp_path / "run", augment=False, augment_options={"p_dropout": 0.5}, progress=False,
              echo=lambda _: None)
    assert not (tmp_path / "run").exists()
