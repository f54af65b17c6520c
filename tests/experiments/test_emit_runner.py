"""The experiment runner runs the paper's EMIT rows (experiments/paper_emit.yaml's layout: majority class, RF and
CropNet 1D per feature set, an in-region split by sample, mean ± std over seeds). The spectra are REAL (the 100
pixels of the EMIT cube in ../shared/data/emit); their months, places and classes are SYNTHETIC: no labelled EMIT
table exists in the shared data (its PROVENANCE.md), so these numbers are not the paper's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from gee_crop.data.emit_table import EmitTable, write_emit_table
from gee_crop.errors import InputError
from gee_crop.experiments import run_experiment
from gee_crop.experiments.config import load_experiment
from gee_crop.testing.synthetic_emit import synthetic_emit_table
from tests.training.realdata import one_torch_thread

TINY = {"epochs": 3, "widths": [8, 8, 8, 8], "learning_rate": 3e-3, "batch_size": 16}


@pytest.fixture(scope="module")
def emit_file(shared_data, tmp_path_factory):
    """An EMIT table of the cube's 100 real spectra (SYNTHETIC: June as read, August 10 % darker, a 10 x 10 grid
    of places, classes from NDVI)."""
    rows = synthetic_emit_table(shared_data).rows
    rows = rows.drop(index=rows.index[(rows.month == 8).to_numpy() & (np.arange(len(rows)) % 100 < 5)])  # 5 not clear
    return write_emit_table(EmitTable(rows, (6, 8)), tmp_path_factory.mktemp("emit") / "USA_emit.parquet")


def _config(tmp_path, emit_file, models):
    text = {
        "name": "emit_tiny", "title": "EMIT rows on real spectra, synthetic labels", "seeds": 2, "data_dir": ".",
        "datasets": {"USA": {"reader": "emit", "path": str(emit_file), "region": "USA"}},
        "transfers": [{"source": "USA", "target": "USA", "split": 0.3}], "models": models,
    }
    path = tmp_path / "emit.yaml"
    path.write_text(yaml.safe_dump(text))
    return load_experiment(path)


def test_the_runner_runs_emit_rows_with_majority_and_rf_beside_the_deep_row(tmp_path, emit_file):
    models = [
        {"name": "Majority EMIT June+August", "arch": "majority", "features": "emit_june_august"},
        {"name": "RF EMIT June+August", "arch": "random_forest", "features": "emit_june_august",
         "train": {"n_estimators": 30}},
        {"name": "CropNet 1D EMIT June+August", "arch": "cropnet1d", "features": "emit_june_august", "train": TINY},
        {"name": "Linear EMIT June", "arch": "linear", "features": "emit_june", "train": TINY},
    ]
    config = _config(tmp_path, emit_file, models)
    with one_torch_thread():
        run = run_experiment(config, tmp_path / "out", echo=lambda _: None)
    assert run.n_computed == 8 and run.figures == []
    by = {(r["model"], r["seed"]): r for r in run.results}
    # the split draws 30 of the 100 samples; 5 samples lack August, so June+August scores 29 of them at seed 0
    assert by[("RF EMIT June+August", 0)]["n_table_samples"] == 29
    assert by[("Linear EMIT June", 1)]["n_table_samples"] == 30
    assert by[("RF EMIT June+August", 0)]["target_region"] == "USA"
    for seed in (0, 1):  # the classes follow NDVI, which the spectra carry: the forest beats the majority row
        assert by[("RF EMIT June+August", seed)]["overall_accuracy"] > by[("Majority EMIT June+August", seed)][
            "overall_accuracy"]
        assert by[("Majority EMIT June+August", seed)]["macro_f1"] < 0.5  # one class predicted of two
    table = (tmp_path / "out" / "table.md").read_text()
    for name in ("Majority EMIT June+August", "RF EMIT June+August", "CropNet 1D EMIT June+August"):
        assert name in table
    assert "±" in table
    assert (tmp_path / "out" / "models").is_dir()
    with one_torch_thread():
        again = run_experiment(config, tmp_path / "out", echo=lambda _: None)
    assert again.n_computed == 0 and again.n_skipped == 8  # a rerun resumes


def test_emit_features_on_sentinel2_data_and_2d_backbones_on_emit_are_refused(tmp_path, emit_file):
    with pytest.raises(Exception, match="resnet50 cannot use 'emit_june' features; use one of median2d"):
        _config(tmp_path, emit_file, [{"name": "R", "arch": "resnet50", "features": "emit_june"}])
    config = _config(tmp_path, emit_file, [{"name": "RF 1D", "arch": "random_forest", "features": "median1d"}])
    with pytest.raises(InputError, match="EMIT features need EMIT datasets and EMIT datasets need EMIT features"):
        run_experiment(config, tmp_path / "out", echo=lambda _: None)
    rf = _config(tmp_path, emit_file, [{"name": "RF", "arch": "random_forest", "features": "emit"}])
    ensemble = dataclasses.replace(rf.models[0], train={"ensemble": 2})
    with pytest.raises(InputError, match="seed ensembles of EMIT models are not supported"):
        run_experiment(dataclasses.replace(rf, models=(ensemble,)), tmp_path / "out2", echo=lambda _: None)
