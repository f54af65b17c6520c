"""Areas of interest for mapping: a GeoJSON polygon or a lon/lat bounding box, validated.

A region is kept as a shapely geometry in WGS84 (EPSG:4326, lon/lat); the output grid projects it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import box, shape
from shapely.validation import explain_validity

from gee_crop.errors import RegionError

WGS84 = "EPSG:4326"


def _geojson_crs(doc: dict) -> str:
    """CRS named by a GeoJSON 'crs' member (old-style GeoJSON, e.g. QGIS exports); WGS84 otherwise."""
    name = (doc.get("crs") or {}).get("properties", {}).get("name")
    if not name:
        return WGS84
    try:
        return CRS.from_user_input(name).to_string()
    except Exception as exc:  # pyproj raises its own CRSError
        raise RegionError(f"the region's CRS {name!r} is not understood ({exc}); "
                          "save the GeoJSON in WGS84 (EPSG:4326)") from exc


def region_from_geojson(path: str | Path) -> shapely.Geometry:
    """Read a GeoJSON file (geometry, Feature or FeatureCollection) as one WGS84 geometry."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegionError(f"region file {path} does not exist; give a GeoJSON polygon file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegionError(f"region file {path} is not valid GeoJSON ({exc}); give a GeoJSON polygon file") from None
    if doc.get("type") == "FeatureCollection":
        geoms = [f.get("geometry") for f in doc.get("features", [])]
    elif doc.get("type") == "Feature":
        geoms = [doc.get("geometry")]
    else:
        geoms = [doc]
    try:
        parts = [shape(g) for g in geoms if g]
    except Exception as exc:
        raise RegionError(f"region file {path} holds a geometry shapely cannot read ({exc}); "
                          "give Polygon or MultiPolygon features") from None
    geometry = shapely.union_all(parts) if len(parts) > 1 else (parts[0] if parts else shapely.Polygon())
    # validate before reprojecting: a self-intersection must be reported, not silently reshaped
    validate_region(geometry, str(path))
    crs = _geojson_crs(doc)
    if crs != WGS84:
        geometry = reproject_geometry(geometry, crs, WGS84)
    return geometry


def region_from_bbox(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> shapely.Geometry:
    """A WGS84 rectangle; raises RegionError for an empty or out-of-range box."""
    if not (-180 <= lon_min < lon_max <= 180 and -90 <= lat_min < lat_max <= 90):
        raise RegionError(f"--bbox {lon_min},{lat_min},{lon_max},{lat_max} is empty or out of range; "
                          "give lon_min,lat_min,lon_max,lat_max in degrees with min < max")
    return box(lon_min, lat_min, lon_max, lat_max)


def validate_region(geometry: shapely.Geometry, name: str = "the region") -> None:
    """Raise RegionError for an empty, non-areal or invalid (e.g. self-intersecting) geometry."""
    if geometry.is_empty:
        raise RegionError(f"{name} is empty; give a polygon that covers the area to map")
    if geometry.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise RegionError(f"{name} is a {geometry.geom_type}, not an area; give a Polygon or MultiPolygon")
    if not geometry.is_valid:
        raise RegionError(f"{name} is not a valid polygon ({explain_validity(geometry)}); "
                          "fix it, e.g. with shapely.make_valid or QGIS 'Fix geometries'")
    if geometry.area == 0:
        raise RegionError(f"{name} has zero area; give a polygon that covers the area to map")


def reproject_geometry(geometry: shapely.Geometry, src_crs: str, dst_crs: str) -> shapely.Geometry:
    """The geometry with its coordinates transformed from ``src_crs`` to ``dst_crs`` (always x, y order)."""
    if CRS.from_user_input(src_crs) == CRS.from_user_input(dst_crs):
        return geometry
    transformer = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    return shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def utm_crs_for(geometry: shapely.Geometry) -> str:
    """The UTM zone (WGS84 / UTM, EPSG:326xx north, 327xx south) of a WGS84 geometry's centroid."""
    centroid = geometry.centroid
    zone = int((centroid.x + 180) // 6) % 60 + 1
    return f"EPSG:{(32700 if centroid.y < 0 else 32600) + zone}"
