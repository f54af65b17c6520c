"""The classes: the 7 CropGlobe classes, the one "no class" value, legends and the one colour table.

Everything that turns a product's codes or a class name into a class index goes through here:
:class:`Legend` (product code -> class name, read from a legend CSV) and :func:`class_indices`
(class name -> index). A code without a class is :data:`EXCLUDE` in legend tables; a pixel without
a class is :data:`NO_CLASS` in uint8 rasters (maps, reference labels, server-side remaps).
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from gee_crop.errors import InputError, UnknownClassError

#: The 7 CropGlobe classes, in the order of the model's outputs.
CLASSES: tuple[str, ...] = ("corn", "soybeans", "rice", "wheat", "sugarcane", "cotton", "other")
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}
OTHER = "other"

#: Raster value of a pixel with no class (unlabelled, unmapped, masked, excluded); uint8 rasters.
NO_CLASS = 255
#: Class word of a legend row whose code has no class (the product's no-data, non-crop codes ...).
EXCLUDE = "exclude"
#: Legend files of gee-crop 0.1.0 wrote this word for EXCLUDE; such files are still read.
_LEGACY_EXCLUDE = "unlabeled"
#: Code of the legend row that gives the class of every code not listed.
DEFAULT_CODE = "*"
#: The columns of a legend CSV.
CODE_COLUMN, CLASS_COLUMN = "code", "gee_crop_class"
#: The WorldCereal legacy crop-type legend shipped in gee_crop/resources/labels (patch label codes).
WORLDCEREAL_LEGACY = "worldcereal_legacy_croptype.csv"

#: Colours of the classes (maps, legends, plots) as hex "rrggbb", the form Earth Engine palettes use.
CLASS_HEX: dict[str, str] = {
    "corn": "ffd300",
    "soybeans": "267000",
    "rice": "00a8e2",
    "wheat": "a87000",
    "sugarcane": "ff6666",
    "cotton": "ff2626",
    "other": "bebebe",
}
#: The same colours as (r, g, b) bytes.
CLASS_COLORS: dict[str, tuple[int, int, int]] = {c: tuple(bytes.fromhex(h)) for c, h in CLASS_HEX.items()}
_OPAQUE = np.iinfo(np.uint8).max


def class_indices(names: np.ndarray) -> np.ndarray:
    """Map class names to indices of CLASSES; unknown names raise UnknownClassError."""
    names = np.asarray(names, dtype=object)
    uniques, inverse = np.unique(names.astype(str), return_inverse=True)
    unknown = [str(u) for u in uniques if u not in CLASS_INDEX]
    if unknown:
        raise UnknownClassError(
            f"unknown class name(s) {', '.join(map(repr, unknown))}; use one of {', '.join(CLASSES)}"
        )
    lookup = np.array([CLASS_INDEX[u] for u in uniques], dtype=np.int64)
    return lookup[inverse.reshape(-1)]


# ----------------------------------------------------------------------------- colours

def class_color(name: str) -> tuple[float, float, float]:
    """The class's colour as (r, g, b) floats 0..1 (matplotlib)."""
    return tuple(v / _OPAQUE for v in CLASS_COLORS[name])


def class_rgba_table() -> np.ndarray:
    """(256, 4) uint8 colour table of class rasters: row k = colour of class k, every other value
    (NO_CLASS included) transparent. The map COG, its preview and the notebook overlays all use it."""
    table = np.zeros((_OPAQUE + 1, 4), dtype=np.uint8)
    for index, name in enumerate(CLASSES):
        table[index] = (*CLASS_COLORS[name], _OPAQUE)
    return table


def class_rgba(classes: np.ndarray) -> np.ndarray:
    """(H, W) class indices (NO_CLASS = none) -> (H, W, 4) uint8, transparent where no class."""
    return class_rgba_table()[np.asarray(classes, dtype=np.uint8)]


# ----------------------------------------------------------------------------- legends

def _code_key(code: object) -> str:
    """A code as the text a legend keys it by: integer codes in canonical form (no leading zeros)."""
    text = str(code).strip()
    return str(int(text)) if text.lstrip("-").isdigit() else text


def read_csv_rows(path, columns: tuple[str, ...], *, delimiter: str = ",",
                  what: str = "legend") -> list[dict[str, str]]:
    """The rows of a legend-like CSV (a path, or a resource of the package); lines starting with '#'
    are comments. InputError naming the missing file or columns."""
    path = Path(path) if isinstance(path, (str, os.PathLike)) else path
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist; give a CSV with columns {','.join(columns)}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter=delimiter))
    if not rows or not set(columns) <= set(rows[0]):
        raise InputError(f"{path} needs the columns {','.join(columns)} (one row per label code), "
                         f"separated by {delimiter!r}")
    return rows


