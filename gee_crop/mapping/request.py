"""What ``gee-crop map`` is asked to do, as one frozen :class:`MapRequest` built once by the command.

The run and its ``--dry-run`` take the same request and hand its :class:`MapSettings` whole to the
engine (:func:`gee_crop.mapping.engine.run_map`, :func:`~gee_crop.mapping.engine.plan_map`), so an
option cannot be dropped on one path. Mode-like options are str Enums (``gee_crop.config``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeVar

import shapely

from gee_crop.config import CloudBand, Encoding, Precision, Scheduler, SourceKind
from gee_crop.earthengine.tasks import ASSET_EXPORTS, ExportTarget
from gee_crop.errors import InputError
from gee_crop.mapping.cleaning import check_cleaning
from gee_crop.mapping.cluster import scheduler_of
from gee_crop.mapping.sources import FeatureSource, RasterClassMask, open_source
from gee_crop.models.io import ModelLike
from gee_crop.models.predict import DEFAULT_BATCH_SIZE

E = TypeVar("E", bound=Enum)


def _choice(enum: type[E], value: E | str, option: str) -> E:
    """``value`` as a member of ``enum``; InputError naming the choices."""
    try:
        return enum(value)
    except ValueError:
        raise InputError(f"--{option} {value!r} is not one of {', '.join(m.value for m in enum)}") from None


@dataclass(frozen=True)
class MapSettings:
    """How a map is made: everything the engine decides with, the same for the run and its dry run."""

    region: shapely.Geometry | None = None
    """The area to map (WGS84); None: the source's footprint."""
    year: int | None = None
    """The season year; None: the season the local stack covers best (Earth Engine needs it)."""
    crs: str | None = None
    """Output CRS; None: the stack's, or the region's UTM zone."""
    scale: float | None = None
    """Output pixel size in CRS units; None: the source's (10 m)."""
    tile_size: int | None = None
    """Tile side in pixels; None: 256 locally, the largest under the request limit on Earth Engine."""
    batch_size: int = DEFAULT_BATCH_SIZE
    """Pixels per inference call."""
    workers: int | None = None
    """Tiles processed at once; None: one per core (capped by memory)."""
    scheduler: Scheduler | str = Scheduler.LOCAL
    """An in-process Dask scheduler, or the address of a running one."""
    in_flight: int | None = None
    """Earth Engine requests kept in flight; None: DEFAULT_IN_FLIGHT where requests overlap."""
    probabilities: bool = False
    """Also write probabilities.tif."""
    max_gap_bins: int | None = None
    """Longest run of empty bins to interpolate; None: the model's training value."""
    providers: tuple[str, ...] = ()
    """onnxruntime execution providers; (): the best available."""
    precision: Precision = Precision.FP32
    """The torch back end's arithmetic (bf16 needs a model.pt)."""
    overwrite: bool = False
    """Replace a finished map in the output folder."""
    progress: bool = True
    """Show a progress bar."""
    mmu: float | None = None
    """Minimum mapping unit (hectares): map_clean.tif sieves smaller regions into their surroundings."""
    majority: int | None = None
    """Side (odd, >= 3) of the majority filter of map_clean.tif."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scheduler", scheduler_of(self.scheduler))
        object.__setattr__(self, "precision", _choice(Precision, self.precision, "precision"))
        object.__setattr__(self, "providers", tuple(self.providers or ()))
        check_cleaning(self.mmu, self.majority)


@dataclass(frozen=True)
class SourceRequest:
    """Where the composite comes from: a local raw S2 stack, or Earth Engine."""

    kind: SourceKind
    path: Path | None = None
    """The local stack (patch folder, NetCDF, Zarr or GeoTIFF)."""
    cropland_mask: bool = False
    """Classify only ESA WorldCover cropland."""
    worldcover: Path | None = None
    """A local WorldCover GeoTIFF (cropland mask of a local stack)."""
    cloud_band: CloudBand = CloudBand.CS
    """The Cloud Score+ band (Earth Engine)."""
    project: str | None = None
    """The Earth Engine project."""
    service_account_key: Path | None = None
    """A service account's JSON key (Earth Engine)."""
    encoding: Encoding = Encoding.SQRT8
    """How Earth Engine sends the composite."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _choice(SourceKind, self.kind, "source kind"))
        object.__setattr__(self, "cloud_band", _choice(CloudBand, self.cloud_band, "cloud-band"))
        object.__setattr__(self, "encoding", _choice(Encoding, self.encoding, "encoding"))

    def open(self, client: object | None = None) -> tuple[FeatureSource, RasterClassMask | None]:
        """The source (and the local cropland mask); ``client``: the Earth Engine client to use
        (None: connect with the project and key)."""
        return open_source(
            self.path,
            self.kind == SourceKind.EARTHENGINE,
            cropland_mask=self.cropland_mask,
            worldcover=self.worldcover,
            cloud_band=self.cloud_band,
            project=self.project,
            service_account_key=self.service_account_key,
            client=client,
            encoding=self.encoding,
        )


@dataclass(frozen=True)
class OnServer:
    """``--on-server``: the map is classified on Earth Engine by batch export tasks (``mapping.server_map``)."""

    name: str
    """The map's name in task descriptions and asset ids (a country code, a region file's stem)."""
    target: ExportTarget = ASSET_EXPORTS
    """Where the tasks write (image assets by default; GeoTIFFs on Cloud Storage or Drive)."""
    keep_on_server: bool = False
    """Leave the finished assets on Earth Engine instead of downloading them into map.tif."""


@dataclass(frozen=True)
class MapRequest:
    """One ``gee-crop map`` command: the model, the output folder, the source and the settings."""

    model: ModelLike
    """The model file (a path, or the shipped model the name resolved to), or that file already read once."""
    out_dir: Path
    source: SourceRequest
    settings: MapSettings
    dry_run: bool = False
    """Plan only: print the tiles, requests, bytes and times; fetch and write nothing."""
    pilot: int | None = None
    """Fetch this many of the run's tiles, profiled, and save their rates for the dry run (``--pilot N``)."""
    parcels: Path | None = None
    """Field polygons to summarise per parcel after the map (``--parcels``)."""
    min_parcel_pixels: int = 4
    """Parcels with fewer counted pixels are flagged ``small``."""
    on_server: OnServer | None = None
    """Classify on Earth Engine with batch tasks (``--on-server``) instead of fetching the composite."""
