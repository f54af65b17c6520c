"""Real data and tiny trained models for the recipe options of issue 12 (cadence dropout, input
scaling, class-balanced sampling, seed ensembles): WorldCereal France 2023 (dekadal) and 2022
(monthly) extractions, and tiny CropNets (1 epoch, widths 8-8-8-8) trained once per session."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.testing.paths import shared_data_dir
from gee_crop.types import SampleSeries
from tests.training.realdata import one_torch_thread

#: a tiny network, one pass: enough to test contracts, graphs and parity, not accuracy.
TINY = dict(epochs=1, widths=(8, 8, 8, 8), batch_size=64, learning_rate=3e-3, max_gap_bins=12)
#: the recipe of the ensemble members: every option of issue 12 switched on.
RECIPE = dict(input_scaling="log", balanced_sampling=True, augment_options={"p_dropout": 0.5})
ENSEMBLE_SEEDS = (0, 1, 2)


@lru_cache(maxsize=2)
def extraction(name: str) -> SampleSeries:
    """A WorldCereal extraction of ../shared/data/wc-extractions (cached per session)."""
    return read_worldcereal(shared_data_dir() / "wc-extractions" / name)


@pytest.fixture(scope="session")
def fra_dekadal() -> SampleSeries:
    """France 2023, dekadal composites: 500 parcels (corn, soybeans, wheat, other)."""
    return extraction("2023_FRA_LPIS_POLY_110_dekadal.geoparquet")


@pytest.fixture(scope="session")
def fra_monthly() -> SampleSeries:
    """France 2022, monthly composites: 500 parcels."""
    return extraction("2022_FRA_LPIS_POLY_110_monthly.geoparquet")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


def _train(series: SampleSeries, out: Path, **options) -> Path:
    from gee_crop.training.trainer import train

    with one_torch_thread():
        return train(series, out, progress=False, echo=lambda _: None, **TINY, **options).model_path


@pytest.fixture(scope="session")
def recipe_models(tmp_path_factory, fra_dekadal) -> list[Path]:
    """Three seeds of the full recipe (log scaling, balanced sampling, cadence dropout) on France 2023."""
    root = tmp_path_factory.mktemp("recipe")
    return [_train(fra_dekadal, root / f"seed{seed}", seed=seed, **RECIPE) for seed in ENSEMBLE_SEEDS]


@pytest.fixture(scope="session")
def standard_model(tmp_path_factory, fra_dekadal) -> Path:
    """The paper's scaling, otherwise the same tiny options (seed 0)."""
    return _train(fra_dekadal, tmp_path_factory.mktemp("standard") / "run", seed=0)
