"""The shipped real demo data: the Flanders 2019 Earth Engine patch inside the package, and the samples
``gee-crop demo`` draws from it. ``demo`` trains on them, ``export`` calibrates and parity-checks on the
patch's pixels when the user gives no table, and the notebooks fall back to them offline
(``pipeline/explore.py``); ``gee_crop.testing`` re-exports them for tests."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box

from gee_crop.config import CLEAR_THRESHOLD, MAX_GAP_BINS
from gee_crop.data.patch import patch_pixels, read_patch
from gee_crop.data.regions import WGS84, reproject_geometry
from gee_crop.data.sampling import sample_local_stack
from gee_crop.features.composite import composite_pixels, stack_arrays
from gee_crop.features.seasons import infer_season_year, season_start_days
from gee_crop.season import Season, SeasonSpan
from gee_crop.types import RawStack, SampleSeries, SamplingRules

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
    rules = SamplingRules(buffer_m=DEMO_BUFFER_M, spacing_m=DEMO_SPACING_M, per_cell=DEMO_PER_CELL, seed=seed)
    return sample_local_stack(patch, rules, region=DEMO_REGION)


def demo_pixels(step: int = 8) -> SampleSeries:
    """An even spread of the demo patch's pixels (every ``step``-th row and column; unlabelled): real
    model inputs for the ONNX parity check and int8 calibration when the user gives no table."""
    patch = read_patch(demo_patch_dir(), with_labels=False)
    h, w = patch.shape
    rows, cols = np.meshgrid(np.arange(0, h, step), np.arange(0, w, step), indexing="ij")
    return patch_pixels(patch, rows.ravel(), cols.ravel())


# ----------------------------------------------------------------------------- offline stand-ins


def patch_footprint(patch: RawStack) -> shapely.Geometry:
    """The patch's outline as a WGS84 shapely polygon (also the live notebooks' area of interest)."""
    (x0, y1), (h, w), res = patch.upper_left, patch.shape, patch.resolution
    return reproject_geometry(box(x0, y1 - h * res, x0 + w * res, y1), patch.crs, WGS84)


@dataclass
class PatchComposite:
    """The offline stand-in of ``median_composite``: ``reflectance`` (H, W, 10, n_bins) float32
    gap-filled 5-day medians (SENTINEL2.bands order), ``keep`` (H, W) bool (gap rule passed), ``season``."""

    reflectance: np.ndarray
    keep: np.ndarray
    season: SeasonSpan

    def bin_dates(self) -> list:
        """First day of each window (``datetime.date``)."""
        return self.season.bin_starts()


def patch_composite(
    patch: RawStack,
    *,
    year: int | None = None,
    season: Season = Season(),
    threshold: float = CLEAR_THRESHOLD,
    max_gap_bins: int = MAX_GAP_BINS,
) -> PatchComposite:
    """Medians of ``season``'s windows of every patch pixel with the training code (cloud mask,
    windows, gap filling); ``year`` None: the season the patch covers best."""
    arrays = stack_arrays(patch, threshold=threshold)
    lat = patch.lonlat()[1].ravel()
    if year is None:
        year = infer_season_year(arrays, lat, season=season)
    composite = composite_pixels(
        arrays, season_start_days(lat, int(year), season), season.window_days, season.n_bins, max_gap_bins=max_gap_bins
    )
    h, w = patch.shape
    span = season.span_at(int(year), float(np.median(lat)))
    return PatchComposite(composite.values.reshape(h, w, -1, season.n_bins), composite.keep.reshape(h, w), span)
