"""Build real Earth Engine graphs without credentials or network (tests, fakes, dry runs).

Applies the recipe of ../shared/OFFLINE_EE.md: the server's algorithm signatures are read from the
earthengine-api wheel (``ee/tests/algorithms.json``; not public API, so the copy in the shared data
folder is the fallback), the Cloud API resource is not built and the data-catalog lookup is skipped.
After :func:`initialize_offline`, graphs serialize exactly as they would for the server; any call
that needs the server (getInfo, computePixels, exports) raises ``ee.EEException`` without opening
a socket.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import ee

from gee_crop.testing.paths import shared_data_dir

OFFLINE_PROJECT = "offline-test"

_algorithms_cache: dict | None = None


def algorithms_json_path() -> Path:
    """The algorithm-signature file: the installed wheel's, else ``<shared data>/ee-algorithms``."""
    wheel_copy = Path(os.path.dirname(ee.__file__)) / "tests" / "algorithms.json"
    if wheel_copy.is_file():
        return wheel_copy
    return shared_data_dir() / "ee-algorithms" / "algorithms.json"


def _offline_algorithms() -> dict:
    global _algorithms_cache
    if _algorithms_cache is None:
        from ee import _cloud_api_utils

        with open(algorithms_json_path(), encoding="utf-8") as fh:
            _algorithms_cache = _cloud_api_utils.convert_algorithms(json.load(fh))
    return _algorithms_cache


def initialize_offline(project: str = OFFLINE_PROJECT) -> None:
    """Initialise ``ee`` with the shipped algorithm signatures and no server (≈0.05 s, idempotent)."""
    ee.data._install_cloud_api_resource = lambda: None
    ee.data.getAlgorithms = _offline_algorithms
    ee.deprecation._FetchDataCatalogStac = lambda: {}
    ee.Reset()
    ee.Initialize(None, "", project=project)


def is_offline() -> bool:
    """True when :func:`initialize_offline` is in effect."""
    return ee.data.getAlgorithms is _offline_algorithms
