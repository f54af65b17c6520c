"""Fixtures of tests/data: the real Earth Engine patch, read once per session."""
from __future__ import annotations

import pytest

from gee_crop.data.patch import read_patch


@pytest.fixture(scope="session")
def patch(patch_dir):
    """The real Flanders 2019 patch (72 dates, 64x64 px at 10 m, WorldCereal crop codes)."""
    return read_patch(patch_dir)
