"""Validation of experiment files: clear errors, seeds, augmentation switches, the shipped configs."""
from __future__ import annotations

import copy
import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from gee_crop.errors import ExperimentConfigError, TrainOptionError
from gee_crop.experiments.config import (FROM_MODEL_FILES, SET_BY_KEYS, TRAIN_OPTIONS, load_experiment,
                                         parse_experiment)
from gee_crop.training.trainer import TrainConfig
from gee_crop.testing.paths import REPO_ROOT, shared_data_dir
from tests.experiments.conftest import TINY

SHIPPED = sorted((REPO_ROOT / "experiments").glob("*.yaml"))


def parse(raw: dict):
    return parse_experiment(raw, Path("/base"), shared_data=shared_data_dir)


def with_change(path: tuple, value) -> dict:
    raw = copy.deepcopy(TINY)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return raw


def test_tiny_config_parses_with_paths_datasets_and_defaults():
    config = parse(TINY)
    assert config.seeds == (0, 1)
    assert config.datasets["BEL_patch"].region == "BEL" and config.datasets["BEL_patch"].sampling["spacing_m"] == 30
    assert config.datasets["FRA"].path.name == "2023_FRA_LPIS_POLY_110_dekadal.geoparquet"
    assert config.datasets["FRA"].path.is_file()  # {shared_data} expanded to the real data folder
    cropnet = config.models[0]
    assert cropnet.features == "median2d" and cropnet.key == "cropnet_2d_aug"
    # defaults are merged under each model's own options
    assert cropnet.train["epochs"] == 2 and cropnet.train["widths"] == [8, 16, 32, 64]
    assert config.transfer_label(config.transfers[0]) == "FRA→BEL"
    assert config.transfer_label(config.transfers[1]) == "FRA→BEL patch"


@pytest.mark.parametrize("seeds, expected", [(3, (0, 1, 2)), ([4, 7], (4, 7)), (1, (0,))])
def test_seeds_as_count_or_list(seeds, expected):
    assert parse(with_change(("seeds",), seeds)).seeds == expected


@pytest.mark.parametrize("path, value, words", [
    (("seeds",), [1, 1], "repeated seed"),
    (("seeds",), "many", "seeds: 3"),
    (("models",), [{"arch": "cropnet3d"}], "use one of cropnet2d"),
    (("models",), [{"arch": "cropnet2d", "features": "harmonic"}], "cannot use 'harmonic'"),
    (("models",), [{"arch": "random_forest", "features": "median1d", "augment": True}], "augment: false"),
    (("models",), [{"arch": "cropnet1d", "features": "harmonic", "augment": {"shift": True}}], "does not apply"),
    (("models",), [{"arch": "cropnet2d", "augment": {"jitter": True}}], "unknown key(s) jitter"),
    (("models",), [{"arch": "cropnet2d", "train": {"widths": [1, 2]}}], "four positive channel counts"),
    (("models",), [{"arch": "cropnet2d", "train": {"epoch": 3}}], "unknown key(s) epoch"),
    (("models",), [{"name": "a", "arch": "cropnet2d"}, {"name": "A", "arch": "random_forest"}], "distinct 'name'"),
    (("transfers",), [{"source": "FRA", "target": "USA"}], "target 'USA' is not a dataset"),
    (("transfers",), [{"source": "FRA", "target": "FRA"}], "split: 0.2"),
    (("transfers",), [{"source": "FRA", "target": "BEL", "split": 0.2}], "set target to the source"),
    (("transfers",), [{"source": "FRA", "target": "FRA", "split": 1.5}], "test share"),
    (("datasets", "BEL_patch", "region"), None, "add 'region: ISO3'"),
    (("datasets", "BEL", "reader"), "csv", "use one of table, worldcereal, patch"),
    (("datasets", "BEL", "sampling"), {"per_cell": 3}, "raster patches only"),
    (("insight",), {"cam_model": "nope"}, "not a model name"),
    (("colour",), "blue", "unknown key(s) colour"),
    (("models",), [], "'models' is missing or empty"),
])
def test_mistakes_name_the_key_and_the_fix(path, value, words):
    raw = with_change(path, value)
    with pytest.raises(ExperimentConfigError) as info:
        parse(raw)
    assert words in str(info.value)
    assert "\n" not in str(info.value)  # the CLI prints it on one line


def test_augmentation_switches_become_trainer_probabilities():
    raw = with_change(("models",), [
        {"name": "none", "arch": "cropnet2d", "augment": False},
        {"name": "shift", "arch": "cropnet2d", "augment": {"shift": True}},
        {"name": "shift+scale", "arch": "cropnet2d", "augment": {"shift": True, "scale": True},
         "train": {"augment_options": {"p_shift": 0.8, "max_shift_days": 5}}},
        {"name": "all", "arch": "cropnet2d", "augment": True}])
    options = [m.train_options() for m in parse(raw).models]
    assert options[0]["augment"] is False
    assert options[1]["augment"] and options[1]["augment_options"] == {"p_shift": 0.5, "p_scale": 0.0, "p_warp": 0.0}
    assert options[2]["augment_options"] == {"p_shift": 0.8, "p_scale": 0.5, "p_warp": 0.0, "max_shift_days": 5}
    assert options[3]["augment_options"] == {"p_shift": 0.5, "p_scale": 0.5, "p_warp": 0.5}


