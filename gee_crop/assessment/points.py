"""Files of an assessment: the class map read as strata, sample points written for labelling, and
labelled reference points read back (CSV or GeoJSON)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import CRS, Transformer

from gee_crop.atomic import atomic_write, write_json_atomic
from gee_crop.classes import NO_CLASS, read_text
from gee_crop.errors import InputError

#: Columns of a points file; ``reference`` is left empty by the design, for the labeller; ``map_sha256`` is
#: the :attr:`ClassMap.sha256` of the map the points were drawn on (empty for an Earth Engine map, and absent
#: from files of gee-crop before 0.4, which are still read).
MAP_HASH = "map_sha256"
POINT_COLUMNS = ("point_id", "x", "y", "lon", "lat", "stratum", "map_class", "reference", MAP_HASH)


@dataclass(frozen=True)
class ClassMap:
    """A classified map as strata: ``classes`` (H, W) uint8 indices into ``names`` (NO_CLASS = none)."""

    classes: np.ndarray
    names: tuple[str, ...]
    crs: str
    transform: tuple[float, ...]
    pixel_area_ha: float

    @property
    def sha256(self) -> str:
        """The map's identity: sha256 of its class band, grid and class names (not of the file, so a
        re-compressed or re-tagged copy of the same map is the same map)."""
        digest = hashlib.sha256(np.ascontiguousarray(self.classes, dtype=np.uint8).tobytes())
        digest.update(json.dumps([self.classes.shape, list(self.transform), self.crs, list(self.names)]).encode())
        return digest.hexdigest()

    @property
    def stratum_pixels(self) -> np.ndarray:
        """(k,) pixels per class."""
        return np.bincount(self.classes[self.classes != NO_CLASS].ravel(), minlength=len(self.names))[: len(self.names)]

    def cells_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, inside) of map coordinates ``x``, ``y``."""
        inverse = ~rasterio.Affine(*self.transform)
        cols, rows = inverse @ (np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        rows, cols = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
        height, width = self.classes.shape
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        return rows, cols, inside


def _pixel_area_ha(crs: CRS, transform: rasterio.Affine, height: int) -> float:
    if crs.is_geographic:
        raise InputError(
            "the map is in geographic coordinates, where pixels differ in area; reproject it to "
            "an equal-area or UTM CRS (e.g. gdalwarp -t_srs EPSG:326xx) before assessing it"
        )
    metres = crs.axis_info[0].unit_conversion_factor
    return abs(transform.a * transform.e) * metres**2 / 1e4


def read_class_map(path: str | os.PathLike) -> ClassMap:
    """The class band (band 1) of a gee-crop map COG, with its class names (tags ``class_names``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"map {path} does not exist; give the map.tif written by `gee-crop map`")
    try:
        with rasterio.open(path) as src:
            classes = src.read(1)
            tags = src.tags(1)
            crs, transform = src.crs, src.transform
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(
            f"{path} is not a readable GeoTIFF ({exc}); give the map.tif written by `gee-crop map`"
        ) from None
    if "class_names" not in tags:
        raise InputError(f"{path} has no class_names tag on band 1; give a map written by `gee-crop map`")
    if crs is None:
        raise InputError(f"{path} has no CRS; give a georeferenced map")
    names = tuple(json.loads(tags["class_names"]))
    crs = CRS.from_user_input(crs.to_wkt())
    return ClassMap(
        classes.astype(np.uint8),
        names,
        crs.to_string(),
        tuple(transform)[:6],
        _pixel_area_ha(crs, transform, classes.shape[0]),
    )


def write_class_raster(
    path: str | os.PathLike, classes: np.ndarray, names: tuple[str, ...], crs: str, transform: tuple[float, ...]
) -> Path:
    """A one-band GeoTIFF of class indices (NO_CLASS = none) with its class names, as ``read_class_map``
    reads it (a map restricted to some pixels, or a reference label raster)."""
    profile = {
        "driver": "GTiff",
        "width": classes.shape[1],
        "height": classes.shape[0],
        "count": 1,
        "dtype": "uint8",
        "crs": crs,
        "transform": rasterio.Affine(*transform[:6]),
        "nodata": NO_CLASS,
        "compress": "deflate",
    }

    def write(tmp: Path) -> None:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(np.asarray(classes, dtype=np.uint8), 1)
            dst.update_tags(1, class_names=json.dumps(list(names)))

    return atomic_write(Path(path), write)


def design_rows(class_map: ClassMap, rows: np.ndarray, cols: np.ndarray) -> list[dict]:
    """One row per drawn cell: its centre in the map CRS and in WGS84, its stratum, no reference yet."""
    affine = rasterio.Affine(*class_map.transform)
    x, y = affine @ (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs(class_map.crs, "EPSG:4326", always_xy=True).transform(x, y)
    strata = class_map.classes[rows, cols]
    return [
        {
            "point_id": i + 1,
            "x": float(x[i]),
            "y": float(y[i]),
            "lon": round(float(lon[i]), 7),
            "lat": round(float(lat[i]), 7),
            "stratum": class_map.names[strata[i]],
            "map_class": class_map.names[strata[i]],
            "reference": "",
            MAP_HASH: class_map.sha256,
        }
        for i in range(len(strata))
    ]


def write_points(points: list[dict], path: str | os.PathLike, crs: str) -> Path:
    """Write points as CSV (``.csv``) or GeoJSON (``.geojson``/``.json``, WGS84 points) atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=POINT_COLUMNS, restval="")
                writer.writeheader()
                writer.writerows(points)

        return atomic_write(path, write)
    if suffix in (".geojson", ".json"):
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                "properties": {k: p.get(k, "") for k in POINT_COLUMNS if k not in ("lon", "lat")},
            }
            for p in points
        ]
        return write_json_atomic(path, {"type": "FeatureCollection", "map_crs": crs, "features": features})
    raise InputError(f"{path}: write the points as .csv or .geojson")


