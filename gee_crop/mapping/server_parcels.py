"""The parcel table of an on-server map (``gee-crop map --on-server --parcels``): no pixel comes home.

The parcels go to Earth Engine inside the request (a local file, read and checked as the local route
reads it, reprojected to the map's CRS) or as the user's table asset (``--parcels projects/.../assets/...``).
:func:`gee_crop.earthengine.parcels.parcel_reduction` reduces the classified composite, with its
probability bands, over them, on the map's grid; the result is one BATCH table export
(``Export.table.toAsset``, beside the map's image collection), one more unit of the map's task queue,
ledger and resume (:class:`ParcelExport`). Always batch, never interactive: the reduction computes the
composite and the classifier over every parcel pixel, the work of the map's own tiles, which a 5-minute
interactive request does not hold beyond a few km², and the export runs beside the tile exports, so it
adds no wait. The finished table (a histogram and a few means per parcel) is read back with
computeFeatures and written as the local route's ``parcels.csv`` / ``parcels.gpkg``; the flags ``small``,
``mostly_outside`` and ``overlaps`` are computed here from the geometry, as locally.

Inline parcels must fit the request (10,485,760 bytes, ``client.REQUEST_PAYLOAD_LIMIT``, less the margin of
``labels.REQUEST_MARGIN``): when they do not, they are simplified to :data:`SIMPLIFY_PIXELS` of a pixel
(well inside the erosion's margin of a pixel centre) and their coordinates rounded to :data:`ROUND_PIXELS`;
when that does not fit either, the run is refused before any task, naming the table-asset route.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ee
import numpy as np
import shapely

from gee_crop.config import ExportDestination
from gee_crop.data.regions import WGS84
from gee_crop.earthengine.client import REQUEST_PAYLOAD_LIMIT, is_asset_id, request_body_bytes
from gee_crop.earthengine.labels import REQUEST_MARGIN, inline_payload_bytes, upload_route
from gee_crop.earthengine.map_exports import map_collection
from gee_crop.earthengine.parcels import (
    FEATURE,
    exported_parcels,
    inline_parcels,
    is_server_property,
    parcel_reduction,
    parcel_rows,
)
from gee_crop.earthengine.sampling import DESCRIPTION_MAX, safe_stem
from gee_crop.errors import InputError
from gee_crop.ledger import RunLedger
from gee_crop.mapping.parcels import (
    DEFAULT_MIN_PIXELS,
    Parcels,
    checked_parcels,
    flag_columns,
    on_grid,
    overlapping,
    parcel_fields,
    write_parcel_table,
)
from gee_crop.mapping.tiling import OutputGrid

#: simplification tolerance of inline parcels that do not fit the request, in pixels: a pixel centre
#: moves across an edge only where the edge passes within 0.05 px of it
SIMPLIFY_PIXELS = 0.05
#: coordinate rounding of inline parcels that do not fit the request, in pixels (1 mm at 10 m: under the
#: erosion's 1e-3 px margin, ``earthengine.parcels.ERODE_PIXELS``)
ROUND_PIXELS = 1e-4
PARCELS_ROUTE = upload_route("--parcels", "parcels")


@dataclass(frozen=True)
class ServerParcels:
    """The parcels of ``--on-server --parcels``: a local file's, read and checked (``local``), or a table
    asset's (``local`` None, ``source`` its id)."""

    source: str
    local: Parcels | None
    min_pixels: int = DEFAULT_MIN_PIXELS


def server_parcels(
    path: str | Path | None, region: shapely.Geometry | None, min_pixels: int = DEFAULT_MIN_PIXELS
) -> ServerParcels | None:
    """The parcels of ``--parcels`` (None: none given): a table asset id as it is, a file read and checked
    against ``region`` (WGS84) as the local route does (:func:`~gee_crop.mapping.parcels.checked_parcels`)."""
    if path is None:
        return None
    if is_asset_id(path):
        return ServerParcels(str(path), None, min_pixels)
    return ServerParcels(str(path), checked_parcels(path, region), min_pixels)


@dataclass(frozen=True)
class ParcelExport:
    """The parcel table of an on-server map as one batch table export: one unit of the map's task queue."""

    parcels: ServerParcels
    table: ee.FeatureCollection
    """The reduced parcels to export (:func:`~gee_crop.earthengine.parcels.exported_parcels`)."""
    geoms: np.ndarray | None
    """The local parcels in the map's CRS (None: a table asset's, read back with the table)."""
    unit: str
    description: str
    asset_id: str
    retry_hint: str = "rerun the same command with --overwrite, or pass fewer parcels"

    def export_config(self, overwrite: bool) -> dict:
        """The ``Export.table.toAsset`` config (``client.start_export``)."""
        return {
            "collection": self.table,
            "description": self.description,
            "destination": str(ExportDestination.ASSET),
            "asset_id": self.asset_id,
            "overwrite": bool(overwrite),
        }

    def collect(self, client: Any, ledger: RunLedger) -> bool:
        if client.get_asset(self.asset_id) is None:
            return False
        ledger.finish(self.unit, asset_id=self.asset_id)
        return True


