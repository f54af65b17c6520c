"""Reference labels per country as Earth Engine graphs (METHOD.md "Reference labels").

The registry, the legends (product code -> one of the 7 classes, or ``exclude``) and the CDL accuracy
table are read by :mod:`gee_crop.countries`; here they become images: :func:`reference_labels`
returns an image with one band ``class`` (index into config.CLASSES), masked where there is no usable
label (``NO_CLASS`` on the server).
"""
from __future__ import annotations

import ee

from gee_crop.classes import CLASS_INDEX, NO_CLASS, OTHER, Legend
from gee_crop.config import CDL_COLLECTION, WORLDCOVER_IMAGE
from gee_crop.countries import DOCS, CountrySpec
from gee_crop.errors import InputError

LABEL_BAND = "class"
WORLDCOVER_CROPLAND = 40
LABEL_SCALE_M = 10  # METHOD.md: vector products are rasterized at 10 m, WGS84
LABEL_CRS = "EPSG:4326"
US_STATES = "TIGER/2018/States"


def _numeric(codes: list[str]) -> bool:
    return all(c.lstrip("-").isdigit() for c in codes)


def remap_code_image(codes: ee.Image, legend: Legend) -> ee.Image:
    """Integer product codes -> band ``class`` (masked where excluded or unmapped)."""
    keys, values, default = legend.lookup()
    classes = codes.remap([int(k) for k in keys], values, default)
    return classes.updateMask(classes.neq(NO_CLASS)).rename(LABEL_BAND)


def remap_code_table(table: ee.FeatureCollection, prop: str, legend: Legend) -> ee.Image:
    """Parcels with a code property -> band ``class`` rasterized at 10 m WGS84 (METHOD.md)."""
    keys, values, default = legend.lookup()
    lookup = ee.Dictionary(dict(zip(keys, values)))
    numeric = _numeric(keys)

    def with_class(feature: ee.Feature) -> ee.Feature:
        code = feature.get(prop)
        key = ee.Number(code).format("%d") if numeric else ee.String(code)
        return feature.set(LABEL_BAND, lookup.get(key, default))

    labelled = table.map(with_class).filter(ee.Filter.neq(LABEL_BAND, NO_CLASS))
    image = labelled.reduceToImage([LABEL_BAND], ee.Reducer.first()).rename(LABEL_BAND)
    return image.reproject(crs=LABEL_CRS, scale=LABEL_SCALE_M)


def cdl_image(year: int) -> ee.Image:
    """The CDL ``cropland`` band of ``year``."""
    return (ee.ImageCollection(CDL_COLLECTION)
            .filter(ee.Filter.calendarRange(year, year, "year"))
            .first().select("cropland"))


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

    ``accuracy`` (from :func:`gee_crop.countries.read_accuracy_table`) applies the USA per-state filter.
    """
    legend = spec.legend()
    if spec.source == "catalog":
        codes = cdl_image(year)
        classes = remap_code_image(codes, legend)
        if accuracy is not None:
            classes = classes.updateMask(accuracy_mask(codes, accuracy))
        covered = codes.mask()
    elif spec.source == "image":
        codes = ee.Image(spec.asset_id(year, project)).select(spec.code_band)
        classes = remap_code_image(codes, legend)
        covered = codes.neq(0).unmask(0)
    elif spec.source == "table":
        table = ee.FeatureCollection(spec.asset_id(year, project))
        classes = remap_code_table(table, spec.code_property, legend)
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
