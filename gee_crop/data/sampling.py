"""Local sampling of a labelled raster stack with the same rules as the Earth Engine path.

METHOD.md "Sampling": (1) a 60 m inward buffer erodes every class region of the reference map;
(2) only pixels with a valid label and at least one clear observation are candidates; (3) per
0.1 deg x 0.1 deg WGS84 cell, up to 5 random samples (1 in the USA) at least 60 m apart.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from scipy import ndimage

from gee_crop.classes import NO_CLASS, Legend
from gee_crop.config import (
    INWARD_BUFFER_M,
    MAX_BUFFER_PIXELS,
    MAX_INWARD_BUFFER_M,
)
from gee_crop.data.labels import check_same_grid, read_label_raster
from gee_crop.data.patch import patch_pixels, read_patch
from gee_crop.data.regions import WGS84, reproject_geometry
from gee_crop.data.vectors import LabelFeatures, is_vector_file, read_label_features
from gee_crop.errors import InputError
from gee_crop.features.cloud import clear_mask
from gee_crop.features.seasons import with_season_years
from gee_crop.types import PAPER_RULES, RawStack, SampleSeries, SamplingRules

#: Mean Earth radius (m), for the local equirectangular distances of grid sampling.
EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = EARTH_RADIUS_M * np.pi / 180.0


def disk_footprint(radius_px: float) -> np.ndarray:
    """(2r+1, 2r+1) bool disk: pixels whose centre lies within ``radius_px`` pixels of the centre."""
    r = int(np.floor(radius_px + 1e-9))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    return dy * dy + dx * dx <= radius_px * radius_px + 1e-9


def check_inward_buffer(radius_m: float, resolution_m: float | None = None) -> None:
    """InputError unless the inward buffer is 0..MAX_INWARD_BUFFER_M metres and, on a label raster of
    ``resolution_m`` metres, at most MAX_BUFFER_PIXELS pixels (the erosion's disk grows with its area)."""
    if not 0 <= radius_m <= MAX_INWARD_BUFFER_M:
        raise InputError(
            f"--buffer-m {radius_m:g} is outside 0..{MAX_INWARD_BUFFER_M:g} m (the inward buffer needs radius >= 0 "
            f"and at most {MAX_INWARD_BUFFER_M:g} m); use 0 (no buffer) up to "
            f"{MAX_INWARD_BUFFER_M:g} (paper: {INWARD_BUFFER_M:g})"
        )
    if resolution_m is None:
        return
    if not resolution_m > 0:
        raise InputError(f"the label raster's pixel size {resolution_m} m must be positive; check its transform")
    if radius_m / resolution_m > MAX_BUFFER_PIXELS:
        raise InputError(
            f"--buffer-m {radius_m:g} is {radius_m / resolution_m:,.0f} pixels of the {resolution_m:g} m label raster, "
            f"above {MAX_BUFFER_PIXELS}; use at most --buffer-m {MAX_BUFFER_PIXELS * resolution_m:g}"
        )


def inward_buffer(labels: np.ndarray, radius_m: float, resolution_m: float, *, nodata: int = 0) -> np.ndarray:
    """Erode every class region of a label grid by ``radius_m`` (METHOD.md "Sampling", step 1).

    ``labels`` (H, W) int codes, ``nodata`` the no-label code; pixel size ``resolution_m`` metres.
    A pixel keeps its label only if every pixel whose centre lies within ``radius_m`` (a disk) has
    the same label; other pixels become ``nodata``. Returns (H, W), same dtype.

    The disk is judged only on pixels inside the grid: a label raster is a window cut from a larger
    map, and the window border is not a field edge. (Edge-replicating min/max filters do exactly
    this, because the nearest in-grid pixel of an outside point is no farther from the centre.)
    """
    labels = np.asarray(labels)
    check_inward_buffer(radius_m, resolution_m)
    footprint = disk_footprint(radius_m / resolution_m)
    # min == max over the disk <=> all labels in the disk are equal: two filters, whatever the class count
    low = ndimage.minimum_filter(labels, footprint=footprint, mode="nearest")
    high = ndimage.maximum_filter(labels, footprint=footprint, mode="nearest")
    return np.where((low == high) & (labels != nodata), labels, np.asarray(nodata, dtype=labels.dtype))


def _local_xy(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """(n, 2) metres east/north of (lon0, lat0), local equirectangular approximation."""
    x = (lon - lon0) * METRES_PER_DEGREE * np.cos(np.radians(lat0))
    y = (lat - lat0) * METRES_PER_DEGREE
    return np.stack([x, y], axis=1)


def _greedy_spaced(xy: np.ndarray, fixed: np.ndarray, spacing_m: float, limit: int) -> list[int]:
    """Indices into ``xy`` (in the given order) kept greedily at >= spacing_m from all kept and ``fixed``.

    A hash of spacing-sized buckets makes each test O(1); stops after ``limit`` kept points.
    """
    buckets: dict[tuple[int, int], list[np.ndarray]] = {}

    def key(p: np.ndarray) -> tuple[int, int]:
        return int(np.floor(p[0] / spacing_m)), int(np.floor(p[1] / spacing_m))

    for p in fixed:
        buckets.setdefault(key(p), []).append(p)
    kept: list[int] = []
    min_sq = spacing_m * spacing_m * (1 - 1e-9)
    for i, p in enumerate(xy):
        if len(kept) >= limit:
            break
        kx, ky = key(p)
        near = [q for dx in (-1, 0, 1) for dy in (-1, 0, 1) for q in buckets.get((kx + dx, ky + dy), ())]
        if near and (((np.asarray(near) - p) ** 2).sum(axis=1) < min_sq).any():
            continue
        buckets.setdefault((kx, ky), []).append(p)
        kept.append(i)
    return kept


def grid_sample(
    lon: np.ndarray, lat: np.ndarray, candidates: np.ndarray, rules: SamplingRules = PAPER_RULES
) -> np.ndarray:
    """Random, spaced samples per WGS84 grid cell (METHOD.md "Sampling", step 3, as ``rules`` say).

    ``lon``, ``lat`` degrees and ``candidates`` bool, all of one shape (e.g. (H, W)). Per
    ``cell_deg`` x ``cell_deg`` cell, candidates are visited in a seeded random order and kept when
    at least ``spacing_m`` metres from every sample kept so far, in this cell and its 8 neighbours,
    until ``per_cell`` are kept. Returns sorted int64 indices into the flattened arrays.
    Same inputs and seed -> same samples; each cell draws from its own seeded stream.
    """
    cell_deg, spacing_m, per_cell, seed = rules.cell_deg, rules.spacing_m, rules.per_cell, rules.seed
    if per_cell < 1 or spacing_m < 0 or cell_deg <= 0:
        raise InputError(
            f"grid sampling needs per_cell >= 1, spacing >= 0 m and cell > 0 deg, got "
            f"{per_cell}, {spacing_m}, {cell_deg}; use e.g. --per-cell 5 --spacing-m 60"
        )
    lon, lat = np.ravel(lon).astype(np.float64), np.ravel(lat).astype(np.float64)
    index = np.flatnonzero(np.ravel(candidates))
    if index.size == 0:
        return index.astype(np.int64)
    cell_x = np.floor(lon[index] / cell_deg).astype(np.int64)
    cell_y = np.floor(lat[index] / cell_deg).astype(np.int64)
    # one int64 key per cell (1-D unique/sort is much faster than unique over rows)
    x0, y0 = int(cell_x.min()), int(cell_y.min())
    height = int(cell_y.max()) - y0 + 1
    key = (cell_x - x0) * height + (cell_y - y0)
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    by_cell = np.split(index[order], starts[1:])
    kept_by_cell: dict[tuple[int, int], np.ndarray] = {}
    chosen: list[np.ndarray] = []
    for k, members in zip(keys, by_cell):
        cx, cy = int(k // height) + x0, int(k % height) + y0
        rng = np.random.default_rng([seed, cx + 2**31, cy + 2**31])
        members = members[rng.permutation(members.size)]
        lon0, lat0 = (cx + 0.5) * cell_deg, (cy + 0.5) * cell_deg
        neighbours = [
            kept_by_cell[(cx + dx, cy + dy)]
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            if (cx + dx, cy + dy) in kept_by_cell
        ]
        fixed = np.concatenate(neighbours) if neighbours else np.empty(0, dtype=np.int64)
        if spacing_m > 0:
            picked = _greedy_spaced(
                _local_xy(lon[members], lat[members], lon0, lat0),
                _local_xy(lon[fixed], lat[fixed], lon0, lat0),
                spacing_m,
                per_cell,
            )
            members = members[picked]
        else:
            members = members[:per_cell]
        kept_by_cell[(cx, cy)] = members
        chosen.append(members)
    return np.sort(np.concatenate(chosen)).astype(np.int64)


ERODE_BY = ("class", "code")


def sample_class_grid(
    patch: RawStack,
    classes: np.ndarray,
    class_list: tuple[str, ...],
    rules: SamplingRules = PAPER_RULES,
    *,
    region: str = "",
    n_labelled: int | None = None,
) -> SampleSeries:
    """Steps 2-3 of METHOD.md "Sampling" on an (H, W) grid of class indices into ``class_list``
    (NO_CLASS = no label, already buffered): clear-data filter, then grid sampling."""
    clear = clear_mask(patch.cloud, patch.cloud_kind) & (patch.dn != 0).all(axis=-1)
    candidates = (classes != NO_CLASS) & clear.any(axis=0)  # METHOD.md step 2: label and clear data
    if not candidates.any():
        n_labelled = int((classes != NO_CLASS).sum()) if n_labelled is None else n_labelled
        raise InputError(
            f"no labelled pixel with clear data is left in {patch.name} after the "
            f"{rules.buffer_m:g} m inward buffer ({n_labelled} labelled before it); "
            "pass a smaller --buffer-m (e.g. 20) or a larger label raster"
        )
    lon, lat = patch.lonlat()
    index = grid_sample(lon, lat, candidates, rules)
    rows, cols = np.unravel_index(index, patch.shape)
    names = np.asarray(class_list, dtype=object)[classes[rows, cols]]
    series = patch_pixels(patch, rows, cols, crop_class=names, region=region)
    series.classes = tuple(class_list)
    return with_season_years(series)  # each sample's season year, from its own dates


def sample_local_stack(
    patch: RawStack,
    rules: SamplingRules = PAPER_RULES,
    *,
    region: str = "",
    legend: Legend | dict | str | Path | None = None,
    nodata: int = 0,
    erode_by: str = "class",
) -> SampleSeries:
    """Sample a labelled stack like the Earth Engine path: buffer, clear-data filter, grid sampling.

    ``patch.labels`` (H, W) holds the reference product's codes (``nodata`` = no label), mapped to
    classes by ``legend`` (a Legend, dict, CSV path, or None = WorldCereal legacy crop types; see
    :meth:`gee_crop.classes.Legend.of`); the table's class list is the legend's. ``erode_by="class"``
    (default) erodes the class regions, as the Earth Engine path does; ``"code"`` erodes the product's own
    classes (also drops edges between two crops that both map to 'other').
    Returns one sample per drawn pixel with all its raw dates and its season year inferred from
    them (``season_year``); ``extra`` holds ``row``, ``col`` and ``source_code``.
    """
    labelled = label_classes(patch, rules.buffer_m, legend=legend, nodata=nodata, erode_by=erode_by)
    return sample_class_grid(
        patch, labelled.classes, labelled.class_list, rules, region=region, n_labelled=labelled.n_labelled
    )


def label_classes(
    patch: RawStack,
    buffer_m: float,
    *,
    legend: Legend | dict | str | Path | None = None,
    nodata: int = 0,
    erode_by: str = "class",
) -> LabelledStack:
    """The stack's label raster (``patch.labels``, ``nodata`` = no label) read with ``legend`` into classes
    and eroded by ``buffer_m`` (METHOD.md "Sampling", step 1; ``erode_by`` as :func:`sample_local_stack`)."""
    if patch.labels is None:
        raise InputError(
            f"stack {patch.name} has no label raster; pass one with --labels "
            "(a GeoTIFF or the patch's OUTPUT_*_10m_*.nc on the stack's grid)"
        )
    if erode_by not in ERODE_BY:
        raise InputError(f"erode_by {erode_by!r} is not one of {', '.join(ERODE_BY)}")
    read_as = Legend.of(legend).excluding(nodata)
    if erode_by == "class":
        classes = inward_buffer(read_as.indices(patch.labels), buffer_m, patch.resolution, nodata=NO_CLASS)
    else:
        classes = read_as.indices(inward_buffer(patch.labels, buffer_m, patch.resolution, nodata=nodata))
    return LabelledStack(patch, classes, read_as.classes, int((patch.labels != nodata).sum()))


def rasterize_features(features: LabelFeatures, patch: RawStack, buffer_m: float) -> np.ndarray:
    """(H, W) int64 class indices of vector labels on the stack's grid (NO_CLASS elsewhere): polygons
    burnt at the pixel centres they hold and eroded by ``buffer_m``, points burnt into the pixel they
    fall in, not eroded. InputError when no label falls on the stack."""
    from rasterio import Affine
    from rasterio.features import rasterize

    in_crs = np.array([reproject_geometry(g, WGS84, patch.crs) for g in features.geometries], dtype=object)
    points = features.is_point
    shape, transform = patch.shape, Affine(*patch.transform)

    def burn(mask: np.ndarray) -> np.ndarray:
        shapes = [(g, int(c)) for g, c in zip(in_crs[mask], features.classes[mask])]
        if not shapes:
            return np.full(shape, NO_CLASS, dtype=np.int64)
        return rasterize(shapes, out_shape=shape, transform=transform, fill=NO_CLASS, dtype="uint8").astype(np.int64)

    polygons, at_points = burn(~points), burn(points)
    if (polygons == NO_CLASS).all() and (at_points == NO_CLASS).all():
        w, s, e, n = features.bounds
        raise InputError(
            f"none of the labels of {features.source} (lon {w:.4f}..{e:.4f}, lat {s:.4f}..{n:.4f}) "
            f"falls on the stack {patch.name}; give labels of the stack's area"
        )
    buffered = inward_buffer(polygons, buffer_m, patch.resolution, nodata=NO_CLASS)
    return np.where(buffered != NO_CLASS, buffered, at_points)


def _stack_folder(source: Path) -> Path:
    if not source.exists():
        raise InputError(
            f"stack {source} does not exist; give the patch folder (S2_L2A_10m_*.nc and "
            "S2_L2A_20m_*.nc) or one of its NetCDF files"
        )
    if source.is_file():
        if source.suffix.lower() != ".nc":
            raise InputError(f"{source} is not a NetCDF patch file; give the patch folder or one of its .nc files")
        return source.parent
    return source


@dataclasses.dataclass(frozen=True)
class LabelledStack:
    """A local stack with its labels read into classes: ``classes`` (H, W) int64 indices into ``class_list``
    (NO_CLASS where unlabelled or buffered away); ``n_labelled`` pixels held a label before the buffer."""

    stack: RawStack
    classes: np.ndarray
    class_list: tuple[str, ...]
    n_labelled: int


def stack_classes(
    source: str | Path,
    labels: str | Path | None = None,
    buffer_m: float = INWARD_BUFFER_M,
    *,
    legend: Legend | dict | str | Path | None = None,
    erode_by: str = "class",
    label_field: str | None = None,
) -> LabelledStack:
    """A local stack (patch folder, or a NetCDF file inside one) with the class grid of its labels.

    ``labels``: a GeoTIFF or label NetCDF on exactly the stack's grid, or vector labels (GeoJSON,
    GeoPackage, Shapefile: points or polygons, ``label_field`` holding the label value, rasterized
    onto the stack's grid); None uses the patch's own label file. Codes are read with ``legend``: a
    Legend, a dict, a CSV ``code,gee_crop_class`` or None for the WorldCereal legacy crop types (see
    :meth:`gee_crop.classes.Legend.of`). Polygons and rasters get the ``buffer_m`` inward buffer.
    """
    source = Path(source)
    if labels is not None and is_vector_file(labels):
        if not label_field:
            raise InputError(f"vector labels {labels} need --label-field NAME (the field holding each label)")
        patch = read_patch(_stack_folder(source), with_labels=False)
        features = read_label_features(labels, label_field, Legend.of(legend))
        classes = rasterize_features(features, patch, buffer_m)
        return LabelledStack(patch, classes, features.legend.classes, int((classes != NO_CLASS).sum()))
    patch = read_patch(_stack_folder(source), with_labels=labels is None)
    nodata = 0
    if labels is not None:
        raster = read_label_raster(labels)
        check_same_grid(raster, patch, labels)
        patch = dataclasses.replace(patch, labels=raster.codes, label_source=raster.source)
        nodata = raster.nodata
    return label_classes(patch, buffer_m, legend=legend, nodata=nodata, erode_by=erode_by)


def sample_from_files(
    source: str | Path,
    labels: str | Path | None = None,
    rules: SamplingRules = PAPER_RULES,
    *,
    region: str = "",
    legend: Legend | dict | str | Path | None = None,
    erode_by: str = "class",
    label_field: str | None = None,
) -> SampleSeries:
    """Read a local stack and its labels (:func:`stack_classes`) and sample it (METHOD.md "Sampling")."""
    labelled = stack_classes(source, labels, rules.buffer_m, legend=legend, erode_by=erode_by, label_field=label_field)
    return sample_class_grid(
        labelled.stack, labelled.classes, labelled.class_list, rules, region=region, n_labelled=labelled.n_labelled
    )
