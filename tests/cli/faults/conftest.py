"""Fixtures of the fault catalogue: the real demo patch, the tiny CropNet trained on its labelled pixels
(model.pt and its ONNX export, shared with tests/mapping) and its sample table."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.mapping.conftest import contract, offline_ee, patch_stack, season_2019, tiny_onnx  # noqa: F401
from tests.training.realdata import one_torch_thread, table_file, tiny_run

FAST = dict(scheduler="synchronous", progress=False)


@pytest.fixture(scope="session")
def tiny_model_pt(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory) / "model.pt"


@pytest.fixture(scope="session")
def bel_table(tmp_path_factory) -> Path:
    """360 real labelled pixels of the patch (corn, wheat, other) as a sample table."""
    return table_file(tmp_path_factory)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield
