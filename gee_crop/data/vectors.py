"""A user's own labels as vectors: points or polygons with a label field, from any file GDAL/OGR reads
(GeoJSON, GeoPackage, Shapefile, FlatGeobuf, KML, GML; through pyogrio) or GeoParquet (pyarrow), in WGS84.

:func:`read_label_features` reads the file's one layer (bounded in bytes and features), reprojects a
declared CRS to WGS84 (a file without a declared CRS must hold longitude/latitude, or it is refused),
maps the label field to classes with a :class:`gee_crop.classes.Legend` and keeps the features that
have a class. Polygons are eroded by the inward buffer when sampled; points are used as they are
(METHOD.md "Sampling" applies the buffer to parcels, a point is already a chosen pixel).
"""

from __future__ import annotations

import glob
import json
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
import shapely.errors
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely import geometry as sg

from gee_crop.classes import NO_CLASS, Legend
from gee_crop.data.regions import WGS84, WGS84_NAMES, reproject_geometry
from gee_crop.errors import InputError, VectorFileError

GEOJSON_SUFFIXES = (".geojson", ".json")
GEOPACKAGE_SUFFIXES = (".gpkg",)
SHAPEFILE_SUFFIXES = (".shp",)
GEOPARQUET_SUFFIXES = (".parquet", ".geoparquet")
OTHER_OGR_SUFFIXES = (".fgb", ".kml", ".gml")
VECTOR_SUFFIXES = GEOJSON_SUFFIXES + GEOPACKAGE_SUFFIXES + SHAPEFILE_SUFFIXES + OTHER_OGR_SUFFIXES + GEOPARQUET_SUFFIXES
POINT_TYPES = ("Point", "MultiPoint")
POLYGON_TYPES = ("Polygon", "MultiPolygon")
#: The most features a label file may hold (read with ``max_features`` one above it, so a layer that is
#: an endless SQL view stops there), and the most bytes (with a Shapefile's side files).
MAX_LABEL_FEATURES = 250_000
MAX_LABEL_BYTES = 256 * 2**20
_FORMATS_FIX = "give labels as GeoJSON, GeoPackage, Shapefile, FlatGeobuf, KML or GeoParquet"


def is_vector_file(path: str | Path) -> bool:
    """True for a path with a vector file's suffix (:data:`VECTOR_SUFFIXES`)."""
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


def _refuse(path: Path, problem: str) -> VectorFileError:
    return VectorFileError(f"{path} {problem}")


def _gdal_name(path: Path) -> str:
    """The absolute path: GDAL reads it as a file name, never as a driver prefix (``CSV:...``) or a /vsi
    path; pyogrio hands it to GDAL as it is (no URI: ``#``, ``?`` and ``%20`` stay part of the name)."""
    return str(path.absolute())


def _file_bytes(path: Path) -> int:
    """Bytes of the file, with a Shapefile's side files (.shx, .dbf, ...) of the same stem."""
    if path.suffix.lower() != ".shp":
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.parent.glob(f"{glob.escape(path.stem)}.*") if p.is_file())


def _check_shapefile_length(path: Path) -> None:
    """A .shp shorter than the length its header declares (bytes 24-27, big-endian 16-bit words) is cut
    short: GDAL would read its last shapes as missing geometries without a word."""
    with path.open("rb") as f:
        head = f.read(28)
    if len(head) < 28:
        raise _refuse(path, "is cut short (no Shapefile header); copy the .shp again, with its .shx and .dbf")
    declared = int.from_bytes(head[24:28], "big") * 2
    if path.stat().st_size < declared:
        raise _refuse(
            path,
            f"is cut short ({path.stat().st_size:,} of the {declared:,} bytes its header declares); "
            "copy the .shp again, with its .shx and .dbf",
        )


def _one_layer(path: Path) -> str:
    """The name of the file's only layer with geometries (names come from the file and only go to OGR's
    layer lookup, never into SQL); several layers are refused, naming them, as a guess could be wrong."""
    try:
        layers = pyogrio.list_layers(_gdal_name(path))
    except pyogrio.errors.DataSourceError as exc:
        raise _unreadable(path, exc) from None
    spatial = [str(name) for name, kind in layers if kind is not None]
    if not spatial:
        raise _refuse(path, "holds no layer with geometries; give a file with one layer of labelled points or polygons")
    if len(spatial) > 1:
        names = ", ".join(repr(n) for n in spatial[:8]) + (" ..." if len(spatial) > 8 else "")
        raise _refuse(
            path,
            f"holds {len(spatial)} layers with geometries ({names}); keep the labels' layer alone, e.g. "
            f"`ogr2ogr labels.gpkg {shlex.quote(str(path))} {shlex.quote(_printable(spatial[0]))}`",
        )
    return spatial[0]


