"""A tiny experiment on the shipped real data, run once per session and shared by the tests here:
France (WorldCereal 2023 dekadal, 120 samples) -> Belgium (WorldCereal 2021 monthly; pixels sampled
from the Earth Engine patch), a tiny CropNet 2D with augmentation and a 20-tree forest, 2 seeds."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gee_crop.experiments import load_experiment
from gee_crop.testing.paths import shared_data_dir

TINY = {
    "name": "tiny",
    "title": "tiny France to Belgium",
    "seeds": [0, 1],
    "torch_threads": 1,
    "defaults": {"max_gap_bins": 12, "epochs": 2, "batch_size": 32, "learning_rate": 0.003},
    "datasets": {
        "FRA": {"reader": "worldcereal", "limit": 120,
                "path": "{shared_data}/wc-extractions/2023_FRA_LPIS_POLY_110_dekadal.geoparquet"},
        "BEL": {"reader": "worldcereal",
                "path": "{shared_data}/wc-extractions/2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet"},
        "BEL_patch": {"reader": "patch", "region": "BEL", "limit": 60,
                      "path": "{shared_data}/wc-gee-patches/0000280849BAC91C",
                      "sampling": {"buffer_m": 20, "spacing_m": 30, "per_cell": 400}},
    },
    "transfers": [{"source": "FRA", "target": "BEL"},
                  {"source": "FRA", "target": "BEL_patch", "label": "FRA→BEL patch"}],
    "models": [
        {"name": "CropNet 2D + aug", "arch": "cropnet2d", "augment": True, "train": {"widths": [8, 16, 32, 64]}},
        {"name": "RF 1D", "arch": "random_forest", "features": "median1d", "train": {"n_estimators": 20}},
    ],
    "insight": {"tsne_samples": 60, "cam_samples": 60},
}


def write_config(folder: Path, config: dict, name: str = "tiny.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def load_tiny(path: Path):
    """The experiment file at ``path``, its {shared_data} paths in the shipped real-data folder."""
    return load_experiment(path, shared_data=shared_data_dir)


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory) -> Path:
    return write_config(tmp_path_factory.mktemp("tiny_config"), TINY)


@pytest.fixture(scope="session")
def tiny_experiment(tmp_path_factory, tiny_config):
    """(ExperimentRun, out folder) of the tiny experiment, figures included."""
    from gee_crop.experiments import run_experiment

    out = tmp_path_factory.mktemp("tiny_experiment")
    lines: list[str] = []
    run = run_experiment(tiny_config, out, shared_data=shared_data_dir, echo=lines.append)
    return run, out, lines


@pytest.fixture
def experiment_copy(tmp_path, tiny_experiment) -> Path:
    """A private copy of the finished tiny experiment folder (tests may change it)."""
    _, out, _ = tiny_experiment
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    return copy
