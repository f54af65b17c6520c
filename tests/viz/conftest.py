"""Fixtures for the viz tests: the real Flanders 2019 patch, its reference classes and 5-day composite."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def patch():
    from gee_crop.pipeline.explore import demo_patch

    return demo_patch()


@pytest.fixture(scope="session")
def reference(patch):
    from gee_crop.pipeline.explore import reference_classes

    return reference_classes(patch)


@pytest.fixture(scope="session")
def composite(patch):
    from gee_crop.pipeline.explore import patch_composite

    return patch_composite(patch)


@pytest.fixture
def offline_ee():
    from gee_crop.testing.offline_ee import initialize_offline

    initialize_offline()