def read_points(path: str | os.PathLike) -> list[dict]:
    """Labelled points from a CSV or GeoJSON written by ``assess design`` (``reference`` filled in)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"reference points {path} do not exist; label the file written by `gee-crop assess design`")
    text = read_text(path, "reference points")
    if path.suffix.lower() == ".csv":
        points = list(csv.DictReader(io.StringIO(text, newline="")))
    else:
        try:
            collection = json.loads(text)
            points = [
                {**f["properties"], "lon": f["geometry"]["coordinates"][0], "lat": f["geometry"]["coordinates"][1]}
                for f in collection["features"]
            ]
        except (json.JSONDecodeError, KeyError, TypeError, IndexError):
            raise InputError(
                f"{path} is not a GeoJSON FeatureCollection of points; give the file written by "
                "`gee-crop assess design`"
            ) from None
    missing = [c for c in ("x", "y", "reference") if points and c not in points[0]]
    if not points or missing:
        raise InputError(
            f"{path} has {'no points' if not points else 'no column ' + ', '.join(missing)}; "
            "give the points file written by `gee-crop assess design` with `reference` filled in"
        )
    return points


def _ids(points: list[dict], mask: np.ndarray, limit: int = 5) -> str:
    ids = [str(points[i].get("point_id", i + 1)) for i in np.flatnonzero(mask)]
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def classes_at_points(class_map: ClassMap, points: list[dict], source: str = "the reference points") -> np.ndarray:
    """(n,) map class index under each point; InputError for bad coordinates or a point outside the map."""
    try:
        x = np.array([float(p["x"]) for p in points])
        y = np.array([float(p["y"]) for p in points])
    except (TypeError, ValueError):
        raise InputError(f"{source}: x and y must be numbers in the map's CRS ({class_map.crs})") from None
    rows, cols, inside = class_map.cells_of(x, y)
    if not inside.all():
        raise InputError(
            f"{source}: {int((~inside).sum())} point(s) lie outside the map "
            f"(point_id {_ids(points, ~inside)}); check their x/y are in {class_map.crs}"
        )
    return class_map.classes[rows, cols].astype(np.int64)


def error_counts(
    names: tuple[str, ...],
    mapped: np.ndarray,
    points: list[dict],
    stratum_sizes: np.ndarray,
    source: str = "the reference points",
) -> tuple[np.ndarray, list[str]]:
    """(k, k) sample counts (rows: the map class at each point, ``mapped``; columns: its reference
    class) and warnings.

    Raises InputError for a point without a reference label, a reference class not in the map's
    legend, a point on an unmapped pixel, and a mapped class (``stratum_sizes`` > 0) with no point.
    """
    labels = np.array([str(p.get("reference") or "").strip() for p in points], dtype=object)
    unlabelled = labels == ""
    if unlabelled.any():
        raise InputError(
            f"{source}: {int(unlabelled.sum())} point(s) have no reference label "
            f"(point_id {_ids(points, unlabelled)}); fill in the reference column or remove them"
        )
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise InputError(
            f"{source}: reference class(es) {', '.join(map(repr, unknown))} are not in the map's "
            f"legend ({', '.join(names)}); use those names"
        )
    mapped = np.asarray(mapped, dtype=np.int64)
    unmapped = (mapped < 0) | (mapped >= len(names))
    if unmapped.any():
        raise InputError(
            f"{source}: {int(unmapped.sum())} point(s) fall on unmapped pixels "
            f"(point_id {_ids(points, unmapped)}); they belong to no stratum: remove them"
        )
    reference = np.array([names.index(v) for v in labels], dtype=np.int64)
    k = len(names)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (mapped, reference), 1)
    per_stratum = counts.sum(axis=1)
    sizes = np.asarray(stratum_sizes)
    empty = (sizes > 0) & (per_stratum == 0)
    if empty.any():
        absent = ", ".join(names[i] for i in np.flatnonzero(empty))
        raise InputError(
            f"{source}: mapped class(es) {absent} have no sample point, so their area cannot be "
            "attributed; label points of those strata (rerun `gee-crop assess design`)"
        )
    warnings = [
        f"stratum {names[i]} has 1 point: its variance cannot be estimated, so the confidence "
        "intervals are too narrow; label more points of it"
        for i in np.flatnonzero(per_stratum == 1)
    ]
    return counts, warnings


def check_drawn_on(class_map: ClassMap, points: list[dict], source: str) -> list[str]:
    """Warnings about where ``points`` come from; InputError when they carry another map's
    :attr:`ClassMap.sha256` (points drawn on one map say nothing of another's accuracy)."""
    hashes = {str(p.get(MAP_HASH) or "").strip().lower() for p in points} - {""}
    if not hashes:
        return [
            f"{source} does not record the map its points were drawn on (no {MAP_HASH} column: a file of an "
            "older gee-crop, or retyped); make sure they were drawn on this map"
        ]
    others = sorted(hashes - {class_map.sha256})
    if others:
        raise InputError(
            f"{source}: the points were drawn on another map ({MAP_HASH} {others[0][:12]}…, this map's is "
            f"{class_map.sha256[:12]}…); give the --map they were drawn on, or draw points of this map with "
            "`gee-crop assess design`"
        )
    return []


def check_no_labels(points: list[dict], source: str) -> None:
    """InputError when ``points`` already carry reference labels: with a reference raster as well, one of
    the two sources would be silently ignored."""
    labelled = np.array([bool(str(p.get("reference") or "").strip()) for p in points])
    if labelled.any():
        raise InputError(
            f"{source}: {int(labelled.sum())} point(s) already have a reference label, and --reference-raster "
            "gives another; use one source of reference labels: clear the reference column, or leave out "
            "--reference-raster"
        )


def labels_from_raster(points: list[dict], raster: str | os.PathLike, names: tuple[str, ...], crs: str) -> list[dict]:
    """Points whose ``reference`` is read from a label raster of class indices into ``names``
    (NO_CLASS or the raster's nodata = unlabelled); points on unlabelled cells are dropped.

    InputError for a raster that is not one of class indices of this legend: a float raster (a
    probability or a reflectance), class names that differ from the map's, or values at the points that
    are no class of the map."""
    path = Path(raster)
    if not path.is_file():
        raise InputError(f"reference raster {path} does not exist")
    fix = f"give a GeoTIFF of class indices 0..{len(names) - 1} into the map's legend ({', '.join(names)})"
    try:
        with rasterio.open(path) as src:
            if src.crs is None or rasterio.crs.CRS.from_user_input(crs) != src.crs:
                raise InputError(f"reference raster {path} must be in the map's CRS ({crs}); reproject it first")
            if np.dtype(src.dtypes[0]).kind not in "iu":
                raise InputError(f"reference raster {path} holds {src.dtypes[0]} values, not class indices; {fix}")
            tagged = src.tags(1).get("class_names")
            if tagged is not None and tuple(json.loads(tagged)) != tuple(names):
                raise InputError(
                    f"reference raster {path} has the classes {', '.join(json.loads(tagged))}, the map "
                    f"{', '.join(names)}; {fix}"
                )
            nodata = src.nodata
            xy = [(float(p["x"]), float(p["y"])) for p in points]
            values = np.array([v[0] for v in src.sample(xy)], dtype=np.int64)
    except (rasterio.errors.RasterioIOError, json.JSONDecodeError) as exc:
        raise InputError(f"reference raster {path} is not a readable GeoTIFF ({exc}); {fix}") from None
    unlabelled = (values == NO_CLASS) | (nodata is not None and values == nodata)
    foreign = ~unlabelled & ((values < 0) | (values >= len(names)))
    if foreign.any():
        shown = ", ".join(map(str, sorted(set(values[foreign].tolist()))[:5]))
        raise InputError(
            f"reference raster {path}: {int(foreign.sum())} point(s) fall on values ({shown}) that are no class "
            f"of the map and not its no-class value {NO_CLASS}; {fix}"
        )
    return [{**point, "reference": names[value]} for point, value, skip in zip(points, values, unlabelled) if not skip]
