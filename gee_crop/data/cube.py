"""Composite cubes on disk: a chunked Zarr store of labelled 5-day-median composites (``gee-crop cube``).

A cube holds, on a north-up pixel grid, ``composite`` (y, x, band, bin) uint16 DN (reflectance x 10,000,
the encoding ``map`` feeds its models; 0 = masked: unlabelled, gap-heavy or outside the data) and
``label`` (y, x) uint8 class indices (NO_CLASS where masked), chunked in square blocks of ``block_px``
pixels. Its group attributes carry the marker :data:`CUBE_FORMAT` with :data:`CUBE_VERSION` (so
``train``, ``evaluate`` and ``map --source`` tell it from a sample table or a raw stack), the model
contract (``FeatureSpec.to_meta``), the dated season, the class list, the grid and per-block class counts.

The marker is read from the store's metadata JSON alone (no zarr import): :func:`input_kind`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from gee_crop.classes import NO_CLASS
from gee_crop.errors import InputError, ZarrMissingError
from gee_crop.features.spec import FeatureSpec
from gee_crop.season import SeasonSpan
from gee_crop.sensors import SENTINEL2

#: The marker value of a cube's ``gee_crop_cube`` attribute, and the layout version this gee-crop writes.
CUBE_FORMAT = "gee-crop composite cube"
CUBE_VERSION = 1
#: Attribute holding the marker ({"format": CUBE_FORMAT, "version": CUBE_VERSION}).
MARKER_ATTR = "gee_crop_cube"
#: files that mark a folder as a Zarr store (Zarr v2 group / array metadata, Zarr v3 metadata)
ZARR_MARKERS = (".zgroup", ".zarray", ".zattrs", "zarr.json")
ZARR_INSTALL = "pip install 'gee-crop[cube]' (or pip install zarr)"


def import_zarr() -> Any:
    """The zarr module; ZarrMissingError naming the install in one line when it is missing."""
    try:
        import zarr
    except ImportError:
        raise ZarrMissingError(f"composite cubes need zarr, which is not installed; run {ZARR_INSTALL}") from None
    return zarr


class InputKind(str, Enum):
    """What a path given as training / evaluation / mapping input holds."""

    CUBE = "composite cube"
    STACK = "raw stack"
    TABLE = "sample table"
    MISSING = "missing"


def _zarr_attrs(path: Path) -> dict | None:
    """The group attributes of a Zarr store at ``path`` (v3 ``zarr.json`` or v2 ``.zattrs``), else None."""
    for name, key in (("zarr.json", "attributes"), (".zattrs", None)):
        meta = path / name
        if meta.is_file():
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError, OSError):
                return {}
            attrs = data.get(key, {}) if key else data
            return attrs if isinstance(attrs, dict) else {}
    return None


def is_zarr_store(path: str | os.PathLike[str]) -> bool:
    path = Path(path)
    return path.is_dir() and any((path / marker).is_file() for marker in ZARR_MARKERS)


def input_kind(path: str | os.PathLike[str]) -> InputKind:
    """CUBE for a store carrying the cube marker; STACK for another Zarr store, a folder, a NetCDF or
    GeoTIFF; TABLE for any other file (a sample table is read as Parquet); MISSING when nothing is there."""
    path = Path(path)
    if not path.exists():
        return InputKind.MISSING
    attrs = _zarr_attrs(path) if path.is_dir() else None
    if attrs is not None and isinstance(attrs.get(MARKER_ATTR), dict):
        return InputKind.CUBE
    if path.is_dir() or path.suffix.lower() in (".nc", ".nc4", ".zarr", ".tif", ".tiff"):
        return InputKind.STACK
    return InputKind.TABLE


def refuse_stack_as_training_input(path: str | os.PathLike[str], command: str) -> None:
    """InputError (one line, the fix named) when ``command`` is given a raw stack where it needs a sample
    table or a composite cube."""
    if input_kind(path) is InputKind.STACK:
        raise InputError(
            f"{path} is a raw stack, not a sample table or a composite cube, so `gee-crop {command}` cannot read it; "
            f"build a cube with `gee-crop cube --source {path} --out cube.zarr` (or a table with `gee-crop sample "
            f"--source {path}`) and give that"
        )


@dataclass(frozen=True)
class CubeInfo:
    """What a cube's attributes say: the contract its composites follow, the dated season, the grid
    (``crs``, GDAL ``transform``, ``height`` x ``width`` pixels), the block side and where it came from."""

    spec: FeatureSpec
    season: SeasonSpan
    crs: str
    transform: tuple[float, ...]
    height: int
    width: int
    block_px: int
    source: str

    @property
    def n_bins(self) -> int:
        return self.season.n_bins

    @property
    def blocks(self) -> tuple[int, int]:
        """(block rows, block columns) of the grid."""
        return -(-self.height // self.block_px), -(-self.width // self.block_px)

    def block_window(self, block: int) -> tuple[slice, slice]:
        """(rows, cols) of block ``block`` (row-major block number)."""
        row, col = divmod(block, self.blocks[1])
        b = self.block_px
        return slice(row * b, min((row + 1) * b, self.height)), slice(col * b, min((col + 1) * b, self.width))

    def to_attrs(self) -> dict[str, Any]:
        return {
            MARKER_ATTR: {"format": CUBE_FORMAT, "version": CUBE_VERSION},
            "feature_spec": self.spec.to_meta(),
            "season_span": self.season.to_dict(),
            "classes": list(self.spec.classes),
            "bands": list(SENTINEL2.bands),
            "grid": {"crs": self.crs, "transform": list(self.transform), "height": self.height, "width": self.width},
            "block_px": self.block_px,
            "source": self.source,
        }

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any], path: str | os.PathLike[str]) -> CubeInfo:
        marker = attrs.get(MARKER_ATTR) or {}
        if marker.get("format") != CUBE_FORMAT:
            raise InputError(f"{path} is not a gee-crop composite cube; build one with `gee-crop cube`")
        if int(marker.get("version", 0)) > CUBE_VERSION:
            raise InputError(
                f"{path} is a cube of format version {marker.get('version')}, newer than this gee-crop reads "
                f"({CUBE_VERSION}); upgrade gee-crop"
            )
        grid = attrs["grid"]
        return cls(
            FeatureSpec.from_meta(attrs["feature_spec"]),
            SeasonSpan.from_dict(attrs["season_span"]),
            str(grid["crs"]),
            tuple(float(v) for v in grid["transform"]),
            int(grid["height"]),
            int(grid["width"]),
            int(attrs["block_px"]),
            str(attrs.get("source", "")),
        )


class CubeStore:
    """A finished cube opened for reading (lazily: a block is read when asked for). Safe to pickle into
    DataLoader workers: each process opens the store on first use."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if input_kind(self.path) is not InputKind.CUBE:
            raise InputError(
                f"{self.path} is not a gee-crop composite cube (no {MARKER_ATTR} marker); build one with "
                f"`gee-crop cube --source STACK --out {self.path.name}`"
            )
        attrs = _zarr_attrs(self.path) or {}
        self.info = CubeInfo.from_attrs(attrs, self.path)
        counts = attrs.get("block_class_counts")
        if counts is None:
            raise InputError(f"{self.path} is an unfinished cube; rerun the `gee-crop cube` command that builds it")
        #: (n_blocks, n_classes) int64 labelled pixels per block and class
        self.block_counts = np.asarray(counts, dtype=np.int64).reshape(-1, len(self.info.spec.classes))
        self._group: Any = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_group": None}

    @property
    def group(self) -> Any:
        if self._group is None:
            self._group = import_zarr().open_group(str(self.path), mode="r")
        return self._group

    def labels(self) -> np.ndarray:
        """(H, W) uint8 class indices of the whole cube (NO_CLASS where masked): 1 byte a pixel."""
        return np.asarray(self.group["label"][:])

    def block(self, block: int) -> tuple[np.ndarray, np.ndarray]:
        """One block: (h, w, 10, n_bins) uint16 DN and (h, w) uint8 labels (one chunk of each array)."""
        rows, cols = self.info.block_window(block)
        return np.asarray(self.group["composite"][rows, cols]), np.asarray(self.group["label"][rows, cols])


