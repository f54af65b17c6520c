"""Fixtures of the fine-tuning tests: a tiny CropNet trained on real France 2023 samples (the source)
and the real Belgium 2021 WorldCereal samples (the small table it is fine-tuned on)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gee_crop.data.table import write_table
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.testing.paths import shared_data_dir
from gee_crop.training.trainer import train
from gee_crop.types import SampleSeries
from tests.training.realdata import one_torch_thread

TINY = dict(widths=(8, 8, 8, 8), max_gap_bins=12)
#: the source's options: one epoch at the CI learning rate, tiny widths.
SOURCE_OPTIONS = dict(epochs=1, learning_rate=3e-3, batch_size=64, seed=0, **TINY)
QUIET = dict(progress=False, echo=lambda _: None)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


def _extraction(name: str) -> SampleSeries:
    return read_worldcereal(shared_data_dir() / "wc-extractions" / name)


@pytest.fixture(scope="session")
def bel() -> SampleSeries:
    """Belgium 2021 (Flanders), monthly composites: 100 real samples (corn, wheat, other)."""
    return _extraction("2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet")


@pytest.fixture(scope="session")
def bel_table(bel, tmp_path_factory) -> Path:
    return write_table(bel, tmp_path_factory.mktemp("bel") / "bel.parquet")


@pytest.fixture(scope="session")
def source(tmp_path_factory) -> Path:
    """model.pt of a tiny CropNet trained on the real France 2023 dekadal samples."""
    out = tmp_path_factory.mktemp("source")
    with one_torch_thread():
        return train(_extraction("2023_FRA_LPIS_POLY_110_dekadal.geoparquet"), out, **SOURCE_OPTIONS,
                     **QUIET).model_path
