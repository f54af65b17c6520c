"""Offline Earth Engine for tests: :mod:`gee_crop.earthengine.offline` (re-exported here), whose
algorithm signatures fall back to the copy in the shared data folder when the wheel lacks them."""

from __future__ import annotations

from pathlib import Path

from gee_crop.earthengine import offline
from gee_crop.earthengine.offline import OFFLINE_PROJECT, is_offline
from gee_crop.testing.paths import shared_data_dir

__all__ = ["OFFLINE_PROJECT", "algorithms_json_path", "initialize_offline", "is_offline"]


def algorithms_json_path() -> Path:
    """The algorithm-signature file: the installed wheel's, else ``<shared data>/ee-algorithms``."""
    return offline.wheel_algorithms_path() or shared_data_dir() / "ee-algorithms" / "algorithms.json"


def initialize_offline(project: str = OFFLINE_PROJECT) -> None:
    """:func:`gee_crop.earthengine.offline.initialize_offline` with the tests' fallback signatures."""
    offline.initialize_offline(project, algorithms=algorithms_json_path())
