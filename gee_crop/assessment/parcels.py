"""Parcel-level accuracy and areas from the parcel table of ``gee-crop map --parcels`` (parcels.gpkg or
parcels.csv) with a reference field: the true class of each parcel, as a class name of the map's legend
or as a code translated by a user's legend.

The sampling unit is the parcel. Accuracy counts parcels: the mapped class is the table's ``class``
(majority of the eroded parcel's pixels), the reference the field's class. Flagged parcels (a flag
column true: too few pixels, mostly outside the map, no interior left by the erosion) are reported apart and
left out unless ``include_flagged``. Areas use the Olofsson et al. (2014) estimators with the map
classes as strata, W_i the mapped area of class i (the parcels' polygon areas summed by their mapped
class) and the labelled parcels as the sample: this assumes the labelled parcels are a stratified
random sample of the table's parcels by mapped class, and that within a stratum the share of parcels of
a reference class estimates the share of area (it does when parcel size does not depend on the error).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from gee_crop.assessment.estimators import StratifiedEstimates, stratified_estimates
from gee_crop.classes import EXCLUDE, Legend, normalize_class_name, read_text, resolve_class_list
from gee_crop.data.vectors import read_vector_file
from gee_crop.errors import InputError

#: the parcel table's flag columns (``gee-crop map --parcels``); a parcel with one of them true is flagged.
#: ``overlaps`` is no flag: an overlapping parcel's pixels are its own (they vote for each parcel).
FLAG_COLUMNS = ("small", "mostly_outside", "no_interior")
#: the parcel table's column of the mapped class (majority of the eroded parcel's pixels)
CLASS_COLUMN = "class"
_TRUE = {"1", "true", "yes"}


@dataclass(frozen=True)
class ParcelSample:
    """A parcel table read for assessment: per parcel (n,) ``mapped`` and ``reference`` class indices into
    ``names`` (-1: no mapped pixel / no reference label), ``flagged`` bool, ``area_ha`` (None: a table
    without geometry, or in geographic coordinates) and ``ids`` (the ``feature`` column)."""

    names: tuple[str, ...]
    mapped: np.ndarray
    reference: np.ndarray
    flagged: np.ndarray
    area_ha: np.ndarray | None
    ids: list[str]
    source: str

    def counted(self, include_flagged: bool = False) -> np.ndarray:
        """(n,) bool: the parcels of the population (mapped, and unflagged unless ``include_flagged``)."""
        return (self.mapped >= 0) & (include_flagged | ~self.flagged)


@dataclass(frozen=True)
class ParcelAccuracy:
    """Parcel-level accuracy: ``confusion`` (k, k) parcel counts, rows the map class, columns the reference;
    users'/producers' accuracies are NaN for a class without a mapped / reference parcel."""

    names: tuple[str, ...]
    confusion: np.ndarray
    include_flagged: bool
    n_flagged: int
    n_flagged_labelled: int
    flagged_correct: int
    n_unmapped: int
    n_unlabelled: int

    @property
    def n_parcels(self) -> int:
        return int(self.confusion.sum())

    @property
    def overall_accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.confusion.sum()) if self.confusion.sum() else float("nan")

    @property
    def users_accuracy(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.confusion) / self.confusion.sum(axis=1)

    @property
    def producers_accuracy(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.confusion) / self.confusion.sum(axis=0)

    def to_dict(self) -> dict:
        """Plain JSON (null where an accuracy is undefined)."""

        def number(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        flagged = "included" if self.include_flagged else "excluded"
        return {
            "overall_accuracy": number(self.overall_accuracy),
            "n_parcels": self.n_parcels,
            "correct": int(np.trace(self.confusion)),
            "classes": {
                name: {
                    "users_accuracy": number(self.users_accuracy[k]),
                    "producers_accuracy": number(self.producers_accuracy[k]),
                    "parcels_mapped": int(self.confusion[k].sum()),
                    "parcels_reference": int(self.confusion[:, k].sum()),
                }
                for k, name in enumerate(self.names)
            },
            "confusion_matrix": self.confusion.astype(int).tolist(),
            "flagged": {
                "handling": flagged,
                "parcels": self.n_flagged,
                "labelled": self.n_flagged_labelled,
                "correct": self.flagged_correct,
            },
            "unmapped_parcels": self.n_unmapped,
            "unlabelled_parcels": self.n_unlabelled,
        }


def _confusion(mapped: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (mapped, reference), 1)
    return counts


def parcel_accuracy(sample: ParcelSample, include_flagged: bool = False) -> ParcelAccuracy:
    """Accuracy over the labelled parcels of ``sample`` that have a mapped class; flagged parcels are
    counted apart and left out of the confusion matrix unless ``include_flagged``."""
    labelled = sample.reference >= 0
    used = labelled & sample.counted(include_flagged)
    flagged = labelled & (sample.mapped >= 0) & sample.flagged
    return ParcelAccuracy(
        names=sample.names,
        confusion=_confusion(sample.mapped[used], sample.reference[used], len(sample.names)),
        include_flagged=include_flagged,
        n_flagged=int(sample.flagged.sum()),
        n_flagged_labelled=int(flagged.sum()),
        flagged_correct=int((sample.mapped[flagged] == sample.reference[flagged]).sum()),
        n_unmapped=int((sample.mapped < 0).sum()),
        n_unlabelled=int((~labelled).sum()),
    )


def parcel_area_estimates(
    sample: ParcelSample, include_flagged: bool = False
) -> tuple[StratifiedEstimates | None, list[str]]:
    """Olofsson et al. (2014) area and accuracy estimates with the parcels as sampling units (see the module
    docstring for the assumption), and warnings; None (with the reason) when the table has no areas or a
    mapped class has no labelled parcel."""
    if sample.area_ha is None:
        return None, [
            f"{sample.source} has no parcel areas (a CSV, or a table in geographic coordinates): areas are "
            "not estimated; give the parcels.gpkg of `gee-crop map --parcels`"
        ]
    k = len(sample.names)
    population = sample.counted(include_flagged)
    stratum_ha = np.bincount(sample.mapped[population], weights=sample.area_ha[population], minlength=k)
    used = population & (sample.reference >= 0)
    counts = _confusion(sample.mapped[used], sample.reference[used], k)
    per_stratum = counts.sum(axis=1)
    empty = (stratum_ha > 0) & (per_stratum == 0)
    if empty.any():
        absent = ", ".join(sample.names[i] for i in np.flatnonzero(empty))
        return None, [
            f"{sample.source}: mapped class(es) {absent} have no labelled parcel, so their area cannot be "
            "attributed; areas are not estimated (label parcels of every mapped class)"
        ]
    warnings = [
        f"stratum {sample.names[i]} has 1 labelled parcel: its variance cannot be estimated, so the confidence "
        "intervals are too narrow; label more parcels of it"
        for i in np.flatnonzero(per_stratum == 1)
    ]
    return stratified_estimates(counts, stratum_ha, 1.0, sample.names), warnings


def _reference_classes(values: list, field: str, names: tuple[str, ...], legend: Legend | None, source: str) -> list:
    """Each reference value as a class name (None: unlabelled: empty, or ``exclude`` in the legend)."""
    out: list[str | None] = []
    unknown: list[str] = []
    for value in values:
        text = "" if value is None else str(value).strip()
        if not text:
            out.append(None)
            continue
        if legend is not None:
            try:
                name = legend[text]
            except KeyError:
                unknown.append(text)
                out.append(None)
                continue
            out.append(None if name == EXCLUDE else name)
        else:
            out.append(normalize_class_name(text))
    if unknown and legend is not None:
        shown = ", ".join(map(repr, sorted(set(unknown))[:5]))
        raise InputError(f"{source}: {field} value(s) {shown} are not in {legend.source}; add them to the legend")
    foreign = sorted({n for n in out if n is not None} - set(names))
    if foreign:
        fix = "give a --legend CSV (code,class) for codes" if legend is None else "fix the legend"
        raise InputError(
            f"{source}: {field} holds class name(s) {', '.join(map(repr, foreign[:5]))} not in the map's legend "
            f"({', '.join(names)}); {fix}"
        )
    return out


def _read_rows(path: Path) -> tuple[list[dict], np.ndarray | None]:
    """The table's rows and (n,) polygon areas in ha (None for a CSV or a geographic CRS)."""
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(read_text(path, "parcel table"), newline=""))), None
    geoms, props, crs = read_vector_file(path)
    if crs is None or CRS.from_user_input(crs).is_geographic:
        return props, None
    return props, shapely.area(np.array(geoms, dtype=object)) / 1e4