def create_store(path: Path, info: CubeInfo) -> Any:
    """An empty cube store at ``path`` (overwritten) with its arrays and attributes, unfinished (no
    ``block_class_counts`` yet)."""
    zarr = import_zarr()
    group = zarr.open_group(str(path), mode="w")
    b, n_bins = info.block_px, info.n_bins
    group.create_array(
        "composite",
        shape=(info.height, info.width, len(SENTINEL2.bands), n_bins),
        chunks=(b, b, len(SENTINEL2.bands), n_bins),
        dtype="uint16",
        fill_value=0,
        dimension_names=("y", "x", "band", "bin"),
    )
    group.create_array(
        "label",
        shape=(info.height, info.width),
        chunks=(b, b),
        dtype="uint8",
        fill_value=NO_CLASS,
        dimension_names=("y", "x"),
    )
    group.attrs.update(info.to_attrs())
    return group


def open_partial(path: Path) -> Any:
    """The unfinished cube store at ``path``, opened for writing blocks."""
    return import_zarr().open_group(str(path), mode="r+")


def write_block(group: Any, info: CubeInfo, block: int, dn: np.ndarray, labels: np.ndarray) -> None:
    """Write one block's composite (h, w, 10, n_bins) uint16 and labels (h, w) uint8."""
    rows, cols = info.block_window(block)
    group["composite"][rows, cols] = dn
    group["label"][rows, cols] = labels


def finish_store(group: Any, block_counts: np.ndarray) -> None:
    """Record the per-block class counts: the store is complete (readers refuse it before)."""
    group.attrs.update({"block_class_counts": np.asarray(block_counts, dtype=np.int64).tolist()})
