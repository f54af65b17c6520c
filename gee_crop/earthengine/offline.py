"""Build real Earth Engine graphs without credentials or network (the notebooks' offline fallback, dry
runs; tests through :mod:`gee_crop.testing.offline_ee`).

The server's algorithm signatures are read from the installed earthengine-api wheel
(``ee/tests/algorithms.json``; not public API, so a caller may name another copy), the Cloud API resource
is not built and the data-catalog lookup is skipped. After :func:`initialize_offline`, graphs serialize
exactly as they would for the server; any call that needs the server (getInfo, computePixels, exports)
raises ``ee.EEException`` without opening a socket.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import ee

from gee_crop.errors import EarthEngineError

OFFLINE_PROJECT = "offline-test"

_algorithms_path: Path | None = None
_algorithms_cache: dict[Path, dict] = {}


def wheel_algorithms_path() -> Path | None:
    """The algorithm-signature file of the installed earthengine-api wheel, or None when it lacks one."""
    path = Path(os.path.dirname(ee.__file__)) / "tests" / "algorithms.json"
    return path if path.is_file() else None


def _offline_algorithms() -> dict:
    assert _algorithms_path is not None  # set by initialize_offline before ee may call this
    if _algorithms_path not in _algorithms_cache:
        from ee import _cloud_api_utils

        with open(_algorithms_path, encoding="utf-8") as fh:
            _algorithms_cache[_algorithms_path] = _cloud_api_utils.convert_algorithms(json.load(fh))
    return _algorithms_cache[_algorithms_path]


def initialize_offline(project: str = OFFLINE_PROJECT, algorithms: Path | None = None) -> None:
    """Initialise ``ee`` with the algorithm signatures of ``algorithms`` (default: the wheel's) and no
    server (≈0.05 s, idempotent)."""
    global _algorithms_path
    path = algorithms or wheel_algorithms_path()
    if path is None:
        raise EarthEngineError(
            "this earthengine-api install has no ee/tests/algorithms.json to build graphs offline; "
            "reinstall earthengine-api from its wheel"
        )
    _algorithms_path = Path(path)
    ee.data._install_cloud_api_resource = lambda: None
    ee.data.getAlgorithms = _offline_algorithms
    ee.deprecation._FetchDataCatalogStac = lambda: {}
    ee.Reset()
    ee.Initialize(None, "", project=project)


def is_offline() -> bool:
    """True when :func:`initialize_offline` is in effect."""
    return ee.data.getAlgorithms is _offline_algorithms
