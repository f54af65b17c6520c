"""Issue 22 finding 5: the inward buffer and the sample spacing are computed on a metric grid.

Earth Engine computes each operation in the projection its output is requested in; ``reproject`` pins
only what is upstream of it (https://developers.google.com/earth-engine/guides/projections). The
sampling graph is evaluated here with that rule (gee_crop.testing.ee_grid_eval) over the real patch's
labels (Flanders 2019, 10 m UTM 31N), and the points it gives are checked by their values: distances
in metres between points, and the labels around each point.
"""
from __future__ import annotations

import datetime as dt

import ee
import numpy as np
import pytest
from pyproj import Transformer

from gee_crop.classes import NO_CLASS
from gee_crop.data.patch import read_patch
from gee_crop.earthengine import sampling
from gee_crop.testing.ee_grid_eval import Raster, sampled_points
from gee_crop.types import SamplingRules

LABELS = "projects/test/assets/flanders_labels"
RULES = SamplingRules(buffer_m=60, spacing_m=60, per_cell=10_000)  # every candidate (one 0.1° cell)


@pytest.fixture(scope="module")
def patch(patch_dir):
    return read_patch(patch_dir)


def _points(patch, rules: SamplingRules):
    # the patch is a window of a larger map: outside it, the nearest label (as the local buffer reads it)
    raster = Raster(patch.classes, patch.crs, *patch.upper_left, patch.resolution, nodata=NO_CLASS, extend=True)
    lon, lat = patch.lonlat()
    box = ee.Geometry.Rectangle([float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())])
    labels = ee.Image(LABELS).rename("class")
    crs = sampling.utm_crs(float(lon.mean()), float(lat.mean()))
    assert crs == patch.crs  # the tile's UTM zone is the patch's own grid
    rows = sampling.sampling_graph(labels, box, dt.date(2019, 1, 1), dt.date(2020, 1, 1), rules, label_crs=crs)
    points = sampled_points(rows, {LABELS: raster})
    to_utm = Transformer.from_crs("EPSG:4326", patch.crs, always_xy=True)
    xy = np.array([to_utm.transform(p.lon, p.lat) for p in points])
    return points, xy


def test_sample_points_are_at_least_60_m_apart_in_metres(patch):
    points, xy = _points(patch, RULES)
    assert len(points) >= 5  # not vacuous: the patch holds whole fields
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= RULES.spacing_m - 0.01, f"two points are {d.min():.1f} m apart (spacing {RULES.spacing_m} m)"
    assert {p.crs for p in points} == {patch.crs}  # sampled on the tile's UTM grid


def test_inward_buffer_keeps_points_60_m_inside_their_field(patch):
    """Every label pixel whose centre lies within 50 m of a point (60 m less the 10 m pixel's half
    diagonal, rounded down) has the point's class. Points on a 20 m grid (more of them): the buffer
    is 60 m whatever the spacing."""
    points, xy = _points(patch, SamplingRules(buffer_m=60, spacing_m=20, per_cell=10_000))
    assert len(points) >= 50
    (x0, y1), res = patch.upper_left, patch.resolution
    gx = x0 + (np.arange(patch.classes.shape[1]) + 0.5) * res
    gy = y1 - (np.arange(patch.classes.shape[0]) + 0.5) * res
    near_edge = []
    for p, (x, y) in zip(points, xy):
        within = np.hypot(gx[None, :] - x, gy[:, None] - y) <= 50
        classes = set(np.unique(patch.classes[within]).tolist())
        if classes != {int(p.values["class"])}:
            near_edge.append((round(x), round(y), sorted(classes)))
    assert not near_edge, f"{len(near_edge)} of {len(points)} points lie within 50 m of another class: {near_edge[:3]}"
