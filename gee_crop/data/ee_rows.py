"""Earth Engine sampling rows -> the sample table.

The extraction graph (:func:`gee_crop.earthengine.sampling.series_rows`) returns one row per
(sample, acquisition) with properties ``lon, lat, class, date, B2 … B12, <cloud band>``, streamed
as GeoJSON features or exported as CSV (read into a frame by ``earthengine.sampling.features_to_frame`` /
``read_export_csv``). Rows of one sample share (lon, lat); they are grouped,
sorted by date and padded into a :class:`SampleSeries` with one vectorized pass (pandas).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gee_crop.classes import CLASSES
from gee_crop.errors import SampleTableError
from gee_crop.sensors import SENTINEL2
from gee_crop.types import SampleSeries

ID_DECIMALS = 5  # 1e-5 degree ~ 1 m: unique for samples at least 60 m apart


def empty_series() -> SampleSeries:
    """A table with no samples."""
    obj = np.array([], dtype=object)
    return SampleSeries(
        obj,
        np.zeros(0),
        np.zeros(0),
        obj,
        obj,
        obj,
        np.zeros((0, 0), "datetime64[D]"),
        np.zeros((0, 0, len(SENTINEL2.bands)), np.uint16),
        np.zeros((0, 0), np.float32),
    )


def rows_to_series(
    rows: pd.DataFrame, *, region: str, cloud_band: str = "cs", classes: tuple[str, ...] = CLASSES
) -> SampleSeries:
    """Group sampling rows into a SampleSeries (cloud_kind = ``cloud_band``; ``class`` holds indices
    into ``classes``, the job's class list).""

    Duplicate acquisitions of a sample on one date (overlapping S2 tiles/orbits) keep the row with
    the highest cloud score. ``sample_id`` = ``{region}_{lon}_{lat}`` (5 decimals).
    """
    if rows.empty:
        series = empty_series()
        series.classes = tuple(classes)
        return series
    needed = ["lon", "lat", "class", "date", *SENTINEL2.bands, cloud_band]
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise SampleTableError(
            f"Earth Engine rows lack {missing}; they must come from the gee-crop "
            "sampling graph (re-run `gee-crop sample`)"
        )
    frame = rows[needed].copy()
    frame["sid"] = (
        region
        + "_"
        + frame["lon"].round(ID_DECIMALS).map(f"{{:.{ID_DECIMALS}f}}".format)
        + "_"
        + frame["lat"].round(ID_DECIMALS).map(f"{{:.{ID_DECIMALS}f}}".format)
    )
    frame["day"] = pd.to_datetime(frame["date"]).values.astype("datetime64[D]")
    frame = frame.sort_values(["sid", "day", cloud_band], ascending=[True, True, False]).drop_duplicates(
        ["sid", "day"], keep="first"
    )
    ids, start, counts = np.unique(frame["sid"].to_numpy(), return_index=True, return_counts=True)
    n, t = len(ids), int(counts.max())
    position = np.arange(len(frame)) - np.repeat(start, counts)
    sample = np.repeat(np.arange(n), counts)
    dates = np.full((n, t), np.datetime64("NaT"), dtype="datetime64[D]")
    dates[sample, position] = frame["day"].to_numpy()
    dn = np.zeros((n, t, len(SENTINEL2.bands)), dtype=np.uint16)
    dn[sample, position] = (
        np.clip(frame[list(SENTINEL2.bands)].to_numpy(np.float64), 0, 65535).round().astype(np.uint16)
    )
    cloud = np.full((n, t), np.nan, dtype=np.float32)
    cloud[sample, position] = frame[cloud_band].to_numpy(np.float32)
    first = frame.iloc[start]
    names = np.asarray(classes, dtype=object)[first["class"].to_numpy(np.int64)]
    return SampleSeries(
        sample_id=ids.astype(object),
        lon=first["lon"].to_numpy(np.float64),
        lat=first["lat"].to_numpy(np.float64),
        region=np.full(n, region, dtype=object),
        crop_class=names,
        cloud_kind=np.full(n, cloud_band, dtype=object),
        dates=dates,
        dn=dn,
        cloud=cloud,
        classes=tuple(classes),
    )
