"""The shipped real demo data for tests (yours and gee-crop's): the Flanders 2019 Earth Engine patch and
samples drawn from it like ``gee-crop demo``. They live in :mod:`gee_crop.data.demo`, where ``demo`` and
``export`` read them; this module only re-exports them."""

from __future__ import annotations

from gee_crop.data.demo import (
    DEMO_BUFFER_M,
    DEMO_PER_CELL,
    DEMO_REGION,
    DEMO_SPACING_M,
    demo_patch,
    demo_pixels,
    demo_samples,
)

__all__ = [
    "DEMO_BUFFER_M",
    "DEMO_PER_CELL",
    "DEMO_REGION",
    "DEMO_SPACING_M",
    "demo_patch",
    "demo_pixels",
    "demo_samples",
]
