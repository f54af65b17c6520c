"""The classes: the 7 CropGlobe classes, the one "no class" value, legends and the one colour table.

Everything that turns a product's codes or a class name into a class index goes through here:
:class:`Legend` (product code -> class name, read from a legend CSV) and :func:`class_indices`
(class name -> index). A code without a class is :data:`EXCLUDE` in legend tables; a pixel without
a class is :data:`NO_CLASS` in uint8 rasters (maps, reference labels, server-side remaps).

The paper's seven classes are the default class list. A user's own legend (``--legend``) or class
list (``--classes``) gives another one (:func:`parse_class_list`, :meth:`Legend.read_user`); it
travels in the sample table and the model contract, and :func:`class_hex` gives every class a
colour (the paper's colours, then a fixed palette in class-list order).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gee_crop.errors import InputError, UnknownClassError

if TYPE_CHECKING:
    from importlib.abc import Traversable  # importlib.resources.abc from Python 3.11 on

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


def _rgb_bytes(hex_colour: str) -> tuple[int, int, int]:
    """ "rrggbb" -> (r, g, b) bytes."""
    r, g, b = bytes.fromhex(hex_colour)
    return r, g, b


#: The same colours as (r, g, b) bytes.
CLASS_COLORS: dict[str, tuple[int, int, int]] = {c: _rgb_bytes(h) for c, h in CLASS_HEX.items()}
#: Colours of classes that CLASS_HEX does not name, taken in class-list order (matplotlib's
#: "tab20" qualitative palette, its greys left out: grey is "other").
PALETTE_HEX: tuple[str, ...] = (
    "1f77b4",
    "ff7f0e",
    "2ca02c",
    "d62728",
    "9467bd",
    "8c564b",
    "e377c2",
    "bcbd22",
    "17becf",
    "aec7e8",
    "ffbb78",
    "98df8a",
    "ff9896",
    "c5b0d5",
    "c49c94",
    "f7b6d2",
    "dbdb8d",
    "9edae5",
)
_OPAQUE = np.iinfo(np.uint8).max
#: At most this many classes: class rasters are uint8 and NO_CLASS (255) means "no class".
MAX_CLASSES = NO_CLASS
_NAME_SEPARATORS = re.compile(r"[\s\-/]+")
_CLASS_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+]*$")


def class_indices(names: np.ndarray, classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    """Map class names to indices of ``classes`` (default: the paper's seven); unknown names raise
    UnknownClassError."""
    names = np.asarray(names, dtype=object)
    index = CLASS_INDEX if tuple(classes) == CLASSES else {c: i for i, c in enumerate(classes)}
    uniques, inverse = np.unique(names.astype(str), return_inverse=True)
    unknown = [str(u) for u in uniques if u not in index]
    if unknown:
        raise UnknownClassError(
            f"unknown class name(s) {', '.join(map(repr, unknown))}; use one of {', '.join(classes)}"
        )
    lookup = np.array([index[u] for u in uniques], dtype=np.int64)
    return lookup[inverse.reshape(-1)]


def normalize_class_name(text: object) -> str:
    """A label value or class name as a class name: trimmed, lower case, runs of blanks, '-' and '/'
    made one '_' ("Winter wheat" -> "winter_wheat", "beans/peas" -> "beans_peas")."""
    return _NAME_SEPARATORS.sub("_", str(text).strip().lower()).strip("_")


def check_class_list(classes: tuple[str, ...], source: str = "--classes") -> tuple[str, ...]:
    """``classes`` validated (2..254 distinct plain names, none of them ``exclude``); InputError
    naming the fix otherwise."""
    classes = tuple(classes)
    bad = [c for c in classes if not _CLASS_NAME.match(c) or c == EXCLUDE]
    if bad:
        raise InputError(
            f"{source}: class name(s) {', '.join(map(repr, bad))} are not usable; use lower-case "
            f"letters, digits and '_' (e.g. winter_wheat), and {EXCLUDE!r} only to drop a code"
        )
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if twice:
        raise InputError(f"{source} names {', '.join(twice)} more than once; list each class once")
    if not 2 <= len(classes) <= MAX_CLASSES - 1:
        raise InputError(f"{source} has {len(classes)} class(es); a classifier needs 2 to {MAX_CLASSES - 1}")
    return classes


def resolve_class_list(names: tuple[str, ...]) -> tuple[str, ...]:
    """The class list ``names`` stand for: the paper's seven (in their order) when every name is one
    of them, so that such tables and models stay the paper's; else ``names`` as they are."""
    return CLASSES if set(names) <= set(CLASSES) else tuple(names)


def parse_class_list(text: str) -> tuple[str, ...]:
    """``--classes a,b,c,other`` -> ('a', 'b', 'c', 'other') (names normalized, order kept; a list of
    the paper's names only is the paper's list, :func:`resolve_class_list`)."""
    names = tuple(normalize_class_name(t) for t in str(text).split(",") if t.strip())
    return resolve_class_list(check_class_list(names))


# ----------------------------------------------------------------------------- colours


def class_hex(name: str, classes: tuple[str, ...] = CLASSES) -> str:
    """Hex colour "rrggbb" of class ``name`` of the class list ``classes``: the paper's colour for the
    paper's class names; other classes take the PALETTE_HEX colours in class-list order, skipping the
    colours the list already uses, so a class list always draws the same way."""
    if name in CLASS_HEX:
        return CLASS_HEX[name]
    used = {CLASS_HEX[c] for c in classes if c in CLASS_HEX}
    free = [h for h in PALETTE_HEX if h not in used]
    unnamed = [c for c in classes if c not in CLASS_HEX]
    position = unnamed.index(name) if name in unnamed else len(unnamed)
    if position < len(free):
        return free[position]
    # more classes than palette colours: a colour of its own from the name (deterministic)
    digest = sum((i + 1) * ord(ch) for i, ch in enumerate(name)) * 2654435761
    return f"{(digest >> 8) & 0xFFFFFF:06x}"


def class_color(name: str, classes: tuple[str, ...] = CLASSES) -> tuple[float, float, float]:
    """The class's colour as (r, g, b) floats 0..1 (matplotlib)."""
    r, g, b = _rgb_bytes(class_hex(name, classes))
    return r / _OPAQUE, g / _OPAQUE, b / _OPAQUE


def class_rgba_table(classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    """(256, 4) uint8 colour table of class rasters: row k = colour of class k, every other value
    (NO_CLASS included) transparent. The map COG, its preview and the notebook overlays all use it."""
    table = np.zeros((_OPAQUE + 1, 4), dtype=np.uint8)
    for index, name in enumerate(classes):
        table[index] = (*bytes.fromhex(class_hex(name, tuple(classes))), _OPAQUE)
    return table


def class_rgba(classes: np.ndarray, class_list: tuple[str, ...] = CLASSES) -> np.ndarray:
    """(H, W) class indices (NO_CLASS = none) -> (H, W, 4) uint8, transparent where no class."""
    return class_rgba_table(class_list)[np.asarray(classes, dtype=np.uint8)]


# ----------------------------------------------------------------------------- legends


def _code_key(code: object) -> str:
    """A code as the text a legend keys it by: integer codes in canonical form (no leading zeros)."""
    text = str(code).strip()
    return str(int(text)) if text.lstrip("-").isdigit() else text


def read_text(path: str | os.PathLike[str] | Traversable, what: str = "file") -> str:
    """The text of a file a user hands gee-crop (legends, reference points, accuracy tables, JSON): UTF-8,
    with or without a byte-order mark, or UTF-16 with its mark (Excel's "Unicode text").

    The one rule for every text file read: anything else is an InputError naming the line of the first
    byte that is not UTF-8 and the fix. No guessing: charset detection on a legend of a few lines picks a
    wrong code page (a Latin-1 "maïs" reads as cp1250 "maďs" or big5), and a silently misread class name
    is worse than a one-line error."""
    data = (Path(path) if isinstance(path, (str, os.PathLike)) else path).read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{what} {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}, e.g. a Latin-1 or "
            "Windows-1252 file); save it as UTF-8 (Excel: 'CSV UTF-8'; or `iconv -f latin1 -t utf-8 IN > OUT`)"
        ) from None


def read_csv_rows(
    path: str | os.PathLike[str] | Traversable, columns: tuple[str, ...], *, delimiter: str = ",", what: str = "legend"
) -> list[dict[str, str]]:
    """The rows of a legend-like CSV (a path, or a resource of the package), read by :func:`read_text`;
    lines starting with '#' are comments. InputError naming the missing file or columns."""
    path = Path(path) if isinstance(path, (str, os.PathLike)) else path
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist; give a CSV with columns {','.join(columns)}")
    lines = io.StringIO(read_text(path, what), newline="")  # as a file opened with newline="", which csv needs
    rows = list(csv.DictReader((line for line in lines if not line.startswith("#")), delimiter=delimiter))
    if not rows or not set(columns) <= set(rows[0]):
        raise InputError(
            f"{path} needs the columns {','.join(columns)} (one row per label code), separated by {delimiter!r}"
        )
    return rows


def _code_table(rows: list[dict[str, str]], column: str, path: object) -> dict[str, str]:
    """{code: the row's ``column``} of a legend's rows; InputError naming a code listed twice (``01`` and ``1``
    are one code): a dict would keep the last row and a class could silently disappear."""
    table: dict[str, str] = {}
    for row in rows:
        code, key = row[CODE_COLUMN], _code_key(row[CODE_COLUMN])
        if key in table:
            raise InputError(
                f"legend {path} lists code {code.strip()!r} twice (as {table[key]!r} and {row[column]!r}); "
                "keep one row per code"
            )
        table[key] = row[column]
    return table


@dataclass(frozen=True, eq=False)
class Legend(Mapping[str, str]):
    """A product's codes -> class names (one of ``classes``, or EXCLUDE for no class).

    ``table`` is keyed by the codes as text (integers without leading zeros); a ``"*"`` row gives the
    class of every code not listed. ``source`` names the table in error messages. ``classes`` is the
    class list the names index into (the paper's seven unless a user legend says otherwise);
    ``by_name`` matches codes that are class names whatever their case and spacing ("Winter wheat"
    = winter_wheat). A Legend is a read-only mapping, so ``legend["MIS"]`` and ``legend.items()``
    work as on a dict.
    """

    table: Mapping[str, str]
    source: str = "the legend"
    classes: tuple[str, ...] = CLASSES
    by_name: bool = False

    def __post_init__(self) -> None:
        table = {
            self._key(k): (EXCLUDE if str(v).strip() == _LEGACY_EXCLUDE else str(v).strip())
            for k, v in self.table.items()
        }
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "classes", tuple(self.classes))
        unknown = sorted(set(table.values()) - set(self.classes) - {EXCLUDE})
        if unknown:
            raise UnknownClassError(
                f"{self.source} maps codes to unknown class(es) {', '.join(map(repr, unknown))}; "
                f"use one of {', '.join(self.classes)} or {EXCLUDE!r}"
            )

    def _key(self, code: object) -> str:
        if self.by_name and str(code).strip() != DEFAULT_CODE:
            return normalize_class_name(code)
        return _code_key(code)

    def __getitem__(self, code: object) -> str:
        return self.table[self._key(code)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    @classmethod
    def read(cls, path: str | os.PathLike[str] | Traversable) -> Legend:
        """A legend CSV (a path or a package resource) with columns ``code,gee_crop_class``
        ('#' lines are comments)."""
        rows = read_csv_rows(path, (CODE_COLUMN, CLASS_COLUMN))
        return cls(_code_table(rows, CLASS_COLUMN, path), source=f"legend {path}")

    @classmethod
    def read_user(cls, path: str | os.PathLike[str], classes: tuple[str, ...] | None = None) -> Legend:
        """A user's legend CSV: columns ``code`` (the label value) and ``class`` (or ``gee_crop_class``),
        a class name or ``exclude`` per row (names normalized, :func:`normalize_class_name`).

        The class list is ``classes`` when given, the paper's seven when every name is one of them,
        else the names in order of first appearance. InputError when no row maps to a class.
        """
        column = CLASS_COLUMN
        header = read_csv_rows(path, (CODE_COLUMN,), what="legend")[0]
        if CLASS_COLUMN not in header:
            column = "class"
        rows = read_csv_rows(path, (CODE_COLUMN, column), what="legend")
        table = {
            code: EXCLUDE if name.strip() in (EXCLUDE, _LEGACY_EXCLUDE) else normalize_class_name(name)
            for code, name in _code_table(rows, column, path).items()
        }
        named = list(dict.fromkeys(v for v in table.values() if v != EXCLUDE))
        if not named:
            raise InputError(
                f"legend {path} maps no label value to a class (every row says {EXCLUDE!r}); "
                "give at least two rows 'value,class name'"
            )
        classes = resolve_class_list(tuple(named) if classes is None else tuple(classes))
        return cls(table, source=f"legend {path}", classes=check_class_list(tuple(classes), f"legend {path}"))

    @classmethod
    def for_classes(cls, classes: tuple[str, ...]) -> Legend:
        """``--classes a,b,c,other`` alone: label values are class names (any case and spacing); a value
        that names no class is ``other`` when the list has it, else excluded."""
        classes = check_class_list(tuple(classes))
        default = OTHER if OTHER in classes else EXCLUDE
        return cls(
            {**{c: c for c in classes}, DEFAULT_CODE: default}, source="--classes", classes=classes, by_name=True
        )

    @classmethod
    def shipped(cls, name: str) -> Legend:
        """A legend shipped in gee_crop/resources/labels (e.g. a country's mapping table)."""
        return _shipped_legend(name)

    @classmethod
    def worldcereal(cls) -> Legend:
        """The WorldCereal legacy crop-type legend (the codes of the Earth Engine patch labels)."""
        return cls.shipped(WORLDCEREAL_LEGACY)

    @classmethod
    def of(cls, legend: Legend | Mapping[Any, str] | str | os.PathLike[str] | None) -> Legend:
        """A Legend from a Legend, a {code: class} dict, a CSV path, or None (the WorldCereal legacy one)."""
        if legend is None:
            return cls.worldcereal()
        if isinstance(legend, Legend):
            return legend
        if isinstance(legend, Mapping):
            return cls(legend)
        return cls.read(legend)

    def excluding(self, *codes: object) -> Legend:
        """This legend with ``codes`` (e.g. a raster's no-data code) mapped to EXCLUDE."""
        return Legend({**self.table, **{str(c): EXCLUDE for c in codes}}, self.source, self.classes, self.by_name)

    def names(self, codes: np.ndarray) -> np.ndarray:
        """Class name (or EXCLUDE) of each code, an object array of the same shape; codes the legend
        does not list (and no ``*`` row covers) raise InputError."""
        codes = np.asarray(codes)
        uniques, inverse = np.unique(codes, return_inverse=True)
        keys = [self._key(u) for u in uniques]
        default = self.table.get(DEFAULT_CODE)
        missing = [k for k in keys if k not in self.table] if default is None else []
        if missing:
            raise InputError(
                f"label codes {missing[:10]} are not in the class-mapping table ({self.source}); "
                f"add them to the table (code -> one of {', '.join(self.classes)} or {EXCLUDE}; "
                f"a row '{DEFAULT_CODE},{EXCLUDE}' drops every code not listed)"
            )
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

    def maps_any(self, codes: Iterable[object]) -> bool:
        """True when some of ``codes`` (or every code, through a ``*`` row) has a class."""
        if self.table.get(DEFAULT_CODE, EXCLUDE) != EXCLUDE:
            return True
        return any(self.table.get(self._key(c), EXCLUDE) != EXCLUDE for c in set(map(str, codes)))

    def _index_of(self, names: np.ndarray) -> np.ndarray:
        excluded = names == EXCLUDE
        indices = np.full(names.shape, NO_CLASS, dtype=np.int64)
        if (~excluded).any():
            indices[~excluded] = class_indices(names[~excluded], self.classes)
        return indices


def user_legend(legend: str | os.PathLike[str] | None = None, classes: str | None = None) -> Legend | None:
    """The Legend of ``--legend FILE`` and/or ``--classes a,b,other`` (the list fixes the order and the
    names the legend may use); None when neither is given (the product's own legend applies)."""
    class_list = parse_class_list(classes) if classes else None
    if legend is not None:
        return Legend.read_user(legend, class_list)
    return Legend.for_classes(class_list) if class_list else None


@cache
def _shipped_legend(name: str) -> Legend:
    return Legend.read(resources.files("gee_crop.resources").joinpath(f"labels/{name}"))
