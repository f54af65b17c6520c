"""Countries with registered reference labels: the registry, their outlines and the CDL accuracy table.

Everything here is plain data read from ``gee_crop/resources`` (no Earth Engine, no network):

* the registry (``resources/labels/countries.yaml``): each country's label product, where its asset
  is and its mapping table (a :class:`gee_crop.classes.Legend`: product code -> class, or ``exclude``);
* the outlines (``resources/countries/outlines.geojson``: Natural Earth 1:50m, public domain, see
  the PROVENANCE.md beside it), used offline to validate regions and plan sampling tiles; on Earth
  Engine the boundary comes from the catalog (``earthengine.sampling.country_boundary``);
* the per-state CDL accuracies (``resources/labels/cdl_state_accuracy.csv``) behind METHOD.md's USA
  accuracy filter.

The Earth Engine graphs of the labels (remaps, CDL, the accuracy mask) are built in
``gee_crop.earthengine.labels`` from what this module reads.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import shapely
import yaml
from shapely import geometry as sg

from gee_crop.classes import DEFAULT_CODE, EXCLUDE, OTHER, Legend, read_text
from gee_crop.errors import InputError, RegionError

if TYPE_CHECKING:
    from importlib.abc import Traversable  # importlib.resources.abc from Python 3.11 on

TARGET_MIN_ACCURACY = 85.0  # METHOD.md: per target class, producer and user accuracy > 85 %
OTHER_MIN_ACCURACY = 80.0  # ... and > 80 % for the codes mapped to "other"
DOCS = "docs/earthengine.md#label-assets"
OUTLINES = "countries/outlines.geojson"
CDL_LEGEND = "cdl_remap.csv"


@dataclass(frozen=True)
class CountrySpec:
    """One registry entry (see countries.yaml for the meaning of each field)."""

    code: str
    product: str
    source: str
    asset: str
    mapping: str
    per_cell: int
    extent: tuple[float, float, float, float]
    code_band: str | None = None
    code_property: str | None = None
    worldcover_other: bool = False
    accuracy_filter: bool = False
    upload: str = ""

    def asset_id(self, year: int, project: str | None) -> str:
        """The label asset of ``year``; user assets live under ``project``."""
        if "{project}" in self.asset and not project:
            raise InputError(
                f"the {self.code} labels are a user asset under a Cloud project; pass "
                f"--project MY-PROJECT (the project that holds {self.asset})"
            )
        return self.asset.format(project=project, year=year)

    def legend(self) -> Legend:
        """The shipped mapping table of the product: product code -> class name or EXCLUDE."""
        return Legend.shipped(self.mapping)


def _resource(name: str) -> Traversable:
    return resources.files("gee_crop.resources").joinpath(name)


def _label_resource(name: str) -> Traversable:
    return _resource(f"labels/{name}")


def registry() -> dict[str, CountrySpec]:
    """Country code -> :class:`CountrySpec`, from the shipped countries.yaml."""
    with _label_resource("countries.yaml").open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return {code: CountrySpec(code=code, **{**entry, "extent": tuple(entry["extent"])}) for code, entry in raw.items()}


def country_spec(code: str) -> CountrySpec:
    """The registry entry of ``code`` (ISO3, any case); RegionError listing the supported ones."""
    known = registry()
    spec = known.get(code.upper())
    if spec is None:
        raise RegionError(
            f"no reference labels are registered for country {code!r}; use one of "
            f"{', '.join(sorted(known))}, or bring your own labels: --region AOI.geojson --labels FILE "
            "--label-field NAME --legend CSV"
        )
    return spec


# ------------------------------------------------------------------ outlines


@lru_cache(maxsize=1)
def country_outlines() -> dict[str, sg.base.BaseGeometry]:
    """ISO3 -> WGS84 (Multi)Polygon of every registered country (Natural Earth 1:50m, simplified
    to 0.005 deg; see resources/countries/PROVENANCE.md)."""
    with _resource(OUTLINES).open(encoding="utf-8") as fh:
        collection = json.load(fh)
    return {f["properties"]["iso3"]: sg.shape(f["geometry"]) for f in collection["features"]}


def country_geometry(iso3: str) -> sg.base.BaseGeometry:
    """WGS84 (Multi)Polygon of a registered country; RegionError naming the codes otherwise."""
    code = iso3.strip().upper()
    outlines = country_outlines()
    if code not in outlines:
        raise RegionError(
            f"{iso3!r} is not the ISO 3166-1 alpha-3 code of a country with registered labels "
            f"({', '.join(sorted(outlines))}); give one of them, or a GeoJSON file with --region"
        )
    return outlines[code]


def country_region(iso3: str) -> sg.base.BaseGeometry:
    """The part of a registered country its labels cover: its outline within the registry's ``extent``
    (metropolitan France, not its overseas departments); what ``sample`` and ``map --country`` cover."""
    spec = country_spec(iso3)
    return country_geometry(spec.code).intersection(sg.box(*spec.extent))


def country_of(geometry: sg.base.BaseGeometry) -> CountrySpec:
    """The registered country that holds most of ``geometry`` (WGS84); RegionError when none does."""
    best, overlap = None, 0.0
    for spec in registry().values():
        area = shapely.intersection(geometry, country_geometry(spec.code)).area
        if area > overlap:
            best, overlap = spec, area
    if best is None:
        raise RegionError(
            "the region is not inside a country with registered reference labels "
            f"({', '.join(registry())}); give a region there, or use "
            "--labels FILE --label-field NAME --legend CSV for your own labels"
        )
    return best


# ------------------------------------------------------------ CDL accuracy


def read_accuracy_table(year: int, path: str | Path | None = None) -> dict[int, set[int]]:
    """CDL code -> state FIPS codes passing METHOD.md's accuracy filter for ``year``.

    Reads ``path`` or the shipped ``cdl_state_accuracy.csv``; InputError naming the fix when the year
    has no rows.
    """
    legend = Legend.shipped(CDL_LEGEND)
    source = _label_resource("cdl_state_accuracy.csv") if path is None else Path(path)
    lines = io.StringIO(read_text(source, "CDL accuracy table"), newline="")  # the one text reader (UTF-8)
    rows = [r for r in csv.DictReader(line for line in lines if not line.startswith("#")) if int(r["year"]) == year]
    if not rows:
        raise InputError(
            f"no per-state CDL accuracies for {year}; fill cdl_state_accuracy.csv from the NASS CDL "
            f"metadata pages and pass it with --cdl-accuracy FILE, or skip the filter with "
            f"--no-accuracy-filter (see {DOCS})"
        )
    allowed: dict[int, set[int]] = {}
    for r in rows:
        code = int(r["code"])
        target = legend.get(str(code), legend.get(DEFAULT_CODE)) not in (OTHER, EXCLUDE)
        limit = TARGET_MIN_ACCURACY if target else OTHER_MIN_ACCURACY
        if float(r["producer_accuracy"]) > limit and float(r["user_accuracy"]) > limit:
            allowed.setdefault(code, set()).add(int(r["state_fips"]))
    return allowed
