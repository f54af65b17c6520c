"""Fixtures of tests/features/seasons: real tables of different season years, read once per module."""
from __future__ import annotations

import pytest
import torch

from gee_crop.data.sampling import sample_from_files
from gee_crop.data.worldcereal import read_worldcereal
from gee_crop.types import SampleSeries, SamplingRules

#: the Flanders 2019 patch sampled densely (as experiments/transfer_lodo.yaml does): 477 samples.
PATCH_SAMPLING = {"buffer_m": 10, "spacing_m": 20, "per_cell": 2000, "seed": 0}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models train faster on one thread on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def fra23(shared_data) -> SampleSeries:
    """France 2023, WorldCereal dekadal composites (500 samples, Sep 2022 - Jan 2024)."""
    return read_worldcereal(shared_data / "wc-extractions" / "2023_FRA_LPIS_POLY_110_dekadal.geoparquet")


@pytest.fixture(scope="session")
def bel21(shared_data) -> SampleSeries:
    """Flanders 2021, WorldCereal monthly composites (100 samples, Aug 2020 - Nov 2021)."""
    return read_worldcereal(shared_data / "wc-extractions" / "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet")


@pytest.fixture(scope="session")
def patch19(patch_dir) -> SampleSeries:
    """Samples of the Flanders patch (raw Sentinel-2 with SCL, Aug 2018 - Nov 2019)."""
    return sample_from_files(patch_dir, region="BEL", rules=SamplingRules(**PATCH_SAMPLING))
