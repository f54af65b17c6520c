"""Areas of interest: GeoJSON polygons and lon/lat boxes, validated, in WGS84 (shapely); the UTM
zone of a region and reprojection. Country outlines live in :mod:`gee_crop.countries`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely
import shapely.affinity
import shapely.errors
from shapely import geometry as sg
from shapely.validation import explain_validity

from gee_crop.errors import RegionError

if TYPE_CHECKING:
    from pyproj import CRS

WGS84_NAMES = {
    "EPSG:4326",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "urn:ogc:def:crs:OGC::CRS84",
    "CRS84",
    "WGS84",
}


# ------------------------------------------------------------------- GeoJSON

WGS84 = "EPSG:4326"
#: Largest region file read (bytes): a detailed country outline is a few MB; beyond, it is not an area of interest.
MAX_REGION_BYTES = 64 * 1024 * 1024
#: A ring edge that jumps more than this in longitude crosses the antimeridian (RFC 7946 §3.1.9).
ANTIMERIDIAN_JUMP_DEG = 180.0


def validate_region(geometry: sg.base.BaseGeometry, name: str = "the region") -> None:
    """Raise RegionError for an empty, non-areal or invalid (e.g. self-intersecting) geometry."""
    if geometry.is_empty:
        raise RegionError(f"{name} is empty; give a polygon that covers the area of interest")
    if geometry.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise RegionError(
            f"{name} is a {geometry.geom_type}, not an area (not a polygon); give a GeoJSON Polygon or MultiPolygon"
        )
    if not geometry.is_valid:
        raise RegionError(
            f"{name} is not a valid polygon ({explain_validity(geometry)}); fix it, e.g. "
            "with shapely.make_valid or QGIS 'Fix geometries'"
        )
    if geometry.area == 0:
        raise RegionError(f"{name} has zero area; give a polygon that covers the area of interest")


def reproject_geometry(geometry: sg.base.BaseGeometry, src_crs: str | CRS, dst_crs: str | CRS) -> sg.base.BaseGeometry:
    """The geometry with its coordinates transformed from ``src_crs`` to ``dst_crs`` (always x, y order)."""
    from pyproj import CRS, Transformer

    if CRS.from_user_input(src_crs) == CRS.from_user_input(dst_crs):
        return geometry
    transformer = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    return shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def crs_member_name(obj: dict, source: str) -> str | None:
    """The name of an old-style ``crs`` member: ``{"type": "name", "properties": {"name": ...}}``, or a
    plain string (some tools write one); RegionError for anything else."""
    crs = obj.get("crs")
    if crs is None or (isinstance(crs, (str, dict, list)) and not crs):
        return None
    if isinstance(crs, str):
        return crs
    name = (
        crs.get("properties", {}).get("name")
        if isinstance(crs, dict) and isinstance(crs.get("properties", {}), dict)
        else None
    )
    if not isinstance(name, str) or not name:
        raise RegionError(
            f'{source} has a malformed "crs" member ({json.dumps(crs)[:80]}); remove it and save '
            'the GeoJSON in WGS84 (EPSG:4326), or give {"type": "name", "properties": '
            '{"name": "EPSG:..."}}'
        )
    return name


def _geojson_crs(name: str, source: str) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(name).to_string()
    except CRSError as exc:
        raise RegionError(
            f"{source}'s CRS {name!r} is not understood ({exc}); save the GeoJSON in WGS84 (EPSG:4326)"
        ) from None


def _member_geometries(obj: dict, source: str) -> list:
    """The geometry objects of a FeatureCollection, Feature or geometry; RegionError when a member
    is malformed (``"features": null``, a feature that is not an object, ...)."""
    kind = obj.get("type")
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise RegionError(
                f'{source}: "features" is {json.dumps(features)[:40]}, not a list of features; '
                'give a FeatureCollection whose "features" is a list of polygon features'
            )
        if not all(isinstance(f, dict) for f in features):
            raise RegionError(f'{source}: every member of "features" must be a GeoJSON Feature object')
        return [f.get("geometry") for f in features]
    if kind == "Feature":
        return [obj.get("geometry")]
    return [obj]


def geometry_from_geojson(obj: dict, source: str = "the region", *, reproject: bool = False) -> sg.base.BaseGeometry:
    """A valid WGS84 (Multi)Polygon from a GeoJSON geometry, Feature or FeatureCollection.

    A GeoJSON in another CRS (an old-style ``crs`` member, e.g. a QGIS export) is reprojected when
    ``reproject`` is true (mapping), and refused with the fix otherwise (sampling asks for WGS84).
    Malformed members (a ``crs`` that is no CRS, ``"features": null``, NaN coordinates) are
    RegionErrors naming the fix.
    """
    crs = crs_member_name(obj, source)
    other_crs = crs is not None and crs not in WGS84_NAMES and not crs.endswith("CRS84")
    if other_crs and not reproject:
        raise RegionError(
            f"{source} is in CRS {crs}; reproject it to WGS84 longitude/latitude "
            "(EPSG:4326), e.g. `ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`"
        )
    geoms = _member_geometries(obj, source)
    if not geoms:
        raise RegionError(f"{source} has no features; give a GeoJSON with at least one polygon")
    shapes = []
    for g in geoms:
        if not isinstance(g, dict) or g.get("type") not in ("Polygon", "MultiPolygon"):
            got = g.get("type", "nothing") if isinstance(g, dict) else "nothing"
            got = got if isinstance(got, str) else "malformed geometry"
            raise RegionError(
                f"{source} holds a {got}, not an area (not a polygon); give a GeoJSON Polygon "
                "or MultiPolygon outlining the area of interest"
            )
        try:
            shape = sg.shape(g)
            finite = np.isfinite(shapely.get_coordinates(shape)).all()
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, shapely.errors.GEOSException) as exc:
            raise RegionError(
                f"{source} has malformed coordinates ({str(exc)[:120] or type(exc).__name__}); give "
                "closed rings of [longitude, latitude] pairs"
            ) from None
        if not finite:
            raise RegionError(
                f"{source} has NaN or infinite coordinates; give closed rings of finite [longitude, latitude] pairs"
            )
        shapes.append(shape if other_crs else split_antimeridian(shape))  # lon/lat edges only cross 180°
    # validate each part before merging or reprojecting: a self-intersection must be reported, not
    # silently reshaped
    for part in shapes:
        validate_region(part, source)
    shape = shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)
    if other_crs:
        assert crs is not None  # other_crs implies a named CRS
        shape = reproject_geometry(shape, _geojson_crs(crs, source), WGS84)
        if not np.isfinite(shapely.get_coordinates(shape)).all():
            raise RegionError(
                f"{source} does not reproject from {crs} to WGS84 (coordinates outside that CRS's "
                'area); check the "crs" member or save the GeoJSON in EPSG:4326'
            )
        return shape
    minx, miny, maxx, maxy = shape.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise RegionError(
            f"{source} has coordinates outside longitude/latitude range "
            f"({minx:.0f}, {miny:.0f}, {maxx:.0f}, {maxy:.0f}); it is probably in a "
            "projected CRS: reproject it to WGS84 (EPSG:4326)"
        )
    return shape


def _crosses_antimeridian(polygon: sg.Polygon) -> bool:
    """Whether an edge of the polygon's rings jumps across the antimeridian (more than 180° of longitude)."""
    rings = [polygon.exterior, *polygon.interiors]
    if not any((np.abs(np.diff(np.asarray(r.coords)[:, 0])) > ANTIMERIDIAN_JUMP_DEG).any() for r in rings):
        return False
    west, _, east, _ = _unwrapped(polygon).bounds
    return east - west <= ANTIMERIDIAN_JUMP_DEG  # narrow across 180°: a wider one is meant as written