def read_parcel_sample(
    path: str | os.PathLike,
    reference_field: str,
    names: tuple[str, ...] | None = None,
    legend: Legend | None = None,
) -> ParcelSample:
    """The parcel table ``path`` (parcels.gpkg or parcels.csv of ``gee-crop map --parcels``) with the reference
    classes of ``reference_field``. ``names``: the map's class list (None: the paper's seven when the table's
    classes are theirs, else the table's classes in order of appearance)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"parcel table {path} does not exist; give the parcels.gpkg or parcels.csv of `gee-crop map`")
    rows, area_ha = _read_rows(path)
    source = path.name
    fields = list(dict.fromkeys(k for row in rows for k in row))
    missing = [c for c in (CLASS_COLUMN, *FLAG_COLUMNS) if c not in fields]
    if not rows or missing:
        what = "no parcel" if not rows else f"no column {', '.join(missing)}"
        raise InputError(
            f"{source} has {what}; give the parcels.gpkg or parcels.csv written by `gee-crop map --parcels`"
        )
    if reference_field not in fields:
        raise InputError(
            f"{source} has no field {reference_field!r} (its fields: {', '.join(fields)}); give the field holding "
            "the true class with --reference-field"
        )
    mapped_names = [str(row.get(CLASS_COLUMN) or "").strip() or None for row in rows]
    if names is None:
        names = resolve_class_list(tuple(dict.fromkeys(n for n in mapped_names if n)))
    outside = sorted({n for n in mapped_names if n} - set(names))
    if outside:
        raise InputError(
            f"{source}: mapped class(es) {', '.join(map(repr, outside))} are not in the map's legend "
            f"({', '.join(names)}); give the --map the table was made from"
        )
    reference = _reference_classes([row.get(reference_field) for row in rows], reference_field, names, legend, source)
    flagged = np.array([any(str(row.get(c)).strip().lower() in _TRUE for c in FLAG_COLUMNS) for row in rows])
    return ParcelSample(
        names=tuple(names),
        mapped=np.array([names.index(n) if n else -1 for n in mapped_names], dtype=np.int64),
        reference=np.array([names.index(n) if n else -1 for n in reference], dtype=np.int64),
        flagged=flagged,
        area_ha=area_ha,
        ids=[str(row.get("feature", i + 1)) for i, row in enumerate(rows)],
        source=source,
    )


def parcel_summary(
    accuracy: ParcelAccuracy, estimates: StratifiedEstimates | None, warnings: list[str], table: str, field: str
) -> dict:
    """The parcel-level assessment as plain JSON: the parcel counts' accuracy and, when estimated, the
    stratified area and accuracy estimates (``area_estimates``; null otherwise)."""
    flagged = "included in" if accuracy.include_flagged else "excluded from"
    return {
        "parcel_table": table,
        "reference_field": field,
        "unit": "parcel",
        "note": f"flagged parcels ({', '.join(FLAG_COLUMNS)}) are {flagged} the accuracy and the areas",
        **accuracy.to_dict(),
        "area_estimates": None if estimates is None else estimates.to_dict(),
        "area_assumption": "the labelled parcels are a stratified random sample of the table's parcels by mapped "
        "class (Olofsson et al. 2014 estimators, strata = mapped classes, weights = mapped parcel area)",
        "warnings": warnings,
    }
