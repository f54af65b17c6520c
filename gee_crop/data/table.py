"""The sample table: gee-crop's one on-disk format for labelled samples (Parquet).

One row per sample. Scalar columns:

=============  ===========  ===========================================================
column         type         meaning
=============  ===========  ===========================================================
sample_id      string       unique id
lon, lat       float64      WGS84 degrees (sample location)
region         string       ISO3 country code or region name (e.g. "FRA", "BEL")
crop_class     string       one of the table's class list (default classes.CLASSES)
cloud_kind     string       how to read ``cloud``: cs, cs_cdf, scl, cloud_probability
=============  ===========  ===========================================================

List columns (one entry per raw acquisition, same length within a row, sorted by date):

=============  ===========  ===========================================================
dates          list<date32> acquisition dates
B2 … B12       list<uint16> the 10 bands of SENTINEL2.bands as DN (reflectance x 10,000; 0 = no data)
cloud          list<float32> the cloud indicator named by cloud_kind (NaN = unknown)
=============  ===========  ===========================================================

Optional column ``season_year`` (int16): each sample's season year (north: May-Nov of the year;
south: from Nov of the year before), written by ``sample --year``; a table may mix years and
hemispheres. When it is absent (or null in a row) the reader infers it per sample from the sample's
own clear observations in the table's season (:mod:`gee_crop.features.seasons`).

Other optional columns are kept as they are (e.g. ``source_code``, the label product's own class code).
The file's key-value metadata holds ``gee_crop_table = 1``, ``gee_crop_classes`` (JSON list: the
class list, in model output order; absent = the paper's seven) and, for a table sampled with its own
season, ``gee_crop_season`` (JSON: ``gee_crop.season.Season.to_dict``: start_month_day, length_days,
window_days, south_shift_months).

In memory a table is a :class:`SampleSeries`: the same data padded to a common length T.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gee_crop.atomic import atomic_write
from gee_crop.classes import CLASSES, class_indices
from gee_crop.config import CLOUD_KINDS
from gee_crop.data.dn import checked_dn
from gee_crop.errors import SampleTableError
from gee_crop.features.seasons import inferred_season_years
from gee_crop.season import Season
from gee_crop.sensors import SENTINEL2
from gee_crop.types import SampleSeries

TABLE_VERSION = "1"
SCALAR_COLUMNS = ("sample_id", "lon", "lat", "region", "crop_class", "cloud_kind")
LIST_COLUMNS = ("dates", *SENTINEL2.bands, "cloud")
REQUIRED_COLUMNS = SCALAR_COLUMNS + LIST_COLUMNS
CLASSES_KEY, SEASON_KEY = "gee_crop_classes", "gee_crop_season"
SEASON_YEAR_COLUMN = "season_year"


# ---------------------------------------------------------------- Parquet I/O


def _list_array(values: np.ndarray, valid: np.ndarray, pa_type: pa.DataType) -> pa.ListArray:
    counts = valid.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    flat = values[valid]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa_type))


def to_arrow(series: SampleSeries) -> pa.Table:
    """The Arrow table of the documented schema (list columns hold only real acquisitions)."""
    valid = ~np.isnat(series.dates)
    columns = {
        "sample_id": pa.array(series.sample_id.astype(str)),
        "lon": pa.array(series.lon.astype(np.float64)),
        "lat": pa.array(series.lat.astype(np.float64)),
        "region": pa.array(series.region.astype(str)),
        "crop_class": pa.array(series.crop_class.astype(str)),
        "cloud_kind": pa.array(series.cloud_kind.astype(str)),
        "dates": _list_array(series.dates.astype("datetime64[D]"), valid, pa.date32()),
    }
    for b, band in enumerate(SENTINEL2.bands):
        columns[band] = _list_array(series.dn[:, :, b], valid, pa.uint16())
    columns["cloud"] = _list_array(series.cloud.astype(np.float32), valid, pa.float32())
    if series.season_year is not None:
        columns[SEASON_YEAR_COLUMN] = pa.array(series.season_year.astype(np.int16))
    for name, values in series.extra.items():
        if name != SEASON_YEAR_COLUMN:
            columns[name] = pa.array(values)
    table = pa.table(columns)
    meta = {"gee_crop_table": TABLE_VERSION, CLASSES_KEY: json.dumps(list(series.classes))}
    if series.season is not None:
        meta[SEASON_KEY] = json.dumps(series.season.to_dict())
    return table.replace_schema_metadata(meta)


def write_table(series: SampleSeries, path: str | os.PathLike) -> Path:
    """Write a sample table atomically (temp file + rename); returns the path."""
    table = to_arrow(series)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _padded(column: pa.ChunkedArray | pa.ListArray, n_obs: np.ndarray, t: int, dtype, fill) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    flat = column.flatten().to_numpy(zero_copy_only=False)
    out = np.full((len(n_obs), t), fill, dtype=dtype)
    rows = np.repeat(np.arange(len(n_obs)), n_obs)
    starts = np.cumsum(n_obs) - n_obs  # first flat index of each row (an empty table has none)
    cols = np.arange(len(flat)) - np.repeat(starts, n_obs)
    out[rows, cols] = flat
    return out


def validate_columns(names: list[str], source: str) -> None:
    """Raise SampleTableError naming missing columns or a wrong band set."""
    present = set(names)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if not missing:
        return
    band_like = sorted(c for c in present if c.startswith("B") and c[1:].rstrip("A").isdigit())
    missing_bands = [b for b in SENTINEL2.bands if b not in present]
    if missing_bands and band_like:
        raise SampleTableError(
            f"{source} has bands {', '.join(band_like)} but gee-crop needs exactly "
            f"{', '.join(SENTINEL2.bands)} (Earth Engine names, DN); re-create it with `gee-crop sample` "
            "or rename its band columns"
        )
    raise SampleTableError(
        f"{source} is missing column(s) {', '.join(missing)}; a gee-crop sample table needs "
        f"{', '.join(REQUIRED_COLUMNS)} (see gee_crop/data/table.py)"
    )


def from_arrow(table: pa.Table, source: str = "the sample table") -> SampleSeries:
    """Validate an Arrow table of the documented schema and pad it into a SampleSeries."""
    validate_columns(table.column_names, source)
    dates_col = table.column("dates").combine_chunks()
    n_obs = np.asarray(dates_col.value_lengths().fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    for name in (*SENTINEL2.bands, "cloud"):
        lengths = table.column(name).combine_chunks().value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
        if not np.array_equal(lengths, n_obs):
            bad = int(np.flatnonzero(lengths != n_obs)[0])
            raise SampleTableError(
                f"{source}: row {bad} has {lengths[bad]} values in '{name}' but {n_obs[bad]} dates; "
                "every list column must have one entry per acquisition date"
            )
    t = int(n_obs.max()) if len(n_obs) else 0
    dates = _padded(dates_col.cast(pa.list_(pa.date32())), n_obs, t, "datetime64[D]", np.datetime64("NaT"))
    dn = np.zeros((len(n_obs), t, len(SENTINEL2.bands)), dtype=np.uint16)
    for b, band in enumerate(SENTINEL2.bands):
        column = table.column(band).combine_chunks()
        checked_dn(column.flatten().to_numpy(zero_copy_only=False), source, f"'{band}' values")
        dn[:, :, b] = _padded(column, n_obs, t, np.uint16, 0)
    cloud = _padded(table.column("cloud"), n_obs, t, np.float32, np.nan)
    scalars = {c: table.column(c).to_numpy(zero_copy_only=False) for c in SCALAR_COLUMNS}
    kinds = set(np.unique(scalars["cloud_kind"].astype(str)))
    if not kinds <= set(CLOUD_KINDS):
        raise SampleTableError(
            f"{source} has cloud_kind {sorted(kinds - set(CLOUD_KINDS))}; use one of {', '.join(CLOUD_KINDS)}"
        )
    classes, season = _table_meta(table, source)
    class_indices(scalars["crop_class"], classes)  # raises UnknownClassError with the fix
    extra = {
        c: table.column(c).to_numpy(zero_copy_only=False)
        for c in table.column_names
        if c not in REQUIRED_COLUMNS and c != SEASON_YEAR_COLUMN
    }
    series = SampleSeries(
        scalars["sample_id"].astype(object),
        scalars["lon"].astype(np.float64),
        scalars["lat"].astype(np.float64),
        scalars["region"].astype(object),
        scalars["crop_class"].astype(object),
        scalars["cloud_kind"].astype(object),
        dates,
        dn,
        cloud,
        extra,
        classes,
        season,
    )
    series.season_year = _season_years(table, series, source)
    return series


def _season_years(table: pa.Table, series: SampleSeries, source: str) -> np.ndarray | None:
    """The ``season_year`` column, inferred per sample where it is absent or null."""
    if SEASON_YEAR_COLUMN not in table.column_names:
        return inferred_season_years(series)
    column = table.column(SEASON_YEAR_COLUMN).combine_chunks()
    if not (pa.types.is_integer(column.type) or pa.types.is_null(column.type)):
        raise SampleTableError(
            f"{source}: column {SEASON_YEAR_COLUMN} holds {column.type}, not whole years; "
            "write each sample's season year (e.g. 2023) or drop the column to infer it"
        )
    given = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if given.all():
        return column.to_numpy(zero_copy_only=False).astype(np.int64)
    inferred = inferred_season_years(series)
    if inferred is None or not given.any():
        return inferred
    return np.where(given, column.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64), inferred)


def _table_meta(table: pa.Table, source: str) -> tuple[tuple[str, ...], Season | None]:
    """The class list and season of a table's metadata (the paper's seven and None when absent)."""
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    try:
        classes = tuple(json.loads(meta[CLASSES_KEY])) if CLASSES_KEY in meta else CLASSES
        season = Season.from_dict(json.loads(meta[SEASON_KEY])) if SEASON_KEY in meta else None
    except (ValueError, KeyError, TypeError):
        raise SampleTableError(
            f"{source} has unreadable gee_crop_classes/gee_crop_season metadata; re-create it with `gee-crop sample`"
        ) from None
    return classes, season


def read_table(path: str | os.PathLike) -> SampleSeries:
    """Read and validate a sample table written by :func:`write_table` (or any tool using the schema)."""
    path = Path(path)
    if not path.exists():
        raise SampleTableError(f"sample table {path} does not exist; create one with `gee-crop sample`")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SampleTableError(
            f"{path} is not a readable Parquet file ({exc}); give a sample table written by `gee-crop sample`"
        ) from None
    return from_arrow(table, source=str(path))
