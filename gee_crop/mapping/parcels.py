"""Per-parcel results of a map (``gee-crop map --parcels FILE``): the user's field polygons, read with the
labels' vector reader (:func:`gee_crop.data.vectors.read_vector_file`) and reprojected to the map's CRS,
get the class of the map's pixels inside them.

Counting: each parcel is eroded by half a pixel, then the pixels whose centres lie in the eroded shape
vote, so the edge pixels of its neighbours do not; a parcel left with no pixel (``no_interior``) counts
the pixels whose centres lie in the parcel itself. A multipolygon is one parcel. Where parcels overlap
(``overlaps``), a pixel votes for each. Unmapped pixels (no class) do not vote.

Per parcel: ``class`` (majority of the class band; a tie goes to the class listed first),
``class_by_probability`` (argmax of the parcel's mean probability vector, read from probabilities.tif
when the map has one; without it, argmax of the parcel's mean confidence per class, where each pixel
gives its confidence, the top class probability, to its own class and 0 to the others), ``share`` (of
the winning class), ``mean_confidence`` (percent), ``n_pixels`` and the flags ``small``,
``mostly_outside`` (under half its area on the map's grid), ``no_interior`` and ``overlaps``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import rasterio.features
import rasterio.windows
import shapely

from gee_crop.assessment.parcels import CLASS_COLUMN, FLAG_COLUMNS
from gee_crop.classes import NO_CLASS
from gee_crop.data.regions import WGS84, WGS84_NAMES, reproject_geometry
from gee_crop.data.vectors import POLYGON_TYPES, declared_crs, read_vector_file
from gee_crop.earthengine.parcels import ERODE_PIXELS
from gee_crop.errors import InputError
from gee_crop.mapping.engine import MapResult
from gee_crop.mapping.tiling import OutputGrid
from gee_crop.mapping.writers import write_atomic

PARCELS_CSV, PARCELS_GPKG = "parcels.csv", "parcels.gpkg"
#: a parcel with fewer counted pixels is flagged ``small``
DEFAULT_MIN_PIXELS = 4
#: the columns gee-crop adds after the file's own fields
RESULT_COLUMNS = (
    "feature",
    CLASS_COLUMN,
    "class_by_probability",
    "share",
    "mean_confidence",
    "n_pixels",
    *FLAG_COLUMNS,
    "overlaps",
)


@dataclass
class Parcels:
    """A parcel file's polygons (shapely, in ``crs``) and their attributes, in the file's order."""

    geometries: np.ndarray
    properties: list[dict]
    fields: list[str]
    crs: str
    source: str

    def __len__(self) -> int:
        return len(self.geometries)


def read_parcels(path: str | Path) -> Parcels:
    """The polygons of a parcel file (any format the labels' reader takes), checked: every feature has a
    non-empty polygon or multipolygon geometry, and no field is named like a result column."""
    source = str(path)
    geoms, props, crs = read_vector_file(path)
    if not geoms:
        raise InputError(f"{source} holds no feature; give a file of field polygons")
    empty = [i for i, g in enumerate(geoms) if g is None or g.is_empty]
    if empty:
        raise InputError(
            f"{source} has {len(empty)} feature(s) with an empty or missing geometry (feature {empty[0] + 1}); "
            'remove them (e.g. `ogr2ogr -where "OGR_GEOMETRY IS NOT NULL" fixed.gpkg FILE`)'
        )
    other = sorted({g.geom_type for g in geoms} - set(POLYGON_TYPES))
    if other:
        first = next(i for i, g in enumerate(geoms) if g.geom_type not in POLYGON_TYPES)
        none = "holds no polygon" if len(other) == len({g.geom_type for g in geoms}) else "holds"
        raise InputError(
            f"{source} {none} ({', '.join(other)} geometries, first feature {first + 1}); parcels must be "
            "polygons or multipolygons"
        )
    fields = parcel_fields(props, source, "rename them, e.g. `ogr2ogr -sql` with AS")
    polys = np.array([g if g.is_valid else shapely.make_valid(g) for g in geoms], dtype=object)
    declared = WGS84 if crs is None or crs.strip() in WGS84_NAMES or crs.strip().endswith("CRS84") else crs
    return Parcels(polys, props, fields, declared, source)


def parcel_fields(props: list[dict], source: str, fix: str) -> list[str]:
    """The fields of the parcels' properties, in first-seen order; InputError (ending with ``fix``) when one
    is named like a result column."""
    fields = list(dict.fromkeys(k for p in props for k in p))
    clash = [f for f in fields if f in RESULT_COLUMNS]
    if clash:
        raise InputError(
            f"{source} has field(s) {', '.join(repr(f) for f in clash)}, a name of the parcel table's own "
            f"columns ({', '.join(RESULT_COLUMNS)}); {fix}"
        )
    return fields


#: the fields of the parcels made from a label raster (:func:`label_raster_parcels`)
LABEL_PARCEL_FIELDS = ("parcel_id", "label")


def label_raster_parcels(
    classes: np.ndarray, transform: tuple[float, ...], crs: str, names: tuple[str, ...], source: str = "label raster"
) -> Parcels:
    """The parcels of a label raster ``classes`` (H, W) of class indices into ``names`` (NO_CLASS: none): each
    4-connected region of one class is a polygon along pixel edges, with a ``parcel_id`` (1..n, in
    rasterio's order) and its ``label`` (class name). How the demo gets parcels with a true class."""
    shapes = rasterio.features.shapes(classes, mask=classes != NO_CLASS, transform=rasterio.Affine(*transform[:6]))
    geoms, props = [], []
    for geom, value in shapes:
        geoms.append(shapely.geometry.shape(geom))
        props.append({"parcel_id": len(geoms), "label": names[int(value)]})
    return Parcels(np.array(geoms, dtype=object), props, list(LABEL_PARCEL_FIELDS), crs, source)


def checked_parcels(path: str | Path | None, region: shapely.Geometry | None) -> Parcels | None:
    """The parcels of ``path`` (None when none were given), refused before any mapping when none touches
    ``region`` (WGS84; None: not known yet)."""
    if path is None:
        return None
    parcels = read_parcels(path)
    if region is not None:
        check_on_region(parcels, region)
    return parcels


def check_on_region(parcels: Parcels, region: shapely.Geometry) -> None:
    """InputError, before any mapping, when no parcel touches ``region`` (WGS84) or their CRS is unknown."""
    src = declared_crs(parcels.crs, parcels.source)
    geoms = np.array(
        [reproject_geometry(g, src, WGS84) for g in parcels.geometries],
        dtype=object,
    )
    if not shapely.intersects(geoms, region).any():
        w, s, e, n = shapely.total_bounds(geoms)
        rw, rs, re, rn = region.bounds
        raise InputError(
            f"none of the {len(geoms)} parcels of {parcels.source} (lon {w:.3f}..{e:.3f}, lat {s:.3f}..{n:.3f}) "
            f"lies on the map's region (lon {rw:.3f}..{re:.3f}, lat {rs:.3f}..{rn:.3f}); give the parcels of "
            "the mapped region"
        )


def on_grid(parcels: Parcels, grid: OutputGrid) -> np.ndarray:
    """(n,) the parcels reprojected to the grid's CRS; InputError when none touches the grid."""
    src = declared_crs(parcels.crs, parcels.source)
    geoms = np.array(
        [reproject_geometry(g, src, grid.crs) for g in parcels.geometries],
        dtype=object,
    )
    box = _grid_box(grid)
    if not shapely.intersects(geoms, box).any():
        extents = [_extent(shapely.total_bounds(geoms)), _extent(box.bounds)]
        where = f"parcels {extents[0]}; map {extents[1]} in {grid.crs}"
        raise InputError(
            f"none of the {len(geoms)} parcels of {parcels.source} lies on the map ({where}); give the "
            "parcels of the mapped region"
        )
    return geoms


def _extent(bounds) -> str:
    w, s, e, n = bounds
    return f"{w:.0f}..{e:.0f}, {s:.0f}..{n:.0f}"


def _grid_box(grid: OutputGrid) -> shapely.Geometry:
    """The grid's extent as a polygon in its CRS (north-up)."""
    a, _, x0, _, e, y0 = grid.transform[:6]
    x1, y1 = x0 + a * grid.width, y0 + e * grid.height
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _window_pixels(geom: shapely.Geometry, grid: OutputGrid) -> np.ndarray:
    """Flat grid indices of the pixels whose centres lie in ``geom`` (rasterized in its bounding window)."""
    if geom.is_empty:
        return np.zeros(0, dtype=np.int64)
    a, _, x0, _, e, y0 = grid.transform[:6]
    west, south, east, north = geom.bounds
    left, right = sorted(((west - x0) / a, (east - x0) / a))
    top, bottom = sorted(((north - y0) / e, (south - y0) / e))
    c0, c1 = max(int(np.floor(left)) - 1, 0), min(int(np.ceil(right)) + 1, grid.width)
    r0, r1 = max(int(np.floor(top)) - 1, 0), min(int(np.ceil(bottom)) + 1, grid.height)
    if c1 <= c0 or r1 <= r0:
        return np.zeros(0, dtype=np.int64)
    window = rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0)
    h, w = int(window.height), int(window.width)
    inside = rasterio.features.rasterize(
        [(geom, 1)], out_shape=(h, w), transform=rasterio.windows.transform(window, grid.affine), fill=0, dtype="uint8"
    )
    rows, cols = np.nonzero(inside)
    return (rows + int(window.row_off)) * grid.width + cols + int(window.col_off)


def overlapping(geoms: np.ndarray) -> np.ndarray:
    """(n,) bool: the parcels that share area with another parcel (``overlaps``: a pixel votes for each)."""
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left != right
    left, right = left[pair], right[pair]
    overlaps = np.zeros(len(geoms), dtype=bool)
    if left.size:
        shared = shapely.area(shapely.intersection(geoms[left], geoms[right])) > 0
        overlaps[left[shared]] = True
    return overlaps


def flag_columns(
    geoms: np.ndarray,
    grid: OutputGrid,
    n_pixels: np.ndarray,
    no_interior: np.ndarray,
    overlaps: np.ndarray,
    min_pixels: int,
) -> list[dict]:
    """The flag columns per parcel (``geoms`` in the grid's CRS): ``small`` (fewer than ``min_pixels`` counted
    pixels), ``mostly_outside`` (under half its area on the grid), ``no_interior`` and ``overlaps``."""
    box = _grid_box(grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        on_map = shapely.area(shapely.intersection(geoms, box)) / shapely.area(geoms)
    return [
        {
            "small": bool(n_pixels[i] < min_pixels),
            "mostly_outside": bool(not on_map[i] >= 0.5),
            "no_interior": bool(no_interior[i]),
            "overlaps": bool(overlaps[i]),
        }
        for i in range(len(geoms))
    ]


def _votes(geoms: np.ndarray, grid: OutputGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(parcel index, flat pixel index) pairs of the pixels that vote, and the (n,) ``no_interior`` and
    ``overlaps`` flags. Non-overlapping parcels are rasterized in one pass; overlapping ones (a pixel
    votes for each) and those with no interior, one by one in their own window."""
    n = len(geoms)
    eroded = shapely.buffer(geoms, -grid.scale * ERODE_PIXELS)
    overlaps = overlapping(geoms)
    single = np.flatnonzero(~overlaps & ~shapely.is_empty(eroded))
    ids = rasterio.features.rasterize(
        [(eroded[i], int(i)) for i in single],
        out_shape=(grid.height, grid.width),
        transform=grid.affine,
        fill=-1,
        dtype="int32",
    ).ravel()
    pixels = np.flatnonzero(ids >= 0)
    parcel = ids[pixels].astype(np.int64)
    alone = [(p, _window_pixels(eroded[p], grid)) for p in np.flatnonzero(overlaps)]
    parcel = np.concatenate([parcel] + [np.full(len(px), p, dtype=np.int64) for p, px in alone])
    pixels = np.concatenate([pixels] + [px for _, px in alone])
    no_interior = np.bincount(parcel, minlength=n) == 0
    extra = [(p, _window_pixels(geoms[p], grid)) for p in np.flatnonzero(no_interior)]
    parcel = np.concatenate([parcel] + [np.full(len(px), p, dtype=np.int64) for p, px in extra])
    pixels = np.concatenate([pixels] + [px for _, px in extra])
    return parcel, pixels, no_interior, overlaps


def parcel_table(
    geoms: np.ndarray,
    grid: OutputGrid,
    classes: tuple[str, ...],
    class_band: np.ndarray,
    confidence: np.ndarray,
    probabilities: np.ndarray | None = None,
    *,
    min_pixels: int = DEFAULT_MIN_PIXELS,
) -> list[dict]:
    """The result columns (:data:`RESULT_COLUMNS` but ``feature``) per parcel, from the map's (H, W) class
    and confidence bands (percent) and optionally its (C, H, W) probability bands (percent); ``geoms`` in
    the grid's CRS. Classes are names; a parcel without a mapped pixel has empty class cells."""
    n, n_classes = len(geoms), len(classes)
    parcel, pixels, no_interior, overlaps = _votes(geoms, grid)
    cls = class_band.ravel()[pixels].astype(np.int64)
    mapped = cls != NO_CLASS
    parcel, pixels, cls = parcel[mapped], pixels[mapped], cls[mapped]
    conf = confidence.ravel()[pixels].astype(np.float64)
    counts = np.bincount(parcel * n_classes + cls, minlength=n * n_classes).reshape(n, n_classes)
    n_pixels = counts.sum(axis=1)
    if probabilities is not None:
        flat = probabilities.reshape(n_classes, -1)[:, pixels].astype(np.float64)
        score = np.stack([np.bincount(parcel, weights=flat[c], minlength=n) for c in range(n_classes)], axis=1)
    else:
        score = np.bincount(parcel * n_classes + cls, weights=conf, minlength=n * n_classes).reshape(n, n_classes)
    conf_sum = np.bincount(parcel, weights=conf, minlength=n)
    flags = flag_columns(geoms, grid, n_pixels, no_interior, overlaps, min_pixels)
    rows = []
    for i in range(n):
        has = bool(n_pixels[i])
        rows.append(
            {
                "class": classes[int(counts[i].argmax())] if has else None,
                "class_by_probability": classes[int(score[i].argmax())] if has else None,
                "share": round(float(counts[i].max() / n_pixels[i]), 4) if has else None,
                "mean_confidence": round(float(conf_sum[i] / n_pixels[i]), 2) if has else None,
                "n_pixels": int(n_pixels[i]),
                **flags[i],
            }
        )
    return rows


def _column(values: list) -> np.ndarray:
    """A field's values as an array pyogrio writes: integers (or floats) with nulls as floats, booleans
    as integers 0/1, anything else as text (None stays null)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present) and len(present) == len(values):
        return np.array(values, dtype=np.int32)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if len(present) == len(values) and all(isinstance(v, int) for v in present):
            return np.array(values, dtype=np.int64)
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def write_parcel_table(out_dir: Path, parcels: Parcels, geoms: np.ndarray, rows: list[dict], crs: str) -> list[Path]:
    """``parcels.csv`` (no geometry) and ``parcels.gpkg`` (the parcels in the map's CRS) in ``out_dir``,
    each written atomically: the file's fields as they are, then the result columns."""
    names = parcels.fields + list(RESULT_COLUMNS)
    table = [
        {**{f: p.get(f) for f in parcels.fields}, "feature": i + 1, **r}
        for i, (p, r) in enumerate(zip(parcels.properties, rows))
    ]

    def write_csv(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=names)
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in table)

    def write_gpkg(tmp: Path) -> None:
        pyogrio.raw.write(
            str(tmp),
            geometry=np.array([shapely.to_wkb(as_multipolygon(g)) for g in geoms], dtype=object),
            field_data=[_column([row[k] for row in table]) for k in names],
            fields=names,
            crs=crs,
            geometry_type="MultiPolygon",
            driver="GPKG",
            layer="parcels",
        )

    return [write_atomic(out_dir / PARCELS_CSV, write_csv), write_atomic(out_dir / PARCELS_GPKG, write_gpkg)]


def as_multipolygon(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal parts of ``geom`` as one MultiPolygon (make_valid may give a collection)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in POLYGON_TYPES]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys)


def map_parcels(
    parcels: Parcels, grid: OutputGrid, cog: Path, probabilities: Path | None, min_pixels: int = DEFAULT_MIN_PIXELS
) -> tuple[list[Path], list[dict]]:
    """The parcel table of the finished map ``cog`` on ``grid`` (with ``probabilities``, when written), written
    beside it; returns (paths, rows)."""
    with rasterio.open(cog) as src:
        class_band, confidence = src.read(1), src.read(2)
        classes = tuple(json.loads(src.tags(1)["class_names"]))
    probs = None
    if probabilities is not None and probabilities.is_file():
        with rasterio.open(probabilities) as src:
            probs = src.read()
    geoms = on_grid(parcels, grid)
    rows = parcel_table(geoms, grid, classes, class_band, confidence, probs, min_pixels=min_pixels)
    return write_parcel_table(cog.parent, parcels, geoms, rows, grid.crs), rows


def with_parcel_table(result: MapResult, parcels: Parcels, min_pixels: int = DEFAULT_MIN_PIXELS) -> MapResult:
    """``result`` of a finished map, its parcel table written beside the COG (:func:`map_parcels`)."""
    paths, _ = map_parcels(parcels, result.grid, result.cog, result.probabilities, min_pixels)
    return dataclasses.replace(result, parcels=paths)
