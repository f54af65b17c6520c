"""A user's own labels as vectors: points or polygons with a label field, from GeoJSON, GeoPackage or
Shapefile, read without GDAL (json; sqlite3 + the GeoPackage geometry header; pyshp), in WGS84.

:func:`read_label_features` reads the file, reprojects a declared CRS to WGS84 (a file without a
declared CRS must hold longitude/latitude, or it is refused), maps the label field to classes with a
:class:`gee_crop.classes.Legend` and keeps the features that have a class. Polygons are eroded by
the inward buffer when sampled; points are used as they are (METHOD.md "Sampling" applies the
buffer to parcels, a point is already a chosen pixel).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely import geometry as sg

from gee_crop.classes import NO_CLASS, Legend
from gee_crop.data.regions import WGS84, WGS84_NAMES, crs_member_name, reproject_geometry
from gee_crop.errors import InputError

GEOJSON_SUFFIXES = (".geojson", ".json")
GEOPACKAGE_SUFFIXES = (".gpkg",)
SHAPEFILE_SUFFIXES = (".shp",)
VECTOR_SUFFIXES = GEOJSON_SUFFIXES + GEOPACKAGE_SUFFIXES + SHAPEFILE_SUFFIXES
POINT_TYPES = ("Point", "MultiPoint")
POLYGON_TYPES = ("Polygon", "MultiPolygon")
#: GeoPackage geometry header: envelope bytes by the flags' envelope indicator (GeoPackage 1.3, 2.1.3).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def is_vector_file(path: str | Path) -> bool:
    """True for a GeoJSON, GeoPackage or Shapefile path (by suffix)."""
    return Path(str(path)).suffix.lower() in VECTOR_SUFFIXES


@dataclass
class LabelFeatures:
    """Labelled points and polygons in WGS84: ``geometries`` (n,) shapely objects, ``values`` (n,) the
    label field's values, ``classes`` (n,) int64 class indices into ``legend.classes``."""

    geometries: np.ndarray
    values: np.ndarray
    classes: np.ndarray
    legend: Legend
    source: str
    field: str

    def __len__(self) -> int:
        return len(self.geometries)

    @property
    def is_point(self) -> np.ndarray:
        """(n,) bool: the feature is a point (used as it is) rather than a polygon (buffered)."""
        return np.array([g.geom_type in POINT_TYPES for g in self.geometries], dtype=bool)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        west, south, east, north = (float(v) for v in shapely.total_bounds(self.geometries))
        return west, south, east, north

    def subset(self, keep: np.ndarray) -> LabelFeatures:
        return LabelFeatures(
            self.geometries[keep], self.values[keep], self.classes[keep], self.legend, self.source, self.field
        )

    def to_geojson(self, class_property: str = "class") -> dict:
        """A FeatureCollection of the features with their class index in ``class_property``."""
        return {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": sg.mapping(g), "properties": {class_property: int(c)}}
                for g, c in zip(self.geometries, self.classes)
            ],
        }


# ----------------------------------------------------------------------------- readers


def _geojson(path: Path) -> tuple[list, list[dict], str | None]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid GeoJSON ({exc}); give a GeoJSON FeatureCollection of labels") from None
    features = obj.get("features") if isinstance(obj, dict) else None
    if not isinstance(features, list):
        raise InputError(f"{path} is not a GeoJSON FeatureCollection; give one feature per labelled point or field")
    geoms = [sg.shape(f["geometry"]) if isinstance(f, dict) and f.get("geometry") else None for f in features]
    props = [(f.get("properties") or {}) if isinstance(f, dict) else {} for f in features]
    return geoms, props, crs_member_name(obj, str(path))


