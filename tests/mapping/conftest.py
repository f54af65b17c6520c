"""Fixtures for the mapping tests: the real demo patch as a local stack, a tiny CropNet trained on its
labelled pixels and exported to ONNX (once per session), and a fake Earth Engine that serves the patch."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely

from gee_crop.data.stacks import open_local_stack
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.sources import LocalStackSource
from gee_crop.models.io import read_contract
from gee_crop.mapping.engine import run_map
from gee_crop.season import SeasonSpan
from gee_crop.types import RawStack


@pytest.fixture(scope="session")
def patch_stack(patch_dir) -> RawStack:
    """The real Flanders 2019 patch (72 dates, 64 x 64 px at 10 m, SCL clouds, class labels)."""
    return open_local_stack(patch_dir)


@pytest.fixture
def local_source(patch_stack) -> LocalStackSource:
    return LocalStackSource(patch_stack)


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    """A tiny CropNet2D (widths 8-16-32-64) trained on 360 real labelled patch pixels, as ONNX."""
    from gee_crop.export.onnx import export_onnx
    from tests.training.realdata import tiny_run

    run = tiny_run(tmp_path_factory)
    return export_onnx(run / "model.pt", tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="session")
def contract(tiny_onnx) -> FeatureSpec:
    """How the tiny model composites (threshold, gap limit, season rule) and what it predicts."""
    return read_contract(tiny_onnx)


@pytest.fixture(scope="session")
def season_2019(contract) -> SeasonSpan:
    """The tiny model's season in 2019 at the patch (north)."""
    return contract.season.span_at(2019, 50.75)


@pytest.fixture
def offline_ee():
    from gee_crop.testing.offline_ee import initialize_offline

    initialize_offline()


def class_band(result) -> np.ndarray:
    """The class band of a finished map's COG."""
    with rasterio.open(result.cog) as src:
        return src.read(1)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, patch_stack, tiny_onnx):
    """An uninterrupted local map of the whole patch in 16 tiles of 16 px (synchronous, no overlap):
    what interrupted, resumed or overlapped runs must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "map"
    return run_map(LocalStackSource(patch_stack), tiny_onnx, out, tile_size=16, scheduler="synchronous",
                   progress=False)


class Killed(BaseException):
    """Stands for SIGKILL: not a user error, so nothing catches it."""


def killed_after(n: int):
    """(tile hook, started): the hook raises Killed when the (n + 1)-th tile starts; ``started`` lists
    the names of the tiles started before."""
    started: list[str] = []

    def hook(tile) -> None:
        if len(started) == n:
            raise Killed
        started.append(tile.name)

    return hook, started


@pytest.fixture
def synthetic_server(monkeypatch, offline_ee):
    """``map --on-server`` classifies with the synthetic classifier of tests/mapping/synthetic_server.py."""
    from gee_crop.mapping import server_map
    from tests.mapping.synthetic_server import synthetic_classification

    monkeypatch.setattr(server_map, "server_classification", synthetic_classification)


@pytest.fixture
def patch_region(tmp_path, patch_stack):
    """The demo patch's footprint as a GeoJSON Feature file."""
    path = tmp_path / "patch.geojson"
    footprint = LocalStackSource(patch_stack).footprint()
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(footprint)}))
    return path
