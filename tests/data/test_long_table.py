"""The long pixel table (a test reader, gee_crop.testing.long_table) equals the patch it was derived from."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gee_crop.config import BANDS
from gee_crop.testing.long_table import read_long_table
from gee_crop.data.patch import patch_pixels
from gee_crop.errors import InputError


@pytest.fixture(scope="module")
def long_path(shared_data):
    return shared_data / "wc-gee-patches" / "derived_pixels_long_0000280849BAC91C.parquet"


def test_long_table_has_267_labelled_pixels_with_72_sorted_dates(long_path):
    series = read_long_table(long_path, region="BEL")
    counts = dict(zip(*np.unique(series.crop_class.astype(str), return_counts=True)))
    assert counts == {"corn": 40, "other": 187, "wheat": 40}  # PROVENANCE.md
    assert series.dn.shape == (267, 72, len(BANDS)) and set(series.cloud_kind) == {"scl"}
    assert (np.diff(series.dates.astype(np.int64), axis=1) > 0).all()
    assert str(series.dates[0, 0]) == "2018-08-04" and str(series.dates[0, -1]) == "2019-11-27"


def test_long_table_equals_the_patch_pixel_matched_by_coordinates(long_path, patch):
    series = read_long_table(long_path)
    lon, lat = patch.lonlat()
    # nearest patch pixel centre of each long-table pixel (lon/lat are rounded to 1e-6 deg there)
    d2 = (lon.ravel()[None, :] - series.lon[:, None]) ** 2 + (lat.ravel()[None, :] - series.lat[:, None]) ** 2
    nearest = d2.argmin(axis=1)
    assert np.sqrt(d2.min(axis=1)).max() < 2e-6
    rows, cols = np.unravel_index(nearest, patch.shape)
    assert np.array_equal(rows, series.extra["row"]) and np.array_equal(cols, series.extra["col"])
    expected = patch_pixels(patch, rows, cols)
    assert np.array_equal(series.dn, expected.dn)
    assert np.array_equal(series.cloud, expected.cloud)
    assert np.array_equal(series.dates, expected.dates)
    assert np.array_equal(series.extra["source_code"], patch.labels[rows, cols])


def test_long_table_without_a_band_names_it(long_path, tmp_path):
    df = pd.read_parquet(long_path).drop(columns=["B8A"])
    df.to_parquet(tmp_path / "no_b8a.parquet")
    with pytest.raises(InputError, match="no column for band B8A"):
        read_long_table(tmp_path / "no_b8a.parquet")
    with pytest.raises(InputError, match="does not exist"):
        read_long_table(tmp_path / "absent.parquet")


def test_a_pixel_with_two_labels_is_refused(long_path, tmp_path):
    df = pd.read_parquet(long_path)
    df.loc[df.index[1], "ct_code"] = 1200  # pixel r00c00 is Potatoes (5100) on its other dates
    df.to_parquet(tmp_path / "two_labels.parquet")
    with pytest.raises(InputError, match="more than one ct_code"):
        read_long_table(tmp_path / "two_labels.parquet")
