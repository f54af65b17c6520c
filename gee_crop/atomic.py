"""Atomic file writes: readers never see a half-written output, and a failed write leaves nothing.

Every output of gee-crop (tables, models, ONNX files, maps, reports, manifests) goes through
:func:`atomic_write`: write to a temporary name beside the target, then ``os.replace`` it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def temporary_path(path: Path) -> Path:
    """A hidden temporary name beside ``path`` (same folder, so the rename is atomic); it keeps the
    suffix, for writers that pick the format from it (GeoTIFF, PNG)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it to ``path``; the
    temporary file is removed if ``write`` fails. Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | os.PathLike[str], payload: Any, **dumps_options: Any) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically (``dumps_options`` go to ``json.dumps``)."""
    return write_text_atomic(path, json.dumps(payload, **{"indent": 1, **dumps_options}))
