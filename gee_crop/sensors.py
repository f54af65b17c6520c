"""The sensors of the method (METHOD.md "Satellite data", "Hyperspectral"): one frozen :class:`Sensor` each.

A sensor names everything a reader, a composite, an Earth Engine graph, a trainer and a model contract
need to know about its images: the collection, the bands kept and their order, the mask band and its
clear rule, the native grid, the band centres where they matter, and how stored values become
reflectance. Adding a sensor used like EMIT is one entry in :data:`SENSORS` (docs/architecture.md, "Add a
sensor used like EMIT").

Ground floor: imports nothing of gee_crop (``config`` imports it for the deprecated ``BANDS`` alias).
"""

from __future__ import annotations

import calendar
import csv
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path
from typing import TypeVar

import numpy as np

#: Cloud Score+ for Sentinel-2 (METHOD.md "Satellite data"): the ``cs`` / ``cs_cdf`` clear-sky scores.
CLOUD_SCORE_PLUS_COLLECTION = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"
#: The EMIT L2A band table shipped with the package (its PROVENANCE.md: a real EMIT header, cross-checked).
EMIT_BAND_TABLE = Path(__file__).resolve().parent / "resources" / "sensors" / "emit_l2a_bands.csv"


#: a stored value or array of them (:meth:`Sensor.reflectance`).
Stored = TypeVar("Stored", float, np.ndarray)


class ClearRule(str, Enum):
    """How a sensor's mask band says a pixel is clear."""

    SCORE_AT_LEAST = "score_at_least"
    """A clear-sky score (Cloud Score+ ``cs``, 0..1, 1 = clear): clear where score >= the threshold."""
    FLAG_NOT_SET = "flag_not_set"
    """A 0/1 flag with 1 = masked (EMIT ``cloud_flag``): clear where the flag is not 1."""


@dataclass(frozen=True)
class Sensor:
    """One sensor's images as gee-crop reads them (see the module docstring)."""

    name: str
    """Short name, stored in model contracts and sample tables (``sentinel2``, ``emit``)."""
    collection: str
    """Earth Engine image collection id."""
    product_bands: tuple[str, ...]
    """The product's reflectance bands gee-crop may keep, in model order (Earth Engine names), before
    the wavelength windows of ``excluded_nm`` remove any."""
    mask_band: str
    """The band that says whether a pixel is clear."""
    clear_rule: ClearRule
    """How ``mask_band`` is read as clear."""
    resolution_m: float
    """Native pixel size (m): the grid samples are read on."""
    scale: float = 1.0
    """reflectance = stored value x scale + offset."""
    offset: float = 0.0
    """See ``scale``."""
    fill: float | None = None
    """The stored value meaning "no data" (None: the mask alone says so)."""
    mask_collection: str | None = None
    """Collection holding ``mask_band`` when the images do not (Cloud Score+ for Sentinel-2), linked by
    ``system:index``."""
    product_wavelengths_nm: tuple[float, ...] = ()
    """Band centre (nm) of each of ``product_bands`` (empty where no rule needs them)."""
    wavelength_property: str | None = None
    """Image property listing every band's centre on the server (EMIT: ``reflectance_wavelengths``)."""
    excluded_nm: tuple[tuple[float, float], ...] = ()
    """Closed wavelength windows (nm) whose bands are dropped (atmospheric absorption)."""
    band_prefix: str | None = None
    """Product band i is named prefix + i (EMIT: ``reflectance_``), so the server can name the bands it
    keeps by wavelength (None: the bands are named one by one)."""
    first_day: date | None = None
    """The first day of the collection on Earth Engine (the catalog's extent; None: not checked)."""
    value_bytes: int = 2
    """Bytes of one value as gee-crop fetches it at the smallest exact encoding (Sentinel-2: uint16 DN;
    EMIT: float32 reflectance)."""

    def __post_init__(self) -> None:
        if self.product_wavelengths_nm and len(self.product_wavelengths_nm) != len(self.product_bands):
            raise ValueError(
                f"{self.name}: {len(self.product_wavelengths_nm)} wavelengths for {len(self.product_bands)} bands"
            )
        if self.excluded_nm and not self.product_wavelengths_nm:
            raise ValueError(f"{self.name}: wavelength windows need the band centres")
        if self.band_prefix is not None and self.product_bands != tuple(
            f"{self.band_prefix}{i}" for i in range(len(self.product_bands))
        ):
            raise ValueError(f"{self.name}: product bands are not {self.band_prefix}0, {self.band_prefix}1, ...")

    @property
    def kept_indices(self) -> tuple[int, ...]:
        """Positions in ``product_bands`` of the bands outside ``excluded_nm``."""
        return kept_indices(self.product_wavelengths_nm, self.excluded_nm, len(self.product_bands))

    @property
    def bands(self) -> tuple[str, ...]:
        """The bands a model of this sensor reads, in input order (Earth Engine names)."""
        return tuple(self.product_bands[i] for i in self.kept_indices)

    @property
    def wavelengths_nm(self) -> tuple[float, ...]:
        """Centre (nm) of each of :attr:`bands` (empty where unknown)."""
        if not self.product_wavelengths_nm:
            return ()
        return tuple(self.product_wavelengths_nm[i] for i in self.kept_indices)

    def months_before_first_day(self, year: int, months: tuple[int, ...]) -> tuple[int, ...]:
        """The months of ``year`` that end before :attr:`first_day`: the collection holds nothing there."""
        if self.first_day is None:
            return ()
        return tuple(m for m in months if date(year, m, calendar.monthrange(year, m)[1]) < self.first_day)

    @property
    def label(self) -> str:
        """The name messages and plans give the sensor (``EMIT``)."""
        return self.name.upper()

    def reflectance(self, stored: Stored) -> Stored:
        """Reflectance of stored values (``scale``, ``offset``): a number, or an array whose dtype is kept
        (Python floats do not widen a float32 array)."""
        return stored * self.scale + self.offset


