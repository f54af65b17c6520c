"""Composite cubes from Earth Engine (``gee-crop cube --region AOI --labels FILE_OR_ASSET``): ``map``'s
server composite of the region with the user's labels painted as one more band
(:mod:`gee_crop.earthengine.cube`), read block by block into the same resumable Zarr store as the local
route (:func:`gee_crop.mapping.cube_build.write_cube`).

Each block is ONE computePixels request of ``10 x n_bins`` composite bands and the label band, uint16
(the cube's own encoding: no decoding, bit-identical to the local route's DN), sent through the map's
bounded queue (:func:`gee_crop.mapping.overlap.run_overlapped`: at most ``in_flight`` requests at once,
capped at the client's 40, the project's concurrent-request quota,
https://developers.google.com/earth-engine/guides/usage). Not through xee: xee reads one band (variable)
per request and stacks a collection's images along time (:mod:`gee_crop.mapping.cubes`), so a block would
cost 11 requests (10 bands + labels) instead of one, the label band could not share the composite's
request, and its resumable unit would be a Dask chunk rather than a ledgered block. A block of ``block_px``
pixels asks for ``block_px^2 x (10 n_bins + 1) x 2`` bytes: 3.4 MiB at the default 64 px and 43 bins,
far under what computePixels answers ("Requests are limited to 48MB in uncompressed data per request ...
and at most 1024 bands", https://developers.google.com/earth-engine/reference/rest/v1/projects.image/computePixels);
larger blocks, or more bands, are refused before any request (:func:`plan_ee_cube`).
Blocks without a label (inline labels: known on the client) are not requested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import ee
import numpy as np
import shapely

from gee_crop.classes import NO_CLASS
from gee_crop.config import S2_COLLECTION, Encoding
from gee_crop.data.cube import CubeInfo
from gee_crop.data.regions import WGS84, reproject_geometry, utm_crs_for
from gee_crop.earthengine.client import MAX_CONCURRENT_REQUESTS, REQUEST_PAYLOAD_LIMIT
from gee_crop.earthengine.cube import check_block_request, cube_band_names, labelled_composite, own_label_image
from gee_crop.earthengine.labels import POINT_TYPES, inline_payload_bytes
from gee_crop.earthengine.sampling import OwnLabels
from gee_crop.errors import InputError
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.cube_build import CubeSummary, info_on_grid, write_cube
from gee_crop.mapping.sources import EarthEngineSource, PixelClient, decode_pixels, tile_footprint
from gee_crop.mapping.tiling import DEFAULT_SCALE_M, EE_REQUEST_LIMIT_BYTES, OutputGrid, Tile, grid_for_region
from gee_crop.sensors import SENTINEL2

#: Bytes of one value of a block request (uint16).
VALUE_BYTES = 2
#: Bands one computePixels request may return (the computePixels page, see the module docstring).
MAX_REQUEST_BANDS = 1024


@dataclass(frozen=True)
class EarthEngineCube:
    """An Earth Engine cube: the region (WGS84), the user's labels (inline polygons or a table asset), their
    inward buffer (m) and the cube's layout (:class:`CubeInfo`: contract, season, grid, blocks)."""

    region: shapely.Geometry
    labels: OwnLabels
    buffer_m: float
    info: CubeInfo

    @property
    def grid(self) -> OutputGrid:
        return OutputGrid(self.info.crs, cast(Any, self.info.transform), self.info.width, self.info.height)

    @property
    def n_blocks(self) -> int:
        return self.info.blocks[0] * self.info.blocks[1]

    @property
    def band_names(self) -> list[str]:
        return cube_band_names(self.info.n_bins)

    def tile(self, block: int) -> Tile:
        rows, cols = self.info.block_window(block)
        return Tile(rows.start, cols.start, rows.stop - rows.start, cols.stop - cols.start)

    def label_area(self, block: int) -> shapely.Geometry:
        """WGS84 area whose labels can reach the block: the block grown by the buffer and a pixel."""
        grid = self.grid
        grown = self.tile(block).bounds_geometry(grid).buffer(self.buffer_m + grid.scale, join_style="mitre")
        return reproject_geometry(shapely.segmentize(grown, 16 * grid.scale), grid.crs, WGS84)

    def block_labels(self, block: int) -> np.ndarray | None:
        """Indices of the inline label features the block's request carries (None: a table asset)."""
        if self.labels.geometries is None:
            return None
        return np.flatnonzero(shapely.intersects(self.labels.geometries, self.label_area(block)))

    def requested(self) -> list[int]:
        """The blocks that are requested: those with a label (every block for a table asset)."""
        return [b for b in range(self.n_blocks) if (found := self.block_labels(b)) is None or len(found)]

    def request_bytes(self, block: int) -> int:
        """Bytes of the block's answer: its pixels x (10 x n_bins + 1) uint16 values."""
        return self.tile(block).n_pixels * len(self.band_names) * VALUE_BYTES

    def image(self, client: object, block: int) -> ee.Image:
        """The block's graph: ``map``'s uint16 composite over the block with the labels painted beside it."""
        grid = self.grid
        region = reproject_geometry(self.region, WGS84, grid.crs)
        source = EarthEngineSource(client, encoding=Encoding.UINT16)
        composite = source.image(tile_footprint(grid, self.tile(block), region), self.info.spec, self.info.season)
        area = self.label_area(block)
        parcels = self.labels.collection(area.bounds, ee.Geometry(shapely.geometry.mapping(area)))
        return labelled_composite(composite, own_label_image(parcels, grid.crs, grid.scale, self.buffer_m))

    def read_block(self, client: PixelClient, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dn (h, w, 10, n_bins) uint16, labels (h, w) uint8, class counts) of one block: one request, or
        none for a block without labels. A pixel is kept where it has a class and a valid composite."""
        tile, info = self.tile(block), self.info
        n_classes = len(info.spec.classes)
        found = self.block_labels(block)
        if found is not None and not len(found):
            empty = np.zeros((tile.height, tile.width, len(SENTINEL2.bands), info.n_bins), dtype=np.uint16)
            return empty, np.full((tile.height, tile.width), NO_CLASS, np.uint8), np.zeros(n_classes, np.int64)
        image, grid = self.image(client, block), tile.ee_grid(self.grid)
        check_block_request(image, grid, self.labels.source)
        pixels = client.compute_pixels(image, grid, self.band_names)
        dn = decode_pixels(pixels, info.n_bins, Encoding.UINT16)
        labels = pixels[self.band_names[-1]]
        keep = (labels < n_classes) & (dn != 0).all(axis=(2, 3))
        dn[~keep] = 0
        out = np.where(keep, labels, NO_CLASS).astype(np.uint8)
        return dn, out, np.bincount(out[keep], minlength=n_classes)


def plan_ee_cube(
    region: shapely.Geometry, labels: OwnLabels, *, buffer_m: float, year: int | None, block_px: int
) -> EarthEngineCube:
    """The cube of ``region`` (WGS84) and ``labels``: the paper's season of ``year`` at the region's
    latitude, on the UTM 10 m grid ``map`` would cut there; every input checked, nothing sent."""
    if year is None:
        raise InputError("a cube from Earth Engine needs the season year; pass --year, e.g. --year 2023")
    if labels.geometries is not None:
        kinds = shapely.get_type_id(labels.geometries)
        points = np.isin(kinds, [shapely.GeometryType.POINT, shapely.GeometryType.MULTIPOINT])
        if points.any():
            raise InputError(
                f"{labels.source} holds {int(points.sum())} point labels ({'/'.join(POINT_TYPES)}); a cube from "
                "Earth Engine paints polygons only: give parcels, or sample points with `gee-crop sample`"
            )
    spec = FeatureSpec(classes=labels.legend.classes)
    latitude = float(region.centroid.y)
    season = spec.season.span_at(int(year), latitude)
    EarthEngineSource(None).check_season(spec, season, latitude)
    values = len(SENTINEL2.bands) * season.n_bins + 1
    if values > MAX_REQUEST_BANDS:
        raise InputError(
            f"the season has {season.n_bins} windows: {values} bands a request, more than the {MAX_REQUEST_BANDS} "
            "computePixels returns; use longer windows (a season with fewer windows)"
        )
    largest = block_px * block_px * values * VALUE_BYTES
    if largest > EE_REQUEST_LIMIT_BYTES:
        fit = int((EE_REQUEST_LIMIT_BYTES / (values * VALUE_BYTES)) ** 0.5)
        raise InputError(
            f"--block-px {block_px} asks Earth Engine for {largest / 2**20:.1f} MiB a request, more than the "
            f"{EE_REQUEST_LIMIT_BYTES / 2**20:.0f} MiB computePixels answers; use --block-px {fit} or less"
        )
    grid = grid_for_region(region, crs=utm_crs_for(region), scale=DEFAULT_SCALE_M)
    source = f"Earth Engine composite ({S2_COLLECTION}, Cloud Score+ cs, uint16) with labels {labels.source}"
    info = info_on_grid(spec, int(year), season, grid, block_px, source)
    return EarthEngineCube(region, labels, float(buffer_m), info)


def ee_cube_plan_lines(cube: EarthEngineCube, in_flight: int = MAX_CONCURRENT_REQUESTS) -> list[str]:
    """``gee-crop cube --region --dry-run``: the requests, pixels and bytes of the run (no credentials)."""
    info, grid = cube.info, cube.grid
    requested = cube.requested()
    n_pixels = sum(cube.tile(b).n_pixels for b in requested)
    n_bytes = sum(cube.request_bytes(b) for b in requested)
    largest = max((cube.request_bytes(b) for b in requested), default=0)
    lines = [
        f"season {info.season.start} to {info.season.end} ({info.n_bins} windows of {info.season.window_days} days); "
        f"grid {grid.width} x {grid.height} px of {grid.scale:g} m in {grid.crs}; {cube.n_blocks} blocks of "
        f"{info.block_px} px",
        f"requests: {len(requested)} computePixels (one per block with labels; {len(cube.band_names)} uint16 bands: "
        f"{len(SENTINEL2.bands)} x {info.n_bins} composite + labels), up to {in_flight} in flight "
        f"(Earth Engine allows {MAX_CONCURRENT_REQUESTS} per project)",
        f"pixels: {n_pixels:,} requested; bytes: {n_bytes:,} ({n_bytes / 2**20:.1f} MiB) in all, "
        f"{largest / 2**20:.1f} MiB the largest answer (computePixels answers up to "
        f"{EE_REQUEST_LIMIT_BYTES / 2**20:.0f} MiB)",
    ]
    if cube.labels.geometries is None:
        lines.append(f"labels: table asset {cube.labels.source}, filtered to each block on the server")
    else:
        per_block = [cube.block_labels(b) for b in requested]
        heaviest = max((inline_payload_bytes(cube.labels.geojson(_mask(f, cube))) for f in per_block), default=0)
        lines.append(
            f"labels: {len(cube.labels.geometries)} polygons of {cube.labels.source} sent inside the requests; the "
            f"largest block carries {heaviest:,} bytes of GeoJSON (a request body may hold {REQUEST_PAYLOAD_LIMIT:,})"
        )
    lines.append("no credentials needed for this plan; the run needs them (`earthengine authenticate`)")
    return lines


def _mask(found: np.ndarray | None, cube: EarthEngineCube) -> np.ndarray:
    assert found is not None and cube.labels.geometries is not None, "inline labels"
    keep = np.zeros(len(cube.labels.geometries), bool)
    keep[found] = True
    return keep


def build_ee_cube(
    cube: EarthEngineCube,
    client: PixelClient,
    out: str,
    *,
    in_flight: int = MAX_CONCURRENT_REQUESTS,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
) -> CubeSummary:
    """Write ``cube`` to ``out`` from Earth Engine through ``client`` (resumable; the caller holds the lock)."""
    cap = int(getattr(client, "max_concurrent", MAX_CONCURRENT_REQUESTS))
    return write_cube(
        cube.info,
        out,
        lambda block: cube.read_block(client, block),
        name=f"{cube.labels.source} on Earth Engine",
        overwrite=overwrite,
        echo=echo,
        in_flight=max(1, min(int(in_flight), cap)),
    )
