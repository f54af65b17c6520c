"""Regions to sample: GeoJSON areas of interest and country boundaries (WGS84, shapely).

Country geometries for offline validation and tiling come from the Natural Earth 1:50m Admin-0
shapefile shipped in ``<shared data>/boundaries`` (public domain), read here with a small reader
(no GDAL needed). On Earth Engine the boundary is taken from a catalog collection instead
(:func:`gee_crop.earthengine.sampling.country_boundary`).
"""
from __future__ import annotations

import json
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely import geometry as sg
from shapely.validation import explain_validity

from gee_crop.errors import RegionError

WGS84_NAMES = {"EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326",
               "urn:ogc:def:crs:OGC::CRS84", "CRS84", "WGS84"}
NATURAL_EARTH = "boundaries/ne_50m_admin_0_countries"


# ------------------------------------------------------------------ shapefile

def _read_dbf(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    fields, offset = [], 32
    while data[offset] != 0x0D:
        name = data[offset:offset + 11].split(b"\0")[0].decode("ascii")
        fields.append((name, data[offset + 16]))
        offset += 32
    records = []
    for i in range(n_records):
        start = header_len + i * record_len + 1  # first byte: deletion flag
        row, pos = {}, start
        for name, length in fields:
            row[name] = data[pos:pos + length].decode("utf-8", errors="replace").strip()
            pos += length
        records.append(row)
    return records


def _rings_to_geometry(rings: list[np.ndarray]) -> sg.base.BaseGeometry:
    # Shapefile polygons: outer rings clockwise, holes counter-clockwise.
    outers = [r for r in rings if not sg.LinearRing(r).is_ccw]
    holes = [r for r in rings if sg.LinearRing(r).is_ccw]
    shells = [sg.Polygon(o) for o in outers]
    hole_lists: list[list[np.ndarray]] = [[] for _ in shells]
    for h in holes:
        point = sg.Point(h[0])
        owner = next((i for i, s in enumerate(shells) if s.contains(point)), None)
        if owner is not None:
            hole_lists[owner].append(h)
    polygons = [sg.Polygon(o, hl) for o, hl in zip(outers, hole_lists)]
    return polygons[0] if len(polygons) == 1 else sg.MultiPolygon(polygons)


def _read_shp_polygons(path: Path) -> list[sg.base.BaseGeometry | None]:
    data = path.read_bytes()
    shapes, offset = [], 100
    while offset < len(data):
        _, length_words = struct.unpack(">ii", data[offset:offset + 8])
        content = data[offset + 8: offset + 8 + 2 * length_words]
        offset += 8 + 2 * length_words
        shape_type = struct.unpack("<i", content[:4])[0]
        if shape_type == 0:
            shapes.append(None)
            continue
        n_parts, n_points = struct.unpack("<ii", content[36:44])
        parts = np.frombuffer(content, "<i4", n_parts, 44)
        points = np.frombuffer(content, "<f8", 2 * n_points, 44 + 4 * n_parts).reshape(-1, 2)
        bounds = list(parts) + [n_points]
        shapes.append(_rings_to_geometry([points[a:b] for a, b in zip(bounds[:-1], bounds[1:])]))
    return shapes


@lru_cache(maxsize=1)
def _countries() -> dict[str, tuple[str, sg.base.BaseGeometry]]:
    from gee_crop.testing.paths import shared_data_dir

    base = shared_data_dir() / NATURAL_EARTH
    records = _read_dbf(base.with_suffix(".dbf"))
    shapes = _read_shp_polygons(base.with_suffix(".shp"))
    out = {}
    for rec, shape in zip(records, shapes):
        # Natural Earth writes ISO_A3 = -99 for a few countries (France, Norway): ADM0_A3 then.
        code = rec.get("ISO_A3", "-99")
        code = rec.get("ADM0_A3", code) if code in ("-99", "") else code
        if shape is not None and code not in out:
            out[code] = (rec.get("NAME", code), shape)
    return out


def country_geometry(iso3: str) -> sg.base.BaseGeometry:
    """WGS84 (Multi)Polygon of a country; RegionError when the code is not ISO 3166-1 alpha-3."""
    code = iso3.strip().upper()
    found = _countries().get(code)
    if found is None:
        raise RegionError(f"{iso3!r} is not an ISO 3166-1 alpha-3 country code (e.g. FRA, USA, BEL); "
                          "give a valid code, or a GeoJSON file with --region")
    return found[1]


# ------------------------------------------------------------------- GeoJSON

WGS84 = "EPSG:4326"


def validate_region(geometry: sg.base.BaseGeometry, name: str = "the region") -> None:
    """Raise RegionError for an empty, non-areal or invalid (e.g. self-intersecting) geometry."""
    if geometry.is_empty:
        raise RegionError(f"{name} is empty; give a polygon that covers the area of interest")
    if geometry.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise RegionError(f"{name} is a {geometry.geom_type}, not an area (not a polygon); give a GeoJSON "
                          "Polygon or MultiPolygon")
    if not geometry.is_valid:
        raise RegionError(f"{name} is not a valid polygon ({explain_validity(geometry)}); fix it, e.g. "
                          "with shapely.make_valid or QGIS 'Fix geometries'")
    if geometry.area == 0:
        raise RegionError(f"{name} has zero area; give a polygon that covers the area of interest")


def reproject_geometry(geometry: sg.base.BaseGeometry, src_crs: str, dst_crs: str) -> sg.base.BaseGeometry:
    """The geometry with its coordinates transformed from ``src_crs`` to ``dst_crs`` (always x, y order)."""
    from pyproj import CRS, Transformer

    if CRS.from_user_input(src_crs) == CRS.from_user_input(dst_crs):
        return geometry
    transformer = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    return shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def _crs_name(obj: dict) -> str | None:
    crs = obj.get("crs")
    if not crs:
        return None
    return str(crs.get("properties", {}).get("name", crs))


def _geojson_crs(name: str, source: str) -> str:
    from pyproj import CRS

    try:
        return CRS.from_user_input(name).to_string()
    except Exception as exc:  # pyproj raises its own CRSError
        raise RegionError(f"{source}'s CRS {name!r} is not understood ({exc}); save the GeoJSON in WGS84 "
                          "(EPSG:4326)") from None


def geometry_from_geojson(obj: dict, source: str = "the region", *,
                          reproject: bool = False) -> sg.base.BaseGeometry:
    """A valid WGS84 (Multi)Polygon from a GeoJSON geometry, Feature or FeatureCollection.

    A GeoJSON in another CRS (an old-style ``crs`` member, e.g. a QGIS export) is reprojected when
    ``reproject`` is true (mapping), and refused with the fix otherwise (sampling asks for WGS84).
    """
    crs = _crs_name(obj)
    other_crs = crs is not None and crs not in WGS84_NAMES and not crs.endswith("CRS84")
    if other_crs and not reproject:
        raise RegionError(f"{source} is in CRS {crs}; reproject it to WGS84 longitude/latitude "
                          "(EPSG:4326), e.g. `ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        geoms = [f.get("geometry") for f in obj.get("features", [])]
    elif kind == "Feature":
        geoms = [obj.get("geometry")]
    else:
        geoms = [obj]
    if not geoms:
        raise RegionError(f"{source} has no features; give a GeoJSON with at least one polygon")
    shapes = []
    for g in geoms:
        if not g or g.get("type") not in ("Polygon", "MultiPolygon"):
            got = (g or {}).get("type", "nothing")
            raise RegionError(f"{source} holds a {got}, not an area (not a polygon); give a GeoJSON Polygon "
                              "or MultiPolygon outlining the area of interest")
        try:
            shapes.append(sg.shape(g))
        except (ValueError, TypeError, IndexError) as exc:
            raise RegionError(f"{source} has malformed coordinates ({exc}); give closed rings of "
                              "[longitude, latitude] pairs") from None
    # validate each part before merging or reprojecting: a self-intersection must be reported, not
    # silently reshaped
    for part in shapes:
        validate_region(part, source)
    shape = shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)
    if other_crs:
        return reproject_geometry(shape, _geojson_crs(crs, source), WGS84)
    minx, miny, maxx, maxy = shape.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise RegionError(f"{source} has coordinates outside longitude/latitude range "
                          f"({minx:.0f}, {miny:.0f}, {maxx:.0f}, {maxy:.0f}); it is probably in a "
                          "projected CRS: reproject it to WGS84 (EPSG:4326)")
    return shape


def read_region(path: str | Path, *, reproject: bool = False) -> sg.base.BaseGeometry:
    """Read and validate a GeoJSON area of interest (WGS84 polygons; see :func:`geometry_from_geojson`)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegionError(f"region file {path} does not exist; give the path of a GeoJSON polygon") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegionError(f"{path} is not valid GeoJSON ({exc}); give a GeoJSON polygon file") from None
    if not isinstance(obj, dict):
        raise RegionError(f"{path} is not a GeoJSON object; give a GeoJSON polygon file")
    return geometry_from_geojson(obj, source=str(path), reproject=reproject)
