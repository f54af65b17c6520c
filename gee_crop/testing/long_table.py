"""Reader for "long" pixel tables: one row per pixel per acquisition date (Parquet), for tests.

No command reads such a table (sample tables, WorldCereal extractions and stacks are the product's
inputs); tests use it to read the shipped real pixels of the Earth Engine patch in this form.

The shipped ``wc-gee-patches/derived_pixels_long_*.parquet`` is such a table, made from the Earth
Engine patch: columns ``pixel_id, date, row, col, lon, lat``, the 10 bands with Sentinel-2
two-digit names (``B02`` ... ``B12``, DN), ``SCL`` and the WorldCereal crop code ``ct_code``.
Rows are grouped by pixel into a :class:`SampleSeries` (dates sorted); unlabeled pixels are dropped;
each pixel's season year is inferred from its own dates (:mod:`gee_crop.features.seasons`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from gee_crop.classes import EXCLUDE, OTHER, Legend
from gee_crop.config import two_digit_band
from gee_crop.data.dn import checked_dn
from gee_crop.data.worldcereal import pad_groups
from gee_crop.errors import InputError
from gee_crop.features.seasons import with_season_years
from gee_crop.sensors import SENTINEL2
from gee_crop.types import SampleSeries

#: cloud indicator columns recognised, by cloud_kind ("SCL" is the Sen2Cor layer).
CLOUD_COLUMNS = {"SCL": "scl", "cs": "cs", "cs_cdf": "cs_cdf", "cloud_probability": "cloud_probability"}
ID_COLUMNS = ("pixel_id", "sample_id")
DATE_COLUMNS = ("date", "timestamp")
CODE_COLUMN = "ct_code"


def _first(columns: list[str], options: tuple[str, ...], what: str, path: Path) -> str:
    for name in options:
        if name in columns:
            return name
    raise InputError(
        f"{path} has no {what} column (looked for {', '.join(options)}); "
        "give a long pixel table like wc-gee-patches/derived_pixels_long_*.parquet"
    )


def _band_columns(columns: list[str], path: Path) -> list[str]:
    """Column names of SENTINEL2.bands in order, accepting Earth Engine (B2) or two-digit (B02) names."""
    found = []
    for band in SENTINEL2.bands:
        two_digit = two_digit_band(band)
        name = band if band in columns else two_digit if two_digit in columns else None
        if name is None:
            raise InputError(
                f"{path} has no column for band {band} (nor {two_digit}); a long "
                f"pixel table needs all of {', '.join(SENTINEL2.bands)} as DN"
            )
        found.append(name)
    return found


def read_long_table(
    path: str | os.PathLike, *, region: str = "", legend: Legend | dict | str | os.PathLike | None = None
) -> SampleSeries:
    """Read a long pixel table into a SampleSeries (one sample per pixel, dates sorted).

    Classes come from the ``ct_code`` column read with ``legend`` (see
    :meth:`gee_crop.classes.Legend.of`; default the WorldCereal legacy crop types); pixels whose
    code maps to 'exclude' are dropped.
    The cloud indicator column (SCL, cs, cs_cdf or cloud_probability) sets ``cloud_kind``.
    ``extra`` holds ``row``, ``col`` (when present) and ``source_code``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"long pixel table {path} does not exist; give e.g. wc-gee-patches/derived_pixels_long_<id>.parquet"
        )
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable Parquet file ({exc})") from None
    columns = list(df.columns)
    id_col = _first(columns, ID_COLUMNS, "pixel id", path)
    date_col = _first(columns, DATE_COLUMNS, "date", path)
    cloud_col = _first(columns, tuple(CLOUD_COLUMNS), "cloud indicator", path)
    bands = _band_columns(columns, path)
    for name in ("lon", "lat", CODE_COLUMN):
        if name not in columns:
            raise InputError(
                f"{path} has no '{name}' column; a long pixel table needs lon, lat and "
                f"{CODE_COLUMN} (WorldCereal crop code)"
            )

    df = df.sort_values([id_col, date_col], kind="stable")
    ids, first, group = np.unique(df[id_col].to_numpy().astype(str), return_index=True, return_inverse=True)
    group = group.reshape(-1)
    n, t = len(ids), int(np.bincount(group).max()) if len(df) else 0
    codes = df[CODE_COLUMN].to_numpy()[first].astype(np.int64)
    if (df.groupby(id_col, sort=True)[CODE_COLUMN].nunique().to_numpy() > 1).any():
        raise InputError(f"{path}: a pixel has more than one {CODE_COLUMN} over its dates; a pixel must keep one label")
    names = Legend.of(legend).names(codes)
    dates = pad_groups(group, df[date_col].to_numpy().astype("datetime64[D]"), n, t, np.datetime64("NaT"))
    dn = pad_groups(group, checked_dn(df[bands].to_numpy(), str(path)), n, t, np.uint16(0))
    cloud = pad_groups(group, df[cloud_col].to_numpy().astype(np.float32), n, t, np.float32(np.nan))
    extra = {"source_code": codes}
    for name in ("row", "col"):
        if name in columns:
            extra[name] = df[name].to_numpy()[first].astype(np.int32)
    labelled = names != EXCLUDE
    series = SampleSeries(
        sample_id=ids.astype(object),
        lon=df["lon"].to_numpy()[first].astype(np.float64),
        lat=df["lat"].to_numpy()[first].astype(np.float64),
        region=np.full(n, region, dtype=object),
        crop_class=np.where(labelled, names, OTHER).astype(object),  # excluded rows dropped below
        cloud_kind=np.full(n, CLOUD_COLUMNS[cloud_col], dtype=object),
        dates=dates,
        dn=dn,
        cloud=cloud,
        extra=extra,
    )
    return with_season_years(series.subset(np.flatnonzero(labelled)))
