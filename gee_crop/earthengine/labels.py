"""Reference labels per country (METHOD.md "Reference labels"): registry, class mappings, ee graphs.

The registry (``resources/labels/countries.yaml``) names each country's product, where its asset is
(the USA's CDL is in the catalog; the others are assets the user uploads) and a shipped mapping table
(product code -> one of the 7 classes, or ``exclude``). :func:`reference_labels` returns an image
with one band ``class`` (index into config.CLASSES), masked where there is no usable label.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import ee
import yaml

from gee_crop.config import CDL_COLLECTION, CLASS_INDEX, CLASSES, OTHER, WORLDCOVER_IMAGE
from gee_crop.errors import InputError, RegionError

LABEL_BAND = "class"
NO_LABEL = 255
EXCLUDE = "exclude"
DEFAULT_CODE = "*"
WORLDCOVER_CROPLAND = 40
LABEL_SCALE_M = 10  # METHOD.md: vector products are rasterized at 10 m, WGS84
LABEL_CRS = "EPSG:4326"
US_STATES = "TIGER/2018/States"
TARGET_MIN_ACCURACY = 85.0  # METHOD.md: per target class, producer and user accuracy > 85 %
OTHER_MIN_ACCURACY = 80.0  # ... and > 80 % for the codes mapped to "other"
DOCS = "docs/earthengine.md#label-assets"


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
            raise InputError(f"the {self.code} labels are a user asset under a Cloud project; pass "
                             f"--project MY-PROJECT (the project that holds {self.asset})")
        return self.asset.format(project=project, year=year)


def _resource(name: str):
    return resources.files("gee_crop.resources").joinpath(f"labels/{name}")


def registry() -> dict[str, CountrySpec]:
    """Country code -> :class:`CountrySpec`, from the shipped countries.yaml."""
    with _resource("countries.yaml").open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return {code: CountrySpec(code=code, **{**entry, "extent": tuple(entry["extent"])})
            for code, entry in raw.items()}


def country_spec(code: str) -> CountrySpec:
    """The registry entry of ``code`` (ISO3, any case); RegionError listing the supported ones."""
    known = registry()
    spec = known.get(code.upper())
    if spec is None:
        raise RegionError(
            f"no reference labels are registered for country {code!r}; use one of "
            f"{', '.join(sorted(known))}, or sample your own labels with --source STACK --labels RASTER")
    return spec


def read_mapping(name: str) -> dict[str, str]:
    """A shipped mapping table: product code (str) -> class name or 'exclude' ('*' = default)."""
    with _resource(name).open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    mapping = {row["code"].strip(): row["gee_crop_class"].strip() for row in rows}
    bad = sorted({c for c in mapping.values() if c != EXCLUDE and c not in CLASS_INDEX})
    if bad:
        raise InputError(f"mapping table {name} uses unknown classes {bad}; use one of "
                         f"{', '.join(CLASSES)} or {EXCLUDE}")
    return mapping


def mapping_lookup(mapping: dict[str, str]) -> tuple[list[str], list[int], int]:
    """(codes, class index or NO_LABEL per code, default index or NO_LABEL) for server-side remaps."""
    def index(name: str) -> int:
        return NO_LABEL if name == EXCLUDE else CLASS_INDEX[name]

    codes = [c for c in mapping if c != DEFAULT_CODE]
    return codes, [index(mapping[c]) for c in codes], index(mapping.get(DEFAULT_CODE, EXCLUDE))


def _numeric(codes: list[str]) -> bool:
    return all(c.lstrip("-").isdigit() for c in codes)


def remap_code_image(codes: ee.Image, mapping: dict[str, str]) -> ee.Image:
    """Integer product codes -> band ``class`` (masked where excluded or unmapped)."""
    keys, values, default = mapping_lookup(mapping)
    classes = codes.remap([int(k) for k in keys], values, default)
    return classes.updateMask(classes.neq(NO_LABEL)).rename(LABEL_BAND)


def remap_code_table(table: ee.FeatureCollection, prop: str, mapping: dict[str, str]) -> ee.Image:
    """Parcels with a code property -> band ``class`` rasterized at 10 m WGS84 (METHOD.md)."""
    keys, values, default = mapping_lookup(mapping)
    lookup = ee.Dictionary(dict(zip(keys, values)))
    numeric = _numeric(keys)

    def with_class(feature: ee.Feature) -> ee.Feature:
        code = feature.get(prop)
        key = ee.Number(code).format("%d") if numeric else ee.String(code)
        return feature.set(LABEL_BAND, lookup.get(key, default))

    labelled = table.map(with_class).filter(ee.Filter.neq(LABEL_BAND, NO_LABEL))
    image = labelled.reduceToImage([LABEL_BAND], ee.Reducer.first()).rename(LABEL_BAND)
    return image.reproject(crs=LABEL_CRS, scale=LABEL_SCALE_M)


def cdl_image(year: int) -> ee.Image:
    """The CDL ``cropland`` band of ``year``."""
    return (ee.ImageCollection(CDL_COLLECTION)
            .filter(ee.Filter.calendarRange(year, year, "year"))
            .first().select("cropland"))


def read_accuracy_table(year: int, path: str | Path | None = None) -> dict[int, set[int]]:
    """CDL code -> state FIPS codes passing METHOD.md's accuracy filter for ``year``.

    Reads ``path`` or the shipped ``cdl_state_accuracy.csv``; InputError naming the fix when the year
    has no rows.
    """
    mapping = read_mapping("cdl_remap.csv")
    if path is None:
        fh = _resource("cdl_state_accuracy.csv").open(encoding="utf-8")
    else:
        fh = open(path, encoding="utf-8")
    with fh:
        rows = [r for r in csv.DictReader(line for line in fh if not line.startswith("#"))
                if int(r["year"]) == year]
    if not rows:
        raise InputError(
            f"no per-state CDL accuracies for {year}; fill cdl_state_accuracy.csv from the NASS CDL "
            f"metadata pages and pass it with --cdl-accuracy FILE, or skip the filter with "
            f"--no-accuracy-filter (see {DOCS})")
    allowed: dict[int, set[int]] = {}
    for r in rows:
        code = int(r["code"])
        target = mapping.get(str(code), mapping.get(DEFAULT_CODE)) not in (OTHER, EXCLUDE)
        limit = TARGET_MIN_ACCURACY if target else OTHER_MIN_ACCURACY
        if float(r["producer_accuracy"]) > limit and float(r["user_accuracy"]) > limit:
            allowed.setdefault(code, set()).add(int(r["state_fips"]))
    return allowed


def accuracy_mask(cdl: ee.Image, allowed: dict[int, set[int]]) -> ee.Image:
    """1 where a pixel's CDL code is accurate enough in its state (codes absent: never)."""
    states = ee.FeatureCollection(US_STATES).map(
        lambda f: f.set("fips", ee.Number.parse(f.get("STATEFP"))))
    state = states.reduceToImage(["fips"], ee.Reducer.first())
    ok = ee.Image.constant(0)
    for code, fips in sorted(allowed.items()):
        fips = sorted(fips)
        ok = ok.where(cdl.eq(code).And(state.remap(fips, [1] * len(fips), 0)), 1)
    return ok


