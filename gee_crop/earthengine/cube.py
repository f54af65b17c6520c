"""The server graph of one composite-cube block (``gee-crop cube --region``): ``map``'s composite with a
user's labels painted as one more band.

The labels are painted on the cube's own grid (``crs``, ``scale_m`` pixels aligned to multiples of the
scale, as ``gee-crop map`` and the local cube cut theirs) and eroded there by the inward buffer
(:func:`gee_crop.earthengine.sampling.inward_buffer`, pinned to that grid), so a block holds exactly the
pixels the local route keeps. Composite values of unlabelled pixels are masked on the server and travel
as 0 DN; the label band travels as ``NO_CLASS`` there.
"""

from __future__ import annotations

import ee

from gee_crop.classes import NO_CLASS
from gee_crop.earthengine.client import REQUEST_PAYLOAD_LIMIT, request_body_bytes
from gee_crop.earthengine.composite import composite_band_names
from gee_crop.earthengine.labels import LABEL_BAND, UPLOAD_ROUTE, painted_classes
from gee_crop.earthengine.sampling import inward_buffer, label_grid
from gee_crop.errors import InputError

#: Share of the service's request-body limit a block's computePixels body may take (as ``sample``'s tiles).
CUBE_REQUEST_MARGIN = 0.95


def cube_band_names(n_bins: int) -> list[str]:
    """The bands one block request asks for: the composite's (band-major) and the label band last."""
    return [*composite_band_names(n_bins), LABEL_BAND]


def own_label_image(parcels: ee.FeatureCollection, crs: str, scale_m: float, buffer_m: float) -> ee.Image:
    """Band ``class`` of the polygons ``parcels`` (each with its ``class`` index) painted on the ``scale_m``
    grid of ``crs``, eroded by ``buffer_m`` (0: not eroded); masked where unlabelled."""
    labels = painted_classes(parcels)
    if buffer_m > 0:
        return label_grid(inward_buffer(labels, buffer_m), crs, scale_m)
    return label_grid(labels, crs, scale_m)


def labelled_composite(composite: ee.Image, labels: ee.Image) -> ee.Image:
    """The uint16 ``composite`` (masked pixels already 0) kept only where ``labels`` has a class, with
    the label band added (``NO_CLASS`` where unlabelled); all bands uint16."""
    kept = composite.updateMask(labels.mask()).unmask(0)
    return kept.addBands(labels.unmask(NO_CLASS)).toUint16()


def check_block_request(expression: ee.ComputedObject, grid: dict, source: str) -> int:
    """The computePixels body bytes of one block as the client serializes it; InputError naming the
    table-asset route when the labels make it larger than the service accepts (10,485,760 bytes)."""
    size = request_body_bytes({"expression": expression, "fileFormat": "NUMPY_NDARRAY", "grid": grid})
    if size > CUBE_REQUEST_MARGIN * REQUEST_PAYLOAD_LIMIT:
        raise InputError(
            f"a cube block's request would be {size:,} bytes with the labels of {source} inside it, more than "
            f"Earth Engine accepts ({REQUEST_PAYLOAD_LIMIT:,} bytes, less a {1 - CUBE_REQUEST_MARGIN:.0%} margin); "
            f"use a smaller --block-px, or {UPLOAD_ROUTE}"
        )
    return size
