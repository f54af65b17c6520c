"""Fixtures for the viz tests: the real Flanders 2019 patch, its reference classes and 5-day composite."""
from __future__ import annotations

import pytest

from gee_crop.pipeline.explore import patch_composite
from gee_crop.testing.demo_data import demo_patch
from gee_crop.testing.offline_ee import initialize_offline


@pytest.fixture(scope="session")
def patch():
    return demo_patch()


@pytest.fixture(scope="session")
def reference(patch):
    return patch.classes


@pytest.fixture(scope="session")
def composite(patch):
    return patch_composite(patch)


@pytest.fixture
def offline_ee():
    initialize_offline()
