"""Real inputs for the feature tests: the Flanders 2019 Earth Engine patch (SCL cloud mask)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gee_crop.classes import EXCLUDE, OTHER
from gee_crop.config import BANDS, two_digit_band
from gee_crop.data.patch import patch_pixels, read_patch
from gee_crop.features.composite import prepare_series
from gee_crop.features.seasons import season_start_days
from gee_crop.types import SampleSeries


@pytest.fixture(scope="session")
def patch(patch_dir):
    return read_patch(patch_dir)


@pytest.fixture(scope="session")
def patch_series(patch) -> SampleSeries:
    """All 4096 pixels of the patch, 72 dates each, labelled by the Flanders 2019 parcel register
    (pixels without a label are called 'other' here; tests that need classes use ``source_code``)."""
    rows, cols = np.divmod(np.arange(64 * 64), 64)
    names = patch.legend.names(patch.labels[rows, cols])
    names = np.where(names == EXCLUDE, OTHER, names)
    return patch_pixels(patch, rows, cols, crop_class=names, region="BEL")


@pytest.fixture(scope="session")
def patch_arrays(patch_series):
    return prepare_series(patch_series)


@pytest.fixture(scope="session")
def season_2019(patch_series) -> np.ndarray:
    return season_start_days(patch_series.lat, 2019)


@pytest.fixture(scope="session")
def long_series(shared_data) -> SampleSeries:
    """The 267 labelled pixels of derived_pixels_long_*.parquet (one row per pixel and date) as a SampleSeries."""
    frame = pd.read_parquet(next((shared_data / "wc-gee-patches").glob("derived_pixels_long_*.parquet")))
    frame = frame.sort_values(["pixel_id", "date"])
    pixels = frame.groupby("pixel_id", sort=True).first()
    n = len(pixels)
    t = len(frame) // n
    band_columns = [two_digit_band(b) for b in BANDS]
    return SampleSeries(
        sample_id=pixels.index.to_numpy(dtype=object), lon=pixels["lon"].to_numpy(),
        lat=pixels["lat"].to_numpy(), region=np.full(n, "BEL", dtype=object),
        crop_class=pixels["gee_crop_class"].to_numpy(dtype=object),
        cloud_kind=np.full(n, "scl", dtype=object),
        dates=frame["date"].to_numpy().astype("datetime64[D]").reshape(n, t),
        dn=frame[band_columns].to_numpy(np.uint16).reshape(n, t, len(BANDS)),
        cloud=frame["SCL"].to_numpy(np.float32).reshape(n, t),
    )