def worldcover_other(classes: ee.Image, covered: ee.Image) -> ee.Image:
    """``classes`` plus "other" on WorldCover cropland (class 40) not covered by the product."""
    worldcover = ee.ImageCollection(WORLDCOVER_IMAGE).first().select("Map")
    other = ee.Image.constant(CLASS_INDEX[OTHER]).updateMask(
        worldcover.eq(WORLDCOVER_CROPLAND).And(covered.Not()))
    return classes.unmask(other).rename(LABEL_BAND)


def reference_labels(spec: CountrySpec, year: int, *, project: str | None = None,
                     accuracy: dict[int, set[int]] | None = None) -> ee.Image:
    """The country's label image: band ``class`` (int index of config.CLASSES), masked elsewhere.

    ``accuracy`` (from :func:`read_accuracy_table`) applies the USA per-state filter.
    """
    mapping = read_mapping(spec.mapping)
    if spec.source == "catalog":
        codes = cdl_image(year)
        classes = remap_code_image(codes, mapping)
        if accuracy is not None:
            classes = classes.updateMask(accuracy_mask(codes, accuracy))
        covered = codes.mask()
    elif spec.source == "image":
        codes = ee.Image(spec.asset_id(year, project)).select(spec.code_band)
        classes = remap_code_image(codes, mapping)
        covered = codes.neq(0).unmask(0)
    elif spec.source == "table":
        table = ee.FeatureCollection(spec.asset_id(year, project))
        classes = remap_code_table(table, spec.code_property, mapping)
        covered = ee.Image.constant(0).paint(table, 1)
    else:
        raise ValueError(f"unknown label source {spec.source!r} in countries.yaml")
    if spec.worldcover_other:
        classes = worldcover_other(classes, covered)
    return classes.toUint8().rename(LABEL_BAND)


def check_label_asset(client, spec: CountrySpec, year: int, project: str | None) -> str | None:
    """The user asset id when it exists; InputError naming the asset to upload when it does not.

    Catalog products (USA) need no upload and return None.
    """
    if spec.source == "catalog":
        return None
    asset_id = spec.asset_id(year, project)
    if client.get_asset(asset_id) is None:
        what = spec.upload.format(year=year, yy=f"{year % 100:02d}") or spec.product
        raise InputError(
            f"the {spec.code} label asset {asset_id} does not exist; upload {what} to that id "
            f"(Code Editor > Assets > New, or `earthengine upload table --asset_id={asset_id} FILE`), "
            f"see {DOCS}")
    return asset_id
