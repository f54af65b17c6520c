"""A GeoPackage writer for test fixtures (the labels of a raster turned into polygons): sqlite3 and the
GeoPackage geometry header, no GDAL. The product only reads GeoPackages (``gee_crop.data.vectors``)."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import numpy as np
import shapely

from gee_crop.atomic import atomic_write


def _gpkg_blob(geometry, srs_id: int) -> bytes:
    """A GeoPackage geometry blob without envelope: 'GP', version 0, flags (little-endian), srs id, WKB."""
    return b"GP" + bytes([0, 1]) + struct.pack("<i", srs_id) + shapely.to_wkb(geometry, byte_order=1)


def write_geopackage(
    path: str | Path, geometries, properties: list[dict], *, epsg: int = 4326, layer: str = "labels"
) -> Path:
    """Write features (shapely geometries, one property dict each) as a one-layer GeoPackage in
    ``EPSG:epsg``, atomically (the labels of a raster turned into polygons, test fixtures)."""
    from pyproj import CRS

    columns = list(dict.fromkeys(k for p in properties for k in p))
    types = {
        c: "INTEGER"
        if all(isinstance(p.get(c), (int, np.integer)) for p in properties)
        else ("REAL" if all(isinstance(p.get(c), (int, float, np.number)) for p in properties) else "TEXT")
        for c in columns
    }
    bounds = shapely.total_bounds(np.asarray(geometries, dtype=object))

    def write(tmp: Path) -> None:
        db = sqlite3.connect(tmp)
        try:
            db.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
            db.execute("PRAGMA user_version = 10300")
            db.execute(
                "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, "
                "organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, "
                "definition TEXT NOT NULL, description TEXT)"
            )
            db.executemany(
                "INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
                [
                    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", None),
                    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", None),
                    (CRS.from_epsg(epsg).name, epsg, "EPSG", epsg, CRS.from_epsg(epsg).to_wkt(), None),
                ],
            )
            db.execute(
                "CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, "
                "identifier TEXT, description TEXT DEFAULT '', last_change DATETIME, min_x DOUBLE, "
                "min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER)"
            )
            db.execute(
                "INSERT INTO gpkg_contents VALUES (?, 'features', ?, '', strftime('%Y-%m-%dT%H:%M:%fZ', "
                "'now'), ?, ?, ?, ?, ?)",
                (layer, layer, *map(float, bounds), epsg),
            )
            db.execute(
                "CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, "
                "geometry_type_name TEXT, srs_id INTEGER, z TINYINT, m TINYINT)"
            )
            db.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'GEOMETRY', ?, 0, 0)", (layer, epsg))
            cols = "".join(f', "{c}" {types[c]}' for c in columns)
            db.execute(f'CREATE TABLE "{layer}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB{cols})')
            marks = ", ".join("?" * (len(columns) + 1))
            names = "".join(f', "{c}"' for c in columns)
            db.executemany(
                f'INSERT INTO "{layer}" (geom{names}) VALUES ({marks})',
                [
                    (
                        _gpkg_blob(g, epsg),
                        *[(v.item() if isinstance(v, np.generic) else v) for v in (p.get(c) for c in columns)],
                    )
                    for g, p in zip(geometries, properties)
                ],
            )
            db.commit()
        finally:
            db.close()

    return atomic_write(Path(path), write)