def _unreadable(path: Path, exc: BaseException) -> VectorFileError:
    """GDAL could not open the file: an unknown format, or a Shapefile without its side files."""
    if "not recognized as being in a supported file format" in str(exc):
        return _refuse(path, f"is not in a vector format GDAL recognises; {_FORMATS_FIX}")
    if path.suffix.lower() == ".shp":
        return _refuse(path, f"cannot be opened ({_first_line(exc)}); give the .shp with its .shx and .dbf beside it")
    return _refuse(path, f"is not a vector file GDAL can read ({_first_line(exc)}); {_FORMATS_FIX}")


def _printable(text: str) -> str:
    """``text`` without control characters (names and GDAL messages come from the file)."""
    return "".join(c for c in text if c.isprintable())


def _first_line(exc: BaseException) -> str:
    text = _printable(" ".join(str(exc).split()))
    return text[:200] + (" ..." if len(text) > 200 else "")


def _field_values(values: np.ndarray, ogr_type: str) -> list:
    """A field's values as Python objects: integers stay integers (pyogrio gives an integer field with
    nulls as floats), nulls are None."""
    out = values.tolist()
    if values.dtype.kind == "f":
        integer = ogr_type in ("OFTInteger", "OFTInteger64")
        out = [None if v != v else (int(v) if integer else v) for v in out]
    return out