def split_antimeridian(shape: sg.base.BaseGeometry) -> sg.base.BaseGeometry:
    """``shape`` with each polygon that crosses the antimeridian (an edge from 179.9° to -179.9°) split into
    its parts east and west of it, as RFC 7946 §3.1.9 asks; other polygons unchanged. Read as written,
    such a polygon would span the other 359.8° of the globe."""
    polygons = list(shape.geoms) if isinstance(shape, sg.MultiPolygon) else [shape]
    if not any(isinstance(p, sg.Polygon) and _crosses_antimeridian(p) for p in polygons):
        return shape
    parts = []
    for polygon in polygons:
        if not _crosses_antimeridian(polygon):
            parts.append(polygon)
            continue
        parts += _cut_at_180(_unwrapped(polygon))  # one piece around 180° once west longitudes move east
    return sg.MultiPolygon(parts)


def _cut_at_180(unwrapped: sg.base.BaseGeometry) -> list[sg.Polygon]:
    """The polygons of a geometry given in longitudes 0..540 (around 180°), cut at 180° and each part back
    in -180..180."""
    east = unwrapped.intersection(sg.box(-180, -90, 180, 90))
    west = shapely.affinity.translate(unwrapped.intersection(sg.box(180, -90, 540, 90)), xoff=-360)
    return [p for p in shapely.get_parts([east, west]) if p.geom_type == "Polygon" and p.area > 0]


