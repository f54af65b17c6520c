"""The shipped real demo data: the Flanders 2019 Earth Engine patch inside the package, and the samples
``gee-crop demo`` draws from it. ``demo`` trains on them, ``export`` calibrates and parity-checks on the
patch's pixels when the user gives no table, and the notebooks fall back to them offline
(``pipeline/explore.py``); ``gee_crop.testing`` re-exports them for tests."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from gee_crop.data.patch import patch_pixels, read_patch
from gee_crop.data.sampling import sample_local_stack
from gee_crop.types import RawStack, SampleSeries

DEMO_PATCH_ID = "0000280849BAC91C"
#: The paper's sampling rules scaled to the 640 m demo patch: a 10 m inward buffer and spacing and no
#: per-cell cap (60 m and 5 per 0.1 degree cell would leave a handful of samples on 64 x 64 pixels).
DEMO_BUFFER_M = 10.0
DEMO_SPACING_M = 10.0
DEMO_PER_CELL = 10_000
DEMO_REGION = "BEL"


def demo_patch_dir() -> Path:
    """Folder of the Earth Engine demo patch shipped in the package (Flanders 2019, 64x64 px at 10 m;
    gee_crop/resources/demo/PROVENANCE.md)."""
    return Path(str(resources.files("gee_crop.resources").joinpath("demo").joinpath(DEMO_PATCH_ID)))


def demo_patch() -> RawStack:
    """The shipped Earth Engine patch (Flanders, 2019 season; 72 dates, 64 x 64 px at 10 m, labels)."""
    return read_patch(demo_patch_dir())


def demo_samples(patch: RawStack | None = None, *, seed: int = 0) -> SampleSeries:
    """Samples of the demo patch drawn like ``gee-crop demo`` (one per labelled pixel left by the
    buffer and the spacing), with all their raw dates."""
    patch = demo_patch() if patch is None else patch
    return sample_local_stack(
        patch, buffer_m=DEMO_BUFFER_M, spacing_m=DEMO_SPACING_M, per_cell=DEMO_PER_CELL, region=DEMO_REGION, seed=seed
    )


def demo_pixels(step: int = 8) -> SampleSeries:
    """An even spread of the demo patch's pixels (every ``step``-th row and column; unlabelled): real
    model inputs for the ONNX parity check and int8 calibration when the user gives no table."""
    patch = read_patch(demo_patch_dir(), with_labels=False)
    h, w = patch.shape
    rows, cols = np.meshgrid(np.arange(0, h, step), np.arange(0, w, step), indexing="ij")
    return patch_pixels(patch, rows.ravel(), cols.ravel())
