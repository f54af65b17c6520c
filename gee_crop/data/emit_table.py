"""EMIT samples as a CropGlobe_subset-style table, and the flat features of EMIT models.

The table and its features take the sensor whole (``EmitTable.sensor``, stored by name): any sensor sampled as
monthly medians beside the Sentinel-2 series (``sample --medians SENSOR``) uses them as EMIT does.

One row per (sample, month): ``lon``, ``lat``, ``crop_class``, ``month`` and one float32 reflectance column
per kept band (Earth Engine names, ``sensor.bands`` order). The Parquet key-value metadata holds
``gee_crop_emit_table = 1``, ``gee_crop_sensor`` (its name), ``gee_crop_months`` (JSON list) and
``gee_crop_wavelengths_nm`` (JSON list, one centre per band column), so a reader needs no band table.
The rows come from :func:`gee_crop.earthengine.emit.emit_rows` (bands suffixed per month, ``_m06``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gee_crop.atomic import atomic_write
from gee_crop.data.table import read_table
from gee_crop.earthengine.emit import month_suffix
from gee_crop.earthengine.labels import LABEL_BAND
from gee_crop.errors import InputError
from gee_crop.sensors import EMIT, Sensor, sensor_named
from gee_crop.types import SampleSeries

KEYS = ("lon", "lat", "crop_class", "month")
#: ``sample --emit`` writes the EMIT table beside the Sentinel-2 one: ``samples.parquet`` -> ``samples.emit.parquet``
#: (``--medians SENSOR``: ``samples.<sensor name>.parquet``).
EMIT_TABLE_SUFFIX = ".emit.parquet"


def emit_table_path(out: str | os.PathLike, sensor: Sensor = EMIT) -> Path:
    """Where ``sample --emit`` (``--medians SENSOR``) writes the monthly-medians table of the sample table
    ``out``: ``OUT.<sensor name>.parquet`` (:data:`EMIT_TABLE_SUFFIX` for EMIT)."""
    out = Path(out)
    stem = out.name[: -len(".parquet")] if out.name.endswith(".parquet") else out.name
    return out.with_name(f"{stem}.{sensor.name}.parquet")


@dataclass(frozen=True)
class EmitTable:
    """A table of EMIT monthly medians and what its columns mean."""

    rows: pd.DataFrame
    """One row per (sample, month): :data:`KEYS` and one reflectance column per band of ``sensor``."""
    months: tuple[int, ...]
    """The months sampled (6 and 8 north, 2 south)."""
    sensor: Sensor = EMIT
    """The sensor whose kept bands are the columns."""

    @property
    def wavelengths_nm(self) -> tuple[float, ...]:
        return self.sensor.wavelengths_nm

    def sample_codes(self) -> np.ndarray:
        """(rows,) int64: the sample (lon, lat, crop_class) of each row, numbered in order of first appearance."""
        codes, _ = pd.MultiIndex.from_frame(self.rows[["lon", "lat", "crop_class"]]).factorize()
        return np.asarray(codes, dtype=np.int64)

    @property
    def n_samples(self) -> int:
        """Distinct samples (a sample has one row per month it was clear in)."""
        return int(self.sample_codes().max()) + 1 if len(self.rows) else 0

    def subset(self, samples: np.ndarray) -> EmitTable:
        """The rows of the samples numbered ``samples`` (:meth:`sample_codes`), every month of each."""
        keep = np.isin(self.sample_codes(), np.asarray(samples))
        return EmitTable(self.rows[keep].reset_index(drop=True), self.months, self.sensor)


@dataclass(frozen=True)
class S2EmitTables:
    """A Sentinel-2 sample table and the EMIT table sampled at its points: the input of an S2+EMIT model
    (``gee-crop train S2_TABLE --emit-table EMIT_TABLE``), each a path or in memory."""

    s2: SampleSeries | str | os.PathLike
    emit: EmitTable | str | os.PathLike

    def opened(self) -> tuple[SampleSeries, EmitTable]:
        """Both tables in memory (read from their paths where given as paths)."""
        series = self.s2 if isinstance(self.s2, SampleSeries) else read_table(self.s2)
        return series, self.emit if isinstance(self.emit, EmitTable) else read_emit_table(self.emit)

    @property
    def names(self) -> tuple[str, str]:
        """The two tables as a model file's training summary names them."""
        s2 = "in-memory SampleSeries" if isinstance(self.s2, SampleSeries) else str(self.s2)
        return s2, "in-memory EmitTable" if isinstance(self.emit, EmitTable) else str(self.emit)


def table_from_rows(
    frame: pd.DataFrame, months: tuple[int, ...], classes: tuple[str, ...], sensor: Sensor = EMIT
) -> EmitTable:
    """The table of Earth Engine EMIT rows (``lon``, ``lat``, ``class`` index into ``classes`` and
    ``<band>_mMM`` per month); InputError naming the first missing column."""
    columns = [f"{band}{month_suffix(m)}" for m in months for band in sensor.bands]
    missing = [c for c in ("lon", "lat", LABEL_BAND, *columns) if c not in frame.columns]
    if missing:
        raise InputError(f"EMIT rows lack column {missing[0]!r}; sample them with `gee-crop sample --emit`")
    names = np.asarray(classes, dtype=object)[frame[LABEL_BAND].to_numpy(np.int64)]
    parts = []
    for m in months:
        values = frame[[f"{band}{month_suffix(m)}" for band in sensor.bands]].to_numpy(np.float32)
        part = pd.DataFrame(values, columns=list(sensor.bands))
        part.insert(0, "month", np.int8(m))
        part.insert(0, "crop_class", names)
        part.insert(0, "lat", frame["lat"].to_numpy(np.float64))
        part.insert(0, "lon", frame["lon"].to_numpy(np.float64))
        parts.append(part)
    return EmitTable(pd.concat(parts, ignore_index=True), tuple(months), sensor)


