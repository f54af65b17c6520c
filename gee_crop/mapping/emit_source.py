"""EMIT maps (docs/emit.md, "Maps"): the source of a map made with a model of EMIT monthly medians.

Each tile is one computePixels request (through the client) of :func:`gee_crop.earthengine.emit.map_composite`:
the medians of the model's months of its bands (the EMIT sensor's kept bands, by name), month-major as the
model was trained on them (``data.emit_table.emit_features``), float32, and a band that says where every month
is clear. The grid is the EMIT 60 m grid on the region's UTM zone. Where EMIT has no clear pixel in every
month, the pixel is not valid, and the map is nodata there (:func:`coverage_note` says how much). The source
takes the model's sensor whole, so a model of another sensor's monthly medians maps from its own composite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import ee
import numpy as np
import shapely
from numpy.lib.recfunctions import structured_to_unstructured

from gee_crop.earthengine.emit import CLEAR_BAND, check_observed, map_band_names, map_composite
from gee_crop.errors import InputError, ModelFileError
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.sources import (
    CompositeRequest,
    EarthEngineGrid,
    EarthEngineSource,
    FeatureSource,
    PixelClient,
    TileComposite,
    tile_footprint,
)
from gee_crop.mapping.tiling import Tile, max_ee_tile_size
from gee_crop.season import SeasonSpan
from gee_crop.sensors import EMIT, SENTINEL2, Sensor

#: float32 values travel as 4 bytes (computePixels answers a structured float32 array).
VALUE_BYTES = 4
#: float32 copies of a pixel's values held at once in a tile (the answer, its unstructured copy, the model input).
_WORKING_COPIES = 3


@dataclass
class SpectraComposite(TileComposite):
    """Model input of one EMIT tile: ``values`` (h, w, months x bands) float32 reflectance, month-major."""

    def reflectance(self, values: np.ndarray | None = None) -> np.ndarray:
        """(n, months x bands) float32 reflectance of ``values`` (rows of :meth:`valid_values`; default all)."""
        values = self.valid_values() if values is None else values
        return np.asarray(values, dtype=np.float32)


@dataclass
class EmitSource(EarthEngineGrid):
    """The EMIT monthly medians of an EMIT model's ``months`` and ``bands`` for ``year`` on Earth Engine."""

    client: object
    months: tuple[int, ...]
    bands: tuple[str, ...]
    year: int | None = None
    sensor: Sensor = EMIT

    @property
    def band_names(self) -> list[str]:
        """The bands of each request: the model's input, month-major, then the clear band."""
        return map_band_names(self.months, self.bands)

    @property
    def months_text(self) -> str:
        return " and ".join(f"{self.year}-{m:02d}" for m in self.months)

    @property
    def description(self) -> str:
        return (
            f"Earth Engine {self.sensor.label} monthly medians ({self.sensor.collection}, months {list(self.months)})"
        )

    def default_scale(self) -> float:
        return self.sensor.resolution_m

    def tile_size_limit(self, values_per_pixel: int) -> int:
        """Largest tile whose float32 answer (values, the clear band, a mask byte each) fits one computePixels
        request (48 MiB)."""
        return max_ee_tile_size(len(self.band_names), bytes_per_value=VALUE_BYTES)

    def infer_year(self, spec: FeatureSpec, latitude: float) -> int:
        raise InputError(f"an {self.sensor.label} map needs the year of its months; pass --year, e.g. --year 2023")

    def check_season(self, spec: FeatureSpec, season: SeasonSpan, latitude: float) -> None:
        """Nothing to check before a request: where EMIT has no clear month, the map says so after."""

    def bytes_per_pixel(self, season: SeasonSpan) -> int:
        return len(self.band_names) * (VALUE_BYTES + 1 + VALUE_BYTES * _WORKING_COPIES)

    def request_bytes(self, tile: Tile, season: SeasonSpan) -> int:
        return tile.n_pixels * len(self.band_names) * VALUE_BYTES

    def read_tile(self, tile: Tile, request: CompositeRequest) -> TileComposite:
        """The tile's medians: one request, valid where every month is clear."""
        assert self.year is not None, "plan_job asks infer_year for a missing --year"
        region = ee.Geometry(shapely.geometry.mapping(tile_footprint(request.grid, tile, request.region)))
        names = self.band_names
        client = cast(PixelClient, self.client)
        pixels = client.compute_pixels(
            map_composite(region, self.year, self.months, self.bands, self.sensor), tile.ee_grid(request.grid), names
        )
        values = structured_to_unstructured(pixels[names[:-1]]).astype(np.float32, copy=False)
        valid = pixels[CLEAR_BAND] == 1
        return SpectraComposite(values, valid, bytes_fetched=pixels.nbytes)

    def empty_message(self) -> str:
        """Why a map of this source classified nothing, and the fix."""
        return (
            f"{self.sensor.label} has no clear pixel in every month of {self.months_text} over the region "
            f"({self.sensor.mask_band} 1 or no acquisition); no map was written: map a region and --year that "
            f"{self.sensor.label} observed in those months"
            + (" (EMIT images arid and agricultural belts, not everywhere)" if self.sensor == EMIT else "")
            + ", or use a model of fewer months"
        )

    def coverage_note(self, classified: int, region_pixels: int) -> str | None:
        """The one-line warning of a map that EMIT covers in part (None when it covers the whole region)."""
        if region_pixels == 0 or classified >= region_pixels:
            return None
        share = 100 * (1 - classified / region_pixels)
        return (
            f"warning: {share:.1f} % of the region has no clear {self.sensor.label} pixel in every month of "
            f"{self.months_text}: "
            "nodata there in map.tif"
        )


def source_for_model(source: FeatureSource, contract: FeatureSpec, year: int | None) -> FeatureSource:
    """The source a model maps from: ``source`` for a Sentinel-2 model (S2+EMIT included); for a model of another
    sensor's monthly medians (EMIT's), that sensor's medians of its months on the same Earth Engine client
    (InputError for a local stack or a cropland mask)."""
    sensor = contract.sensor
    if sensor == SENTINEL2:
        return source
    if not isinstance(source, EarthEngineSource):
        raise InputError(
            f"an {sensor.label} model maps from {sensor.label} on Earth Engine; give --region (or --bbox) instead "
            "of a local --source"
        )
    if source.cropland_only:
        raise InputError(f"--cropland-mask is not applied to {sensor.label} maps; drop it")
    if not contract.months:
        raise ModelFileError(
            f"the {sensor.label} model names no month; retrain it with `gee-crop train --features emit_june_august`"
        )
    if year is not None:
        check_observed(sensor, year, contract.months)  # before any request: those medians would be empty
    return EmitSource(source.client, contract.months, contract.bands, year, sensor)