def test_data_dir_resolves_relative_paths(tmp_path):
    config = parse_experiment(with_change(("datasets", "BEL", "path"), "data/cropglobe/BEL.parquet"),
                              tmp_path, data_dir=tmp_path / "root", shared_data=shared_data_dir)
    assert config.datasets["BEL"].path == tmp_path / "root" / "data" / "cropglobe" / "BEL.parquet"


def test_shared_data_placeholder_needs_a_folder_from_the_caller(tmp_path):
    config = parse_experiment(TINY, tmp_path, shared_data=tmp_path / "real")
    assert config.datasets["FRA"].path.parent == tmp_path / "real" / "wc-extractions"
    with pytest.raises(ExperimentConfigError, match=r"datasets.FRA: the path uses \{shared_data\}.*full path"):
        parse_experiment(TINY, tmp_path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodels: [\n  - a: b\n")
    with pytest.raises(ExperimentConfigError, match="not valid YAML at line"):
        load_experiment(bad)
    with pytest.raises(ExperimentConfigError, match="does not exist"):
        load_experiment(tmp_path / "missing.yaml")


def test_every_shipped_config_is_valid():
    names = {p.stem for p in SHIPPED}
    assert {"ci_small", "paper_table3", "paper_table4", "paper_table5", "paper_table6", "paper_table7"} <= names
    for path in SHIPPED:
        config = load_experiment(path, shared_data=shared_data_dir)
        assert config.models and config.transfers and config.seeds
        if path.stem.startswith("paper_"):
            assert len(config.seeds) == 10  # METHOD.md: mean ± std over 10 seeds
            assert all("data/cropglobe/" in str(d.path) for d in config.datasets.values())


def test_paper_table7_is_the_augmentation_ablation():
    config = load_experiment(REPO_ROOT / "experiments" / "paper_table7.yaml")
    steps = [tuple(t for t, on in m.augment.items() if on) for m in config.models]
    assert steps == [(), ("shift",), ("shift", "scale"), ("shift", "scale", "warp")]
    assert [config.transfer_label(t) for t in config.transfers] == ["FRA→USA", "FRA→ARG"]


def train_option_error(**options) -> str:
    """What TrainConfig itself says of ``options`` (the one validator of training options)."""
    with pytest.raises(TrainOptionError) as err:
        TrainConfig(**options).resolved()
    return str(err.value)


@pytest.mark.parametrize("train, key, options", [
    ({"learning_rate": -1}, "learning_rate", {"learning_rate": -1}),
    ({"epochs": "ten"}, "epochs", {"epochs": "ten"}),
    ({"widths": [8, 16]}, "widths", {"widths": [8, 16]}),
    ({"input_scaling": "smooth"}, "input_scaling", {"input_scaling": "smooth", "feature_kind": "median1d"}),
])
def test_a_bad_train_option_is_one_error_at_its_yaml_key_with_trainconfigs_reason(tmp_path, train, key, options):
    raw = copy.deepcopy(TINY)
    raw["models"].append({"name": "flat", "arch": "cropnet1d", "features": "median1d", "train": train})
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ExperimentConfigError) as err:
        load_experiment(path, shared_data=shared_data_dir)
    reason = train_option_error(arch="cropnet1d", **options)
    assert str(err.value) == f"{path}: models[2].train.{key}: {reason}"
    assert "\n" not in str(err.value)


def test_an_option_from_defaults_is_named_there_for_the_model_it_breaks():
    raw = with_change(("defaults", "input_scaling"), "log")  # fine for the CropNet, not for the forest
    with pytest.raises(ExperimentConfigError) as err:
        parse(raw)
    reason = train_option_error(arch="random_forest", feature_kind="median1d", input_scaling="log")
    assert str(err.value) == f"defaults.input_scaling (for models[1]): {reason}"


def test_an_unknown_train_key_names_the_file_and_the_key(tmp_path):
    raw = with_change(("models",), [{"arch": "cropnet2d", "train": {"lr": 0.01}}])
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ExperimentConfigError, match=rf"^{re.escape(str(path))}: models\[0\]\.train: unknown key\(s\) "
                                                    r"lr; use only epochs, .*learning_rate"):
        load_experiment(path, shared_data=shared_data_dir)


def test_every_trainconfig_field_is_an_experiment_option_or_set_by_a_key():
    """The experiment file cannot drift from TrainConfig: every field is a ``train`` key, set by a model key
    (arch, features, augment) or ``seeds``, or one of the few that start from another model file."""
    names = {f.name for f in fields(TrainConfig)}
    assert names == (set(TRAIN_OPTIONS) - {"ensemble"}) | set(SET_BY_KEYS) | set(FROM_MODEL_FILES)
    assert set(FROM_MODEL_FILES) == {"distill_from", "distill_temperature", "distill_alpha", "init_from"}
    # every accepted field, given at TrainConfig's own default, parses and reaches the trainer as given
    defaults = TrainConfig()
    given = {name: getattr(defaults, name) for name in TRAIN_OPTIONS if name != "ensemble"}
    given["widths"] = list(given["widths"])
    given["augment_options"] = {"p_shift": 0.3}  # merged with the augment switches' probabilities
    model = parse(with_change(("models",), [{"arch": "cropnet2d", "augment": True, "train": given}])).models[0]
    options = model.train_options()
    assert {k: options[k] for k in given} == {**given, "widths": tuple(given["widths"]),
                                              "augment_options": {"p_shift": 0.3, "p_scale": 0.5, "p_warp": 0.5}}
