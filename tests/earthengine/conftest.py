"""Earth Engine tests run offline: real algorithm signatures, no credentials, no server."""
from __future__ import annotations

import pytest

from gee_crop.testing.offline_ee import initialize_offline


@pytest.fixture(autouse=True)
def offline_ee():
    """ee initialised with the shipped algorithm signatures (the socket guard stays on)."""
    initialize_offline()
    yield
