"""Fixtures for the tests of gee_crop.testing: the shipped real patch, its default season, and the
patch server built on them (one per module: compositing the patch takes about a second)."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.season import SeasonSpan
from gee_crop.data.patch import read_patch
from gee_crop.features.spec import FeatureSpec
from gee_crop.testing.fake_ee_patch import PatchComputePixels
from gee_crop.testing.offline_ee import initialize_offline
from gee_crop.types import RawStack


@pytest.fixture(scope="session")
def patch(patch_dir) -> RawStack:
    """The real Flanders 2019 patch (72 dates, 64 x 64 px at 10 m, SCL clouds, WorldCereal labels)."""
    return read_patch(patch_dir)


@pytest.fixture(scope="session")
def spec() -> FeatureSpec:
    """The paper's features: 5-day medians over May 1 + 213 days, threshold 0.75, gaps up to 10 bins."""
    return FeatureSpec()


@pytest.fixture(scope="session")
def season(spec, patch) -> SeasonSpan:
    """The 2019 season at the patch (north: 2019-05-01, 43 windows)."""
    _, lat = patch.lonlat()
    return spec.season.span_at(2019, float(np.mean(lat)))


@pytest.fixture(scope="module")
def server(patch, spec, season) -> PatchComputePixels:
    return PatchComputePixels(patch, spec, season)


@pytest.fixture
def offline_ee() -> None:
    """ee initialised with the shipped algorithm signatures (the network guard stays on)."""
    initialize_offline()


def grid_of(patch: RawStack, row0: int, col0: int, height: int, width: int) -> dict:
    """The computePixels grid of a window of the patch's own 10 m grid, upper-left pixel (row0, col0)."""
    res, (x0, y1) = patch.resolution, patch.upper_left
    return {"crsCode": patch.crs, "dimensions": {"width": width, "height": height},
            "affineTransform": {"scaleX": res, "shearX": 0.0, "translateX": x0 + col0 * res,
                                "shearY": 0.0, "scaleY": -res, "translateY": y1 - row0 * res}}