def lonlat_extent(geometries: np.ndarray, margin_deg: float = 0.0) -> sg.base.BaseGeometry:
    """The WGS84 box around ``geometries``, grown by ``margin_deg``; two boxes, one each side of 180°, when
    they lie on both sides of the antimeridian (one box would be the whole band of latitudes between)."""
    west, south, east, north = shapely.total_bounds(geometries)
    if east - west <= ANTIMERIDIAN_JUMP_DEG:
        return sg.box(west, south, east, north).buffer(margin_deg, join_style="mitre")
    x0, y0, x1, y1 = _unwrapped(shapely.GeometryCollection(list(geometries))).bounds
    grown = sg.box(x0 - margin_deg, max(-90, y0 - margin_deg), x1 + margin_deg, min(90, y1 + margin_deg))
    return sg.MultiPolygon(_cut_at_180(grown))


def read_region(path: str | os.PathLike[str], *, reproject: bool = False) -> sg.base.BaseGeometry:
    """Read and validate a GeoJSON area of interest (WGS84 polygons; see :func:`geometry_from_geojson`)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_REGION_BYTES:
            raise RegionError(
                f"region file {path} is {size / 2**20:,.0f} MiB, above the {MAX_REGION_BYTES // 2**20} MiB a region "
                "may have; simplify it (e.g. `ogr2ogr -simplify 0.001`) or give its outline only"
            )
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegionError(f"region file {path} does not exist; give the path of a GeoJSON polygon") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegionError(f"{path} is not valid GeoJSON ({exc}); give a GeoJSON polygon file") from None
    except RecursionError:
        raise RegionError(
            f"{path} nests its JSON too deeply to be GeoJSON (a polygon nests 4 arrays, a MultiPolygon 5); "
            "give a GeoJSON polygon file"
        ) from None
    if not isinstance(obj, dict):
        raise RegionError(f"{path} is not a GeoJSON object; give a GeoJSON polygon file")
    return geometry_from_geojson(obj, source=str(path), reproject=reproject)


def region_from_geojson(path: str | os.PathLike[str]) -> sg.base.BaseGeometry:
    """Read a GeoJSON file (geometry, Feature or FeatureCollection) as one valid WGS84 geometry;
    a file in another CRS is reprojected (mapping)."""
    return read_region(path, reproject=True)


def region_from_bbox(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> sg.base.BaseGeometry:
    """A WGS84 rectangle; raises RegionError for an empty or out-of-range box. A box whose ``lon_min`` is
    east of its ``lon_max`` crosses the antimeridian (RFC 7946 §5.2) and is two rectangles, one each side."""
    in_range = all(-180 <= v <= 180 for v in (lon_min, lon_max)) and -90 <= lat_min < lat_max <= 90
    # lon_min east of lon_max: across 180° when that box is narrow; a wide one is a swapped box
    across = lon_min > lon_max and lon_max + 360 - lon_min <= ANTIMERIDIAN_JUMP_DEG
    if not in_range or not (lon_min < lon_max or across):
        raise RegionError(
            f"--bbox {lon_min},{lat_min},{lon_max},{lat_max} is empty or out of range; "
            "give lon_min,lat_min,lon_max,lat_max in degrees with min < max (lon_min > lon_max: across 180°)"
        )
    if across:
        return sg.MultiPolygon(_cut_at_180(sg.box(lon_min, lat_min, lon_max + 360, lat_max)))
    return sg.box(lon_min, lat_min, lon_max, lat_max)


def utm_crs_for(geometry: sg.base.BaseGeometry) -> str:
    """The UTM zone (WGS84 / UTM, EPSG:326xx north, 327xx south) of a WGS84 geometry's centroid (of parts
    split at the antimeridian: their centroid near 180°, not near 0°)."""
    lon, lat = centroid_lonlat(geometry)
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{(32700 if lat < 0 else 32600) + zone}"


def _unwrapped(geometry: sg.base.BaseGeometry) -> sg.base.BaseGeometry:
    """``geometry`` with west longitudes moved east by 360°: parts on both sides of 180° become neighbours."""
    return shapely.transform(
        geometry, lambda xy: np.column_stack([np.where(xy[:, 0] < 0, xy[:, 0] + 360, xy[:, 0]), xy[:, 1]])
    )


def centroid_lonlat(geometry: sg.base.BaseGeometry) -> tuple[float, float]:
    """(lon, lat) of the centroid of a WGS84 geometry; one split at the antimeridian (parts more than 180°
    apart) is measured unwrapped, so its centroid lies between its parts."""
    west, _, east, _ = geometry.bounds
    if east - west <= ANTIMERIDIAN_JUMP_DEG:
        return geometry.centroid.x, geometry.centroid.y
    centre = _unwrapped(geometry).centroid
    return (centre.x - 360 if centre.x > 180 else centre.x), centre.y


def region_of_options(
    region_path: str | os.PathLike | None, bbox: tuple[float, float, float, float] | None
) -> shapely.Geometry | None:
    """The WGS84 region of ``--region`` / ``--bbox`` (None when neither is given)."""
    if region_path:
        return region_from_geojson(region_path)
    return region_from_bbox(*bbox) if bbox else None
