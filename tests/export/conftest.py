from __future__ import annotations

import pytest

from tests.training.realdata import one_torch_thread


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models train faster on one thread on a shared machine (see realdata.one_torch_thread)."""
    with one_torch_thread():
        yield