@dataclass(frozen=True, eq=False)
class Legend(Mapping):
    """A product's codes -> gee-crop class names (one of CLASSES, or EXCLUDE for no class).

    ``table`` is keyed by the codes as text (integers without leading zeros); a ``"*"`` row gives the
    class of every code not listed. ``source`` names the table in error messages. A Legend is a
    read-only mapping, so ``legend["MIS"]`` and ``legend.items()`` work as on a dict.
    """

    table: Mapping[str, str]
    source: str = "the legend"

    def __post_init__(self) -> None:
        table = {_code_key(k): (EXCLUDE if str(v).strip() == _LEGACY_EXCLUDE else str(v).strip())
                 for k, v in self.table.items()}
        object.__setattr__(self, "table", table)
        unknown = sorted(set(table.values()) - set(CLASSES) - {EXCLUDE})
        if unknown:
            raise UnknownClassError(f"{self.source} maps codes to unknown class(es) {', '.join(map(repr, unknown))}; "
                                    f"use one of {', '.join(CLASSES)} or {EXCLUDE!r}")

    def __getitem__(self, code: object) -> str:
        return self.table[_code_key(code)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    @classmethod
    def read(cls, path) -> "Legend":
        """A legend CSV (a path or a package resource) with columns ``code,gee_crop_class``
        ('#' lines are comments)."""
        rows = read_csv_rows(path, (CODE_COLUMN, CLASS_COLUMN))
        return cls({r[CODE_COLUMN]: r[CLASS_COLUMN] for r in rows}, source=f"legend {path}")

    @classmethod
    def shipped(cls, name: str) -> "Legend":
        """A legend shipped in gee_crop/resources/labels (e.g. a country's mapping table)."""
        return _shipped_legend(name)

    @classmethod
    def worldcereal(cls) -> "Legend":
        """The WorldCereal legacy crop-type legend (the codes of the Earth Engine patch labels)."""
        return cls.shipped(WORLDCEREAL_LEGACY)

    @classmethod
    def of(cls, legend: "Legend | Mapping | str | os.PathLike | None") -> "Legend":
        """A Legend from a Legend, a {code: class} dict, a CSV path, or None (the WorldCereal legacy one)."""
        if legend is None:
            return cls.worldcereal()
        if isinstance(legend, Legend):
            return legend
        if isinstance(legend, Mapping):
            return cls(legend)
        return cls.read(legend)

    def excluding(self, *codes: object) -> "Legend":
        """This legend with ``codes`` (e.g. a raster's no-data code) mapped to EXCLUDE."""
        return Legend({**self.table, **{c: EXCLUDE for c in codes}}, self.source)

    def names(self, codes: np.ndarray) -> np.ndarray:
        """Class name (or EXCLUDE) of each code, an object array of the same shape; codes the legend
        does not list (and no ``*`` row covers) raise InputError."""
        codes = np.asarray(codes)
        uniques, inverse = np.unique(codes, return_inverse=True)
        keys = [_code_key(u) for u in uniques]
        default = self.table.get(DEFAULT_CODE)
        missing = [k for k in keys if k not in self.table] if default is None else []
        if missing:
            raise InputError(f"label codes {missing[:10]} are not in the class-mapping table ({self.source}); "
                             f"add them to the table (code -> one of {', '.join(CLASSES)} or {EXCLUDE})")
        names = np.array([self.table.get(k, default) for k in keys], dtype=object)
        return names[inverse.reshape(-1)].reshape(codes.shape)

    def indices(self, codes: np.ndarray) -> np.ndarray:
        """Class index of each code (int64, same shape), NO_CLASS where the code is excluded."""
        codes = np.asarray(codes)
        uniques, inverse = np.unique(codes, return_inverse=True)
        lookup = self._index_of(self.names(uniques))
        return lookup[inverse.reshape(-1)].reshape(codes.shape)

    def lookup(self) -> tuple[list[str], list[int], int]:
        """(codes, class index or NO_CLASS per code, default index or NO_CLASS): for server-side remaps."""
        codes = [c for c in self.table if c != DEFAULT_CODE]
        indices = self._index_of(np.array([self.table[c] for c in codes], dtype=object))
        default = self._index_of(np.array([self.table.get(DEFAULT_CODE, EXCLUDE)], dtype=object))
        return codes, [int(i) for i in indices], int(default[0])

    @staticmethod
    def _index_of(names: np.ndarray) -> np.ndarray:
        excluded = names == EXCLUDE
        indices = np.full(names.shape, NO_CLASS, dtype=np.int64)
        if (~excluded).any():
            indices[~excluded] = class_indices(names[~excluded])
        return indices


@lru_cache(maxsize=None)
def _shipped_legend(name: str) -> Legend:
    return Legend.read(resources.files("gee_crop.resources").joinpath(f"labels/{name}"))
