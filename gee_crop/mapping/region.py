"""Areas of interest for mapping: a GeoJSON polygon or a lon/lat bounding box, validated.

A region is kept as a shapely geometry in WGS84 (EPSG:4326, lon/lat); the output grid projects it.
"""
from __future__ import annotations

from pathlib import Path

import shapely
from shapely.geometry import box

from gee_crop.data.regions import WGS84, read_region, reproject_geometry, validate_region
from gee_crop.errors import RegionError

__all__ = ["WGS84", "region_from_bbox", "region_from_geojson", "reproject_geometry", "utm_crs_for",
           "validate_region"]


def region_from_geojson(path: str | Path) -> shapely.Geometry:
    """Read a GeoJSON file (geometry, Feature or FeatureCollection) as one valid WGS84 geometry;
    a file in another CRS is reprojected."""
    return read_region(path, reproject=True)


def region_from_bbox(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> shapely.Geometry:
    """A WGS84 rectangle; raises RegionError for an empty or out-of-range box."""
    if not (-180 <= lon_min < lon_max <= 180 and -90 <= lat_min < lat_max <= 90):
        raise RegionError(f"--bbox {lon_min},{lat_min},{lon_max},{lat_max} is empty or out of range; "
                          "give lon_min,lat_min,lon_max,lat_max in degrees with min < max")
    return box(lon_min, lat_min, lon_max, lat_max)


def utm_crs_for(geometry: shapely.Geometry) -> str:
    """The UTM zone (WGS84 / UTM, EPSG:326xx north, 327xx south) of a WGS84 geometry's centroid."""
    centroid = geometry.centroid
    zone = int((centroid.x + 180) // 6) % 60 + 1
    return f"EPSG:{(32700 if centroid.y < 0 else 32600) + zone}"
