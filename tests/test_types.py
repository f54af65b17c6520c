"""The shared in-memory types: a RawStack is stored north up whatever the order it is given in."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gee_crop.classes import NO_CLASS
from gee_crop.data.patch import read_patch
from gee_crop.types import RawStack


@pytest.fixture(scope="module")
def patch(patch_dir) -> RawStack:
    return read_patch(patch_dir)


def test_south_up_and_east_to_west_input_is_stored_north_up(patch):
    flipped = RawStack(patch.dates, patch.dn[:, ::-1, ::-1], patch.cloud[:, ::-1, ::-1], patch.cloud_kind,
                       patch.x[::-1], patch.y[::-1], patch.crs, labels=patch.labels[::-1, ::-1],
                       name="flipped", legend=patch.legend)
    assert flipped.y[0] > flipped.y[-1] and flipped.x[0] < flipped.x[-1]
    np.testing.assert_array_equal(flipped.dn, patch.dn)
    np.testing.assert_array_equal(flipped.cloud, patch.cloud)
    np.testing.assert_array_equal(flipped.classes, patch.classes)
    assert flipped.upper_left == patch.upper_left and flipped.transform == patch.transform


def test_grid_properties_of_the_real_patch(patch):
    assert patch.shape == (64, 64) and patch.resolution == 10.0 and patch.crs == "EPSG:32631"
    res, _, x0, _, e, y1 = patch.transform
    assert (res, e) == (10.0, -10.0) and (x0, y1) == patch.upper_left
    assert x0 == patch.x[0] - 5 and y1 == patch.y[0] + 5
    lon, lat = patch.lonlat()
    assert lon.shape == (64, 64) and 4.05 < lon.mean() < 4.07 and 50.74 < lat.mean() < 50.75


def test_classes_need_labels_and_a_legend(patch):
    assert patch.classes.dtype == np.uint8 and (patch.classes == NO_CLASS).sum() == 371
    assert dataclasses.replace(patch, labels=None).classes is None
    assert dataclasses.replace(patch, legend=None).classes is None
