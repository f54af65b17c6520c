"""Reader for WorldCereal point extractions (``wc-extractions/*.parquet``): composite S2 series.

One row per (sample_id, timestamp) with S2 L2A bands ``S2-L2A-B02`` ... (uint16 DN, 65535 = no
data) and the WorldCereal ``ewoc_code`` label. Each timestamp is a monthly or dekadal (10-day)
composite made by WorldCereal, already cloud-masked, so samples get ``cloud_kind`` "none" and a
NaN cloud value. ``ewoc_code`` is mapped to the 7 gee-crop classes with the WorldCereal legend
(``ewoc_crop_type_class_mappings.csv``), as described in wc-extractions/PROVENANCE.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from gee_crop.classes import OTHER, Legend, read_csv_rows
from gee_crop.config import two_digit_band
from gee_crop.data.dn import checked_dn
from gee_crop.errors import InputError
from gee_crop.features.seasons import checked_season_years, with_season_years
from gee_crop.sensors import SENTINEL2
from gee_crop.types import SampleSeries

WORLDCEREAL_NODATA = 65535
MAPPING_FILE = "ewoc_crop_type_class_mappings.csv"
#: gee-crop class of a WorldCereal legend row: by ``sampling_label``, else by ``label_full``
#: (sugar cane and cotton have no sampling label of their own in the legend).
SAMPLING_LABEL_CLASSES = {
    "maize": "corn",
    "soy_soybeans": "soybeans",
    "rice": "rice",
    "wheat": "wheat",
    "spring_wheat": "wheat",
}
LABEL_FULL_CLASSES = {"sugar_cane": "sugarcane", "cotton": "cotton"}
DATE_POSITIONS = ("start", "middle")


def pad_groups(group: np.ndarray, values: np.ndarray, n: int, t: int, fill) -> np.ndarray:
    """Scatter rows sorted by group into an (n, t, ...) array padded with ``fill``."""
    counts = np.bincount(group, minlength=n)
    position = np.arange(len(group)) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.full((n, t, *values.shape[1:]), fill, dtype=values.dtype)
    out[group, position] = values
    return out


def _column(band: str) -> str:
    """WorldCereal column of a SENTINEL2.bands name: B2 -> S2-L2A-B02, B8A -> S2-L2A-B8A."""
    return f"S2-L2A-{two_digit_band(band)}"


def ewoc_class_map(mapping_csv: str | os.PathLike) -> Legend:
    """``ewoc_code`` (dashes removed) -> gee-crop class, from the WorldCereal legend CSV (``;``)."""
    rows = read_csv_rows(
        mapping_csv,
        ("ewoc_code", "sampling_label", "label_full"),
        delimiter=";",
        what=f"WorldCereal class mapping (wc-extractions/{MAPPING_FILE})",
    )
    return Legend(
        {
            r["ewoc_code"].replace("-", ""): SAMPLING_LABEL_CLASSES.get(
                r["sampling_label"], LABEL_FULL_CLASSES.get(r["label_full"], OTHER)
            )
            for r in rows
        },
        source=f"WorldCereal legend {mapping_csv}",
    )


def _default_mapping(path: Path) -> Path:
    """The WorldCereal legend next to the extraction file (InputError naming ``class_map`` if absent)."""
    beside = path.parent / MAPPING_FILE
    if not beside.is_file():
        raise InputError(
            f"no WorldCereal legend {MAPPING_FILE} beside {path}; pass class_map= the "
            "WorldCereal crop-type legend CSV (or a {ewoc_code: class} dict)"
        )
    return beside


def region_of(ref_id: np.ndarray) -> np.ndarray:
    """Country code of WorldCereal ref_ids: '2023_FRA_LPIS_POLY_110' -> 'FRA'."""
    parts = pd.Series(np.asarray(ref_id).astype(str)).str.split("_", n=2)
    return parts.str[1].fillna("").to_numpy(dtype=object)


def _period_middle(dates: np.ndarray) -> np.ndarray:
    """Middle day of each composite period: monthly (all on day 1) or dekadal (days 1, 11, 21)."""
    days = dates.astype("datetime64[D]")
    month = days.astype("datetime64[M]")
    day_of_month = (days - month.astype("datetime64[D]")).astype(np.int64) + 1
    next_month = (month + 1).astype("datetime64[D]")
    if np.isin(day_of_month, (1, 11, 21)).all() and np.isin(day_of_month, (11, 21)).any():
        end = np.where(day_of_month < 21, days + 10, next_month)
    elif (day_of_month == 1).all():
        end = next_month
    else:
        raise InputError(
            "composite dates are neither monthly (day 1) nor dekadal (days 1, 11, 21); "
            "read the file with date_position='start'"
        )
    return days + (end - days).astype(np.int64) // 2


def read_worldcereal(
    path: str | os.PathLike,
    class_map: Legend | dict | str | os.PathLike | None = None,
    *,
    fill_b8a: bool = True,
    date_position: str = "middle",
) -> SampleSeries:
    """Read a WorldCereal extraction (monthly/dekadal composites) into a SampleSeries.

    - DN 65535 (no data) becomes 0, gee-crop's no-data DN; rows with no band left are kept as
      dated no-data observations.
    - WorldCereal ships no B8A (the column is all 65535). With ``fill_b8a`` (default) B8A is set
      to B8, a documented approximation (on the clear pixels of the shipped Flanders patch B8A/B8
      has median 1.03, 10-90 % range 0.92-1.18, median |B8A - B8| / B8 = 5.7 %);
      ``extra["b8a_filled"]`` (n,) bool marks samples with filled values. Without it B8A stays 0.
    - ``class_map``: ewoc_code -> gee-crop class (a Legend or dict), or the legend CSV path; default
      the ``ewoc_crop_type_class_mappings.csv`` beside the file.
      corn = sampling label maize, soybeans = soy_soybeans, rice, wheat = wheat/spring_wheat,
      sugarcane = sugar_cane, cotton = cotton, anything else = other.
    - ``date_position``: date each composite at its period's "middle" day (default; the composite
      summarises the whole period) or at its "start" (the file's timestamp).
    - region = the country code in ``ref_id``; ``extra["source_code"]`` = ewoc_code.
    - ``season_year`` = the file's ``year`` column (the label's year) where each sample's dates bear
      it out (its season holds at least half the clear composites of the sample's best season), else
      the season year inferred from the sample's dates.
    """
    path = Path(path)
    if date_position not in DATE_POSITIONS:
        raise InputError(f"date_position {date_position!r} is not one of {', '.join(DATE_POSITIONS)}")
    if not path.is_file():
        raise InputError(f"WorldCereal extraction {path} does not exist; give a wc-extractions/*.parquet file")
    if class_map is None or isinstance(class_map, (str, os.PathLike)):
        class_map = ewoc_class_map(_default_mapping(path) if class_map is None else class_map)
    class_map = Legend.of(class_map)
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable Parquet file ({exc})") from None
    needed = ["sample_id", "timestamp", "ref_id", "lon", "lat", "ewoc_code"]
    needed += [_column(b) for b in SENTINEL2.bands if b != "B8A"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(
            f"{path} lacks column(s) {', '.join(missing)}; give a WorldCereal point "
            "extraction (S2-L2A-Bxx bands, ewoc_code, ref_id, lon, lat)"
        )

    df = df.sort_values(["sample_id", "timestamp"], kind="stable")
    ids, first, group = np.unique(df["sample_id"].to_numpy().astype(str), return_index=True, return_inverse=True)
    group = group.reshape(-1)
    n, t = len(ids), int(np.bincount(group).max())
    raw = np.stack(
        [
            df[_column(b)].to_numpy().astype(np.float64)
            if _column(b) in df.columns
            else np.full(len(df), WORLDCEREAL_NODATA, dtype=np.float64)
            for b in SENTINEL2.bands
        ],
        axis=1,
    )
    raw[raw == WORLDCEREAL_NODATA] = 0
    b8a, b8 = SENTINEL2.bands.index("B8A"), SENTINEL2.bands.index("B8")
    filled = fill_b8a & (raw[:, b8a] == 0) & (raw[:, b8] != 0)
    raw[filled, b8a] = raw[filled, b8]
    raw = checked_dn(raw, str(path), "S2 values").astype(np.int64)
    dates = df["timestamp"].to_numpy().astype("datetime64[D]")
    if date_position == "middle":
        dates = _period_middle(dates)
    codes = df["ewoc_code"].to_numpy()[first].astype(np.int64)
    series = SampleSeries(
        sample_id=ids.astype(object),
        lon=df["lon"].to_numpy()[first].astype(np.float64),
        lat=df["lat"].to_numpy()[first].astype(np.float64),
        region=region_of(df["ref_id"].to_numpy()[first]),
        crop_class=class_map.names(codes).astype(object),
        cloud_kind=np.full(n, "none", dtype=object),
        dates=pad_groups(group, dates, n, t, np.datetime64("NaT")),
        dn=pad_groups(group, raw.astype(np.uint16), n, t, np.uint16(0)),
        cloud=np.full((n, t), np.nan, dtype=np.float32),
        extra={
            "source_code": codes,
            "b8a_filled": np.bincount(group, weights=filled, minlength=n) > 0,
            **({"tile": df["tile"].to_numpy()[first].astype(str).astype(object)} if "tile" in df.columns else {}),
        },
    )
    return _with_file_years(series, df, first)


def _with_file_years(series: SampleSeries, df: pd.DataFrame, first: np.ndarray) -> SampleSeries:
    """Each sample's season year: the file's ``year`` (the year of the label, ``valid_time``) where the
    dates bear it out (:func:`gee_crop.features.seasons.checked_season_years`), else inferred from the dates."""
    year = pd.to_numeric(df["year"], errors="coerce").to_numpy()[first] if "year" in df.columns else None
    if year is None or not np.isfinite(year).all():
        return with_season_years(series)
    series.season_year, _ = checked_season_years(series, year.astype(np.int64))
    return with_season_years(series)  # None when nothing is clear: inferred (and refused) later