def _gpkg_geometry(blob: bytes | None):
    """A GeoPackage geometry blob ("GP" header + WKB) -> shapely geometry (None when empty)."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if flags & 0b10000:  # empty geometry
        return None
    start = 8 + _ENVELOPE_BYTES.get((flags >> 1) & 0b111, 0)
    return shapely.from_wkb(bytes(blob[start:]))


def _gpkg(path: Path) -> tuple[list, list[dict], str | None]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = db.execute(
                "SELECT c.table_name, g.column_name, g.srs_id FROM gpkg_contents c JOIN "
                "gpkg_geometry_columns g ON g.table_name = c.table_name "
                "WHERE c.data_type = 'features' ORDER BY c.table_name"
            ).fetchall()
            if not tables:
                raise InputError(f"{path} holds no feature table; give a GeoPackage with one layer of labels")
            table, column, srs_id = tables[0]
            srs = db.execute(
                "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?",
                (srs_id,),
            ).fetchone()
            cursor = db.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path} is not a readable GeoPackage ({exc}); give a .gpkg written by QGIS/GDAL") from None
    geom_at = names.index(column)
    geoms = [_gpkg_geometry(r[geom_at]) for r in rows]
    props = [{n: v for n, v in zip(names, r) if n != column} for r in rows]
    crs = None
    if srs is not None and srs_id not in (0, -1):
        org, code, definition = srs
        crs = f"{org.upper()}:{code}" if str(org).upper() == "EPSG" else definition
    return geoms, props, crs


def _shapefile(path: Path) -> tuple[list, list[dict], str | None]:
    import shapefile  # pyshp: pure Python, the only Shapefile reader gee-crop needs

    try:
        with shapefile.Reader(str(path)) as reader:
            fields = [f[0] for f in reader.fields[1:]]
            geoms, props = [], []
            for record in reader.iterShapeRecords():
                shape = record.shape
                geoms.append(sg.shape(shape.__geo_interface__) if shape.shapeType != shapefile.NULL else None)
                props.append(dict(zip(fields, record.record)))
    except shapefile.ShapefileException as exc:
        raise InputError(f"{path} is not a readable Shapefile ({exc}); give the .shp with its .shx and .dbf") from None
    prj = path.with_suffix(".prj")
    crs = prj.read_text(encoding="utf-8", errors="replace") if prj.is_file() else None
    return geoms, props, crs


def read_vector_file(path: str | Path) -> tuple[list, list[dict], str | None]:
    """(geometries, property dicts, declared CRS or None) of a GeoJSON, GeoPackage (first feature
    layer) or Shapefile; InputError naming the formats for another file."""
    path = Path(path)
    readers = {
        **dict.fromkeys(GEOJSON_SUFFIXES, _geojson),
        **dict.fromkeys(GEOPACKAGE_SUFFIXES, _gpkg),
        **dict.fromkeys(SHAPEFILE_SUFFIXES, _shapefile),
    }
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise InputError(
            f"{path}: labels must be vectors ({', '.join(VECTOR_SUFFIXES)}) or, with --source, a "
            "label raster (.tif, .nc)"
        )
    if not path.is_file():
        raise InputError(
            f"label file {path} does not exist; give a GeoJSON, GeoPackage or Shapefile of labels "
            "(or an Earth Engine table asset id, projects/.../assets/...)"
        )
    return reader(path)


# ----------------------------------------------------------------------------- labels


def _to_wgs84(geoms: np.ndarray, crs: str | None, source: str) -> np.ndarray:
    """Declared CRS: reprojected to WGS84. No CRS: the coordinates must be longitude/latitude."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if crs is not None and crs.strip() not in WGS84_NAMES and not crs.strip().endswith("CRS84"):
        try:
            declared = CRS.from_user_input(crs)
        except CRSError:
            raise InputError(
                f"{source}'s CRS ({crs[:60]!r}) is not understood; reproject the file to WGS84 "
                "(EPSG:4326), e.g. `ogr2ogr -t_srs EPSG:4326 out.gpkg in.gpkg`"
            ) from None
        if declared != CRS.from_user_input(WGS84):
            geoms = np.array([reproject_geometry(g, declared, WGS84) for g in geoms], dtype=object)
    west, south, east, north = shapely.total_bounds(geoms)
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        why = "declares WGS84 but its" if crs is not None else "declares no CRS and its"
        raise InputError(
            f"{source} {why} coordinates ({west:.0f}, {south:.0f}, {east:.0f}, {north:.0f}) are not "
            "longitude/latitude; declare the file's CRS (a .prj beside a Shapefile, the GeoPackage "
            "srs) or reproject it to EPSG:4326"
        )
    return geoms


def read_label_features(path: str | Path, field: str, legend: Legend, *, region=None) -> LabelFeatures:
    """The labelled features of ``path``: the value of ``field`` mapped to a class by ``legend``.

    Features without geometry, and those whose value the legend excludes, are left out; lines are
    refused; a declared CRS is reprojected to WGS84. With ``region`` (a WGS84 shapely geometry),
    only the features that touch it are kept. Each failure is an InputError naming the fix: a field
    that does not exist (the fields are listed), a legend that maps none of the values (the values
    are listed), no feature inside the region.
    """
    source = str(path)
    geoms, props, crs = read_vector_file(path)
    have = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not have:
        raise InputError(f"{source} holds no geometry; give labelled points or polygons")
    fields = sorted({k for p in props for k in p})
    if field not in fields:
        raise InputError(f"{source} has no field {field!r}; pass --label-field with one of: {', '.join(fields)}")
    kinds = {geoms[i].geom_type for i in have}
    lines = sorted(kinds - set(POINT_TYPES) - set(POLYGON_TYPES))
    if lines:
        raise InputError(f"{source} holds {', '.join(lines)} geometries; labels must be points or polygons")
    values = np.array(["" if props[i].get(field) is None else props[i][field] for i in have], dtype=object)
    classes = legend.indices(values.astype(str)) if legend.maps_any(values) else np.full(len(values), NO_CLASS)
    labelled = classes != NO_CLASS
    if not labelled.any():
        seen = sorted({str(v) for v in values})
        raise InputError(
            f"{legend.source} maps none of the values of {field!r} in {source} to a class "
            f"(values: {', '.join(seen[:12])}{' ...' if len(seen) > 12 else ''}); give a legend "
            f"whose 'code' column holds these values, or --classes naming them"
        )
    polys = np.array(
        [
            shapely.make_valid(geoms[i]) if geoms[i].geom_type in POLYGON_TYPES and not geoms[i].is_valid else geoms[i]
            for i in have
        ],
        dtype=object,
    )
    polys = _to_wgs84(polys, crs, source)
    features = LabelFeatures(polys, values, classes, legend, source, field).subset(labelled)
    if region is not None:
        inside = shapely.intersects(features.geometries, region)
        if not inside.any():
            w, s, e, n = features.bounds
            raise InputError(
                f"none of the {len(features)} labelled features of {source} (lon {w:.3f}..{e:.3f}, "
                f"lat {s:.3f}..{n:.3f}) lies in the region; give the --region that holds the labels"
            )
        features = features.subset(inside)
    return features


def class_counts(features: LabelFeatures) -> dict[str, int]:
    """Features per class name (classes without features left out)."""
    counts = np.bincount(features.classes, minlength=len(features.legend.classes))
    return {c: int(k) for c, k in zip(features.legend.classes, counts) if k}