def kept_indices(
    wavelengths_nm: tuple[float, ...], windows_nm: tuple[tuple[float, float], ...], n: int
) -> tuple[int, ...]:
    """Positions of the ``n`` bands whose centre lies outside every closed window (all of them when
    there are no windows)."""
    if not windows_nm:
        return tuple(range(n))
    return tuple(i for i, w in enumerate(wavelengths_nm) if not any(lo <= w <= hi for lo, hi in windows_nm))


def read_band_table(path: Path = EMIT_BAND_TABLE) -> tuple[tuple[str, ...], tuple[float, ...], tuple[int, ...]]:
    """(band names, centres nm, good-band flags) of an EMIT band table CSV (columns ``ee_band``,
    ``wavelength_nm``, ``good_wavelength``), in product order."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["index"]))
    return (
        tuple(r["ee_band"] for r in rows),
        tuple(float(r["wavelength_nm"]) for r in rows),
        tuple(int(r["good_wavelength"]) for r in rows),
    )


#: The 10 Sentinel-2 bands kept, in model order (Earth Engine names). B1, B9, B10 dropped (METHOD.md).
SENTINEL2 = Sensor(
    name="sentinel2",
    collection="COPERNICUS/S2_SR_HARMONIZED",
    product_bands=("B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"),
    mask_band="cs",
    clear_rule=ClearRule.SCORE_AT_LEAST,
    resolution_m=10.0,
    scale=1e-4,  # DN = reflectance x 10,000
    fill=0.0,  # DN 0 = no data
    mask_collection=CLOUD_SCORE_PLUS_COLLECTION,
)

#: EMIT's water-vapour windows (nm). The product's own good-band list (``good_wavelengths`` / ENVI ``bbl``)
#: marks 41 bands bad: indices 127-141 (1327.5-1431.8 nm) and 187-212 (1774.1-1959.8 nm), stored as -0.01.
#: The windows reach half a band step (~3.7 nm) past those bands, so they remove exactly the product's bad
#: bands, by wavelength, and stay so under a sub-band calibration shift: 244 of 285 kept. METHOD.md says 242;
#: no published rule gives 242 on the real band centres (the older windows 1320-1440 / 1760-1960 nm give 241,
#: dropping three bands the product calls good: 1320.1, 1439.3 and 1766.7 nm). docs/emit.md says why 244.
EMIT_WATER_VAPOUR_NM: tuple[tuple[float, float], ...] = ((1324.0, 1435.5), (1770.5, 1963.5))

_EMIT_BANDS, _EMIT_WAVELENGTHS, _ = read_band_table()

#: EMIT L2A surface reflectance in Earth Engine
#: (https://developers.google.com/earth-engine/datasets/catalog/NASA_EMIT_L2A_RFL; its catalog source
#: google/earthengine-catalog ``catalog/NASA/NASA_EMIT_L2A_RFL.jsonnet``): bands ``reflectance_0 … 284``,
#: ``reflectance_uncertainity_<i>`` (sic), flag bands ``cloud_flag``, ``cirrus_flag``, ``water_flag``,
#: ``spacecraft_flag``, ``dilated_cloud_flag``, ``aggregate_flag``; image properties ``reflectance_wavelengths``
#: and ``reflectance_fwhm``; gsd 60 m. Reflectance is stored as reflectance (0..1), -9999 = fill.
EMIT = Sensor(
    name="emit",
    collection="NASA/EMIT/L2A/RFL",
    product_bands=_EMIT_BANDS,
    mask_band="cloud_flag",
    clear_rule=ClearRule.FLAG_NOT_SET,
    resolution_m=60.0,
    fill=-9999.0,
    product_wavelengths_nm=_EMIT_WAVELENGTHS,
    wavelength_property="reflectance_wavelengths",
    excluded_nm=EMIT_WATER_VAPOUR_NM,
    band_prefix="reflectance_",
    # the catalog's extent (google/earthengine-catalog catalog/NASA/NASA_EMIT_L2A_RFL.jsonnet:
    # ee.extent_global('2022-08-09T00:00:00Z', null))
    first_day=date(2022, 8, 9),
    value_bytes=4,
)

#: Every sensor by name (model contracts and sample tables store the name).
SENSORS: dict[str, Sensor] = {s.name: s for s in (SENTINEL2, EMIT)}


def medians_sensor_names() -> tuple[str, ...]:
    """The sensors ``sample --medians`` may sample beside the Sentinel-2 series: every sensor but Sentinel-2."""
    return tuple(name for name, sensor in SENSORS.items() if sensor != SENTINEL2)


def sensor_named(name: str) -> Sensor:
    """The sensor of ``name``; ValueError naming the known ones otherwise."""
    try:
        return SENSORS[name]
    except KeyError:
        raise ValueError(f"unknown sensor {name!r}; gee-crop knows {', '.join(SENSORS)}") from None
