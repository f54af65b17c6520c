# PLACEHOLDER: the eeinfer branch replaces this file at merge
"""Server-side inference: the classifier as part of the Earth Engine graph (the eeinfer branch builds it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ee

from gee_crop.errors import GeeCropError

if TYPE_CHECKING:
    # gee_crop.models.io.ModelFile: models sits above earthengine in the floor order (tests/architecture)
    ModelFile = Any


def server_classification(model: ModelFile, composite: ee.Image, *, probabilities: bool = False) -> ee.Image:
    """The ``composite`` (the encoded 5-day median composite of ``EarthEngineSource.image``) classified on the
    server with ``model``: bands ``class`` (uint8 index into the model's classes), ``confidence`` (uint8
    percent) and, with ``probabilities``, one ``p_<class>`` band per class (uint8 percent). Forests and
    TempCNNs run; a CropNet is refused with a GeeCropError (it stays local)."""
    raise GeeCropError("server-side inference is not available in this build")