def parcel_export(
    parcels: ServerParcels,
    classified: ee.Image,
    grid: OutputGrid,
    *,
    name: str,
    year: int,
    project: str,
    destination: str,
) -> ParcelExport:
    """The table export of ``parcels`` reduced over ``classified`` (bands ``class``, ``confidence``, ``p_<class>``)
    on ``grid`` (its pixel edges on multiples of its scale, as every Earth Engine map grid's). InputError
    when the map's tasks write GeoTIFFs (the table goes to an asset), when inline parcels do not fit a request
    even simplified, or when none lies on the map."""
    if destination != ExportDestination.ASSET:
        raise InputError(
            f"--parcels with --on-server exports the parcel table to an Earth Engine asset; drop --export-to "
            f"{destination} (or map the parcels of the map's GeoTIFFs with `gee-crop map --source`)"
        )
    geoms = None if parcels.local is None else on_grid(parcels.local, grid)
    digest = _digest(parcels.source.encode() if geoms is None else b"".join(shapely.to_wkb(geoms)))
    stem = f"{map_collection(project, name, year)}_parcels_{digest[:8]}"
    fixed = f"gee-crop-parcels__{year}_{digest[:8]}"
    description = f"gee-crop-parcels_{safe_stem(name, DESCRIPTION_MAX - len(fixed))}_{year}_{digest[:8]}"

    def table(features: ee.FeatureCollection) -> ee.FeatureCollection:
        return exported_parcels(parcel_reduction(classified, features, scale=grid.scale, crs=grid.crs))

    names = f"parcels_{digest[:12]}", description, stem
    if geoms is None:
        return ParcelExport(parcels, table(ee.FeatureCollection(parcels.source)), None, *names)
    simplified = shapely.set_precision(
        shapely.simplify(geoms, grid.scale * SIMPLIFY_PIXELS, preserve_topology=True), grid.scale * ROUND_PIXELS
    )
    budget = REQUEST_MARGIN * REQUEST_PAYLOAD_LIMIT
    size = 0
    for sent in (geoms, simplified):
        # the parcels' compact GeoJSON first (quick): the request body is larger still
        size = inline_payload_bytes({"geometries": [shapely.geometry.mapping(g) for g in sent]})
        if size > budget:
            continue
        export = ParcelExport(parcels, table(inline_parcels(sent, grid.crs)), geoms, *names)
        size = _body(export)
        if size <= budget:
            return export
    raise InputError(
        f"the {len(geoms):,} parcels of {parcels.source} make the parcel table's request over {size:,} bytes even "
        f"simplified to {SIMPLIFY_PIXELS:g} px, more than Earth Engine accepts ({REQUEST_PAYLOAD_LIMIT:,} bytes, "
        f"less a {1 - REQUEST_MARGIN:.0%} margin); {PARCELS_ROUTE}"
    )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _body(export: ParcelExport) -> int:
    """Bytes of the export's request body as the client serializes it (``client.request_body_bytes``)."""
    config = export.export_config(overwrite=False)
    return request_body_bytes(
        {"expression": config["collection"], "description": export.description, "destination": export.asset_id}
    )


def check_parcel_asset(client: Any, parcels: ServerParcels) -> None:
    """InputError, before any task, when the parcels are a table asset that does not exist."""
    if parcels.local is None and client.get_asset(parcels.source) is None:
        raise InputError(
            f"the parcel table asset {parcels.source} does not exist (or you cannot read it); {PARCELS_ROUTE}"
        )


def write_server_parcel_table(
    client: Any, export: ParcelExport, grid: OutputGrid, classes: tuple[str, ...], out_dir: Path
) -> list[Path]:
    """The finished table read back (computeFeatures of the table asset: no computation), written as the
    local route's ``parcels.csv`` and ``parcels.gpkg`` in ``out_dir``; the flags from the geometry."""
    features = client.compute_features(ee.FeatureCollection(export.asset_id))
    if export.geoms is not None and export.parcels.local is not None:
        features = sorted(features, key=lambda f: int(f["properties"][FEATURE]))
        parcels, geoms = export.parcels.local, export.geoms
        assert len(features) == len(parcels), (len(features), len(parcels))  # every parcel once
    else:
        parcels = _asset_parcels(features, export.parcels.source)
        geoms = on_grid(parcels, grid)
    rows = parcel_rows([f["properties"] for f in features], classes)
    n_pixels = np.array([r["n_pixels"] for r in rows])
    no_interior = np.array([r["no_interior"] for r in rows])
    flags = flag_columns(geoms, grid, n_pixels, no_interior, overlapping(geoms), export.parcels.min_pixels)
    return write_parcel_table(out_dir, parcels, geoms, [{**r, **f} for r, f in zip(rows, flags)], grid.crs)


def _asset_parcels(features: list[dict], source: str) -> Parcels:
    """The parcels of a table asset as the reduction gave them back: whole geometries (WGS84 GeoJSON) and
    the asset's own fields, in the order the table holds them."""
    props = [{k: v for k, v in f["properties"].items() if not is_server_property(k)} for f in features]
    fields = parcel_fields(props, source, "rename them in the asset")
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in features], dtype=object)
    return Parcels(geoms, props, fields, WGS84, source)