def _ogr(path: Path) -> tuple[list, list[dict], str | None]:
    """(WKB or None per feature, property dicts, CRS) of the file's layer, read by GDAL/OGR (pyogrio)."""
    if path.suffix.lower() == ".shp":
        _check_shapefile_length(path)
    layer = _one_layer(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL's warnings: the checks below name each problem
            meta, _, wkb, fields = pyogrio.raw.read(
                _gdal_name(path), layer=layer, max_features=MAX_LABEL_FEATURES + 1, datetime_as_string=True
            )
    except pyogrio.errors.DataSourceError as exc:
        raise _unreadable(path, exc) from None
    except (pyogrio.errors.DataLayerError, pyogrio.errors.FieldError, pyogrio.errors.FeatureError) as exc:
        raise _refuse(
            path, f"has a feature GDAL cannot read ({_first_line(exc)}); repair or remove it (QGIS, ogr2ogr)"
        ) from None
    _check_count(path, len(wkb))
    names = [str(n) for n in meta["fields"]]
    columns = [_field_values(values, t) for values, t in zip(fields, meta["ogr_types"])]
    props = [dict(zip(names, row)) for row in zip(*columns)] if names else [{} for _ in range(len(wkb))]
    return list(wkb), props, meta["crs"]


def _geoparquet(path: Path) -> tuple[list, list[dict], str | None]:
    """(WKB per feature, property dicts, CRS) of a GeoParquet file (WKB encoding), read with pyarrow: the
    GDAL that pyogrio ships has no Parquet driver."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        geo = json.loads((parquet.schema_arrow.metadata or {}).get(b"geo", b"null"))
    except (OSError, ValueError) as exc:
        raise _refuse(path, f"is not a readable Parquet file ({_first_line(exc)}); {_FORMATS_FIX}") from None
    column = geo.get("primary_column") if isinstance(geo, dict) else None
    info = (geo.get("columns") or {}).get(column) if isinstance(geo, dict) else None
    if not isinstance(info, dict) or column not in parquet.schema_arrow.names:
        raise _refuse(path, f"is Parquet without GeoParquet metadata (no 'geo' geometry column); {_FORMATS_FIX}")
    if info.get("encoding", "WKB") != "WKB":
        raise _refuse(
            path, f"stores geometries as {info.get('encoding')!r}, not WKB; write it with WKB encoding (GeoParquet 1.0)"
        )
    _check_count(path, parquet.metadata.num_rows)
    try:
        table = parquet.read()
    except (OSError, ValueError) as exc:
        raise _refuse(path, f"is a damaged Parquet file ({_first_line(exc)}); write it again") from None
    wkb = table.column(column).to_pylist()
    props = table.drop_columns([column]).to_pylist()
    crs = info.get("crs", "OGC:CRS84")  # GeoParquet: no member is CRS84, null is undefined
    return wkb, props, (json.dumps(crs) if isinstance(crs, dict) else crs)


def _check_count(path: Path, count: int) -> None:
    if count > MAX_LABEL_FEATURES:
        raise _refuse(
            path,
            f"holds more than {MAX_LABEL_FEATURES:,} features, the most gee-crop reads as labels; clip it to "
            "the region, e.g. `ogr2ogr -spat W S E N labels.gpkg FILE`",
        )


def _geometries(path: Path, wkb: list) -> list:
    """Shapely geometries of the WKB (None stays None). Refused, with a count and the first one: WKB that
    does not make a geometry (e.g. a ring of fewer than 4 points) and NaN or infinite coordinates."""
    blobs = np.array([None if b is None else bytes(b) for b in wkb], dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        geoms = shapely.from_wkb(blobs, on_invalid="ignore")
    given = np.array([b is not None for b in blobs], dtype=bool)
    bad = np.flatnonzero(shapely.is_missing(geoms) & given)
    if bad.size:
        try:
            shapely.from_wkb(blobs[bad[0]])
            why = "invalid"
        except (shapely.errors.GEOSException, ValueError) as exc:
            why = _first_line(exc)
        raise _refuse(
            path,
            f"has {bad.size} feature(s) whose geometry cannot be built (feature {bad[0] + 1}: {why}); repair "
            "them, e.g. `ogr2ogr -makevalid fixed.gpkg FILE`, or remove them",
        )
    present = ~shapely.is_missing(geoms)
    if present.any():
        coords, index = shapely.get_coordinates(geoms[present], return_index=True)
        broken = np.unique(index[~np.isfinite(coords).all(axis=1)])
        if broken.size:
            first = np.flatnonzero(present)[broken[0]] + 1
            raise _refuse(
                path,
                f"has {broken.size} feature(s) with NaN or infinite coordinates (feature {first}); fix or remove them",
            )
    return list(geoms)


def read_vector_file(path: str | Path) -> tuple[list, list[dict], str | None]:
    """(geometries, property dicts, declared CRS or None) of a vector file with one layer, read through
    GDAL/OGR (pyogrio; GeoParquet with pyarrow). Bounded: at most :data:`MAX_LABEL_BYTES` and
    :data:`MAX_LABEL_FEATURES`. A VectorFileError naming the fix for each kind of broken file."""
    path = Path(path)
    if path.suffix.lower() not in VECTOR_SUFFIXES:
        raise InputError(
            f"{path}: labels must be vectors ({', '.join(VECTOR_SUFFIXES)}) or, with --source, a "
            "label raster (.tif, .nc)"
        )
    if not path.is_file():
        raise InputError(
            f"label file {path} does not exist; give a GeoJSON, GeoPackage or Shapefile of labels "
            "(or an Earth Engine table asset id, projects/.../assets/...)"
        )
    size = _file_bytes(path)
    if size > MAX_LABEL_BYTES:
        raise _refuse(
            path,
            f"is {size / 2**20:,.0f} MiB, more than the {MAX_LABEL_BYTES // 2**20} MiB gee-crop reads as labels; "
            "clip it to the region, e.g. `ogr2ogr -spat W S E N labels.gpkg FILE`",
        )
    wkb, props, crs = _geoparquet(path) if path.suffix.lower() in GEOPARQUET_SUFFIXES else _ogr(path)
    return _geometries(path, wkb), props, crs


# ----------------------------------------------------------------------------- labels


def declared_crs(crs: str, source: str) -> CRS:
    """The CRS a vector file declares; InputError naming the fix when pyproj does not know it."""
    try:
        return CRS.from_user_input(crs)
    except CRSError:
        raise InputError(
            f"{source}'s CRS ({crs[:60]!r}) is not understood; reproject the file to WGS84 "
            "(EPSG:4326), e.g. `ogr2ogr -t_srs EPSG:4326 out.gpkg in.gpkg`"
        ) from None


def _to_wgs84(geoms: np.ndarray, crs: str | None, source: str) -> np.ndarray:
    """Declared CRS: reprojected to WGS84. No CRS: the coordinates must be longitude/latitude."""
    if crs is not None and crs.strip() not in WGS84_NAMES and not crs.strip().endswith("CRS84"):
        declared = declared_crs(crs, source)
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