def write_emit_table(table: EmitTable, path: str | os.PathLike) -> Path:
    """Write ``table`` atomically (temp file + rename) with its metadata; returns the path."""
    arrow = pa.Table.from_pandas(table.rows, preserve_index=False)
    meta = {
        **(arrow.schema.metadata or {}),
        b"gee_crop_emit_table": b"1",
        b"gee_crop_sensor": table.sensor.name.encode(),
        b"gee_crop_months": json.dumps(list(table.months)).encode(),
        b"gee_crop_wavelengths_nm": json.dumps(list(table.wavelengths_nm)).encode(),
    }
    arrow = arrow.replace_schema_metadata(meta)
    return atomic_write(path, lambda tmp: pq.write_table(arrow, tmp, compression="zstd"))


def is_emit_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Parquet file carrying the EMIT table's metadata (only its schema is read)."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False
    return meta.get(b"gee_crop_emit_table") == b"1"


def read_emit_table(path: str | os.PathLike) -> EmitTable:
    """The table at ``path``; InputError when it is not an EMIT table or its bands are not its sensor's."""
    arrow = pq.read_table(path)
    meta = {k.decode(): v.decode() for k, v in (arrow.schema.metadata or {}).items()}
    if meta.get("gee_crop_emit_table") != "1":
        raise InputError(f"{path} is not a gee-crop EMIT table; sample one with `gee-crop sample --emit`")
    sensor = sensor_named(meta["gee_crop_sensor"])
    rows = arrow.to_pandas()
    if tuple(c for c in rows.columns if c not in KEYS) != sensor.bands:
        raise InputError(f"{path}: its band columns are not the {sensor.name} sensor's; re-sample it")
    return EmitTable(rows, tuple(json.loads(meta["gee_crop_months"])), sensor)


def _wide(table: EmitTable, months: tuple[int, ...]) -> pd.DataFrame:
    """One row per sample present in every month of ``months``: index (lon, lat, crop_class), the months'
    band columns month-major."""
    absent = [m for m in months if m not in table.months]
    if absent:
        raise InputError(f"the EMIT table has no month {absent[0]}; it holds {list(table.months)}")
    rows = table.rows
    bands = list(table.sensor.bands)
    wide = None
    for m in months:
        part = rows[rows["month"] == m].set_index(["lon", "lat", "crop_class"])[bands]
        part.columns = [f"{b}{month_suffix(m)}" for b in bands]
        wide = part if wide is None else wide.join(part, how="inner")
    assert wide is not None, "at least one month"
    return wide


def emit_features(table: EmitTable, months: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, len(months) x bands) float32 reflectance, month-major; crop_class (n,)) of the samples
    present in every month of ``months`` (None: all the table's). June+August is ``(6, 8)``, June ``(6,)``."""
    wide = _wide(table, table.months if months is None else tuple(months))
    return wide.to_numpy(np.float32), wide.index.get_level_values("crop_class").to_numpy()


#: Sample locations are matched to this many decimals of a degree (1e-6 degree is about 0.1 m; the EMIT
#: rows are read at the very points of the Sentinel-2 table, and sample points lie metres apart).
JOIN_DECIMALS = 6


def emit_at(
    table: EmitTable, months: tuple[int, ...], lon: np.ndarray, lat: np.ndarray, crop_class: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The EMIT features of ``months`` at the samples (lon, lat) of another table (the Sentinel-2 table the
    EMIT rows were sampled beside): (features (n, len(months) x bands) float32, zero where absent; found (n,)
    bool, False where EMIT has no sample there in every month). InputError when both tables hold a place
    under different crop classes, or the EMIT table holds one place twice."""
    wide = _wide(table, tuple(months))
    keys = pd.MultiIndex.from_arrays(
        [
            np.round(wide.index.get_level_values("lon").to_numpy(np.float64), JOIN_DECIMALS),
            np.round(wide.index.get_level_values("lat").to_numpy(np.float64), JOIN_DECIMALS),
        ]
    )
    if keys.has_duplicates:
        raise InputError("the EMIT table holds one sample location twice; join it to one Sentinel-2 table at a time")
    pos = keys.get_indexer(
        pd.MultiIndex.from_arrays(
            [np.round(np.asarray(lon, np.float64), JOIN_DECIMALS), np.round(np.asarray(lat, np.float64), JOIN_DECIMALS)]
        )
    )
    found = pos >= 0
    emit_classes = wide.index.get_level_values("crop_class").to_numpy().astype(str)[pos[found]]
    clash = np.flatnonzero(emit_classes != np.asarray(crop_class).astype(str)[found])
    if len(clash):
        i = np.flatnonzero(found)[clash[0]]
        raise InputError(
            f"the EMIT and Sentinel-2 tables disagree at lon {lon[i]:.6f}, lat {lat[i]:.6f} ({emit_classes[clash[0]]} "
            f"vs {crop_class[i]}); give the EMIT table sampled beside this Sentinel-2 table"
        )
    values = np.zeros((len(found), wide.shape[1]), dtype=np.float32)
    values[found] = wide.to_numpy(np.float32)[pos[found]]
    return values, found
