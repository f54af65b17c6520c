"""Reference labels as Earth Engine graphs (METHOD.md "Reference labels"): per country, or a user's own.

The registry, the legends (product code -> one of the 7 classes, or ``exclude``) and the CDL accuracy
table are read by :mod:`gee_crop.countries`; here they become images: :func:`reference_labels`
returns an image with one band ``class`` (index into config.CLASSES), masked where there is no usable
label (``NO_CLASS`` on the server).

A user's own labels (``sample --labels``) are points or polygons with a class index property: small
files travel inside the request (:func:`inline_labels`), larger ones as a table asset
(:func:`asset_labels`); :func:`split_points` separates the points (sampled as they are) from the
polygons (painted, buffered and grid-sampled like a country's labels).
"""

from __future__ import annotations

import json
from typing import cast

import ee

from gee_crop.classes import CLASS_INDEX, NO_CLASS, OTHER, Legend
from gee_crop.config import CDL_COLLECTION, WORLDCOVER_IMAGE
from gee_crop.countries import DOCS, CountrySpec
from gee_crop.earthengine.client import DEFAULT_PAGE_SIZE, REQUEST_PAYLOAD_LIMIT, request_body_bytes
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


def code_key(code: ee.ComputedObject, numeric: bool, by_name: bool = False) -> ee.String:
    """A parcel's code as the text the legend is keyed by.

    All-digit tables (BEL ``GWSCOD_H``, NLD ``gewascode``) are keyed by the integer without leading
    zeros, but the property may be a number or a string (the Flemish parcel files hold "0201"):
    ``Number.format`` needs a Number and ``Number.parse`` a String, so the property goes through
    ``ee.Algorithms.String`` (any object -> its text) and ``Number.parse`` first
    (https://developers.google.com/earth-engine/apidocs/ee-number-parse). A code stored as a double
    (201.0, a DBF numeric field) parses to a double, and ``Number.format('%d')`` is Java's Formatter,
    which refuses a double (https://developers.google.com/earth-engine/apidocs/ee-number-format): the
    number is made a long first (``toLong``). A ``by_name`` legend
    (``--classes``) matches class names as :func:`gee_crop.classes.normalize_class_name` does: trimmed,
    lower case, runs of blanks, '-' and '/' made one '_'.
    """
    text = ee.String(ee.Algorithms.String(code))
    if by_name:
        return text.trim().toLowerCase().replace("[\\s/-]+", "_", "g")
    return ee.Number.parse(text).toLong().format("%d") if numeric else text


def remap_code_table(
    table: ee.FeatureCollection, prop: str, legend: Legend, region: ee.Geometry | None = None
) -> ee.Image:
    """Parcels with a code property -> band ``class`` rasterized at 10 m WGS84 (METHOD.md).

    With ``region``, only the parcels there are labelled and painted (``filterBounds`` first: a
    national table has millions of parcels). ``Image.paint`` burns each parcel's class into an image
    (https://developers.google.com/earth-engine/apidocs/ee-image-paint), which is cheaper than a
    per-pixel ``reduceToImage`` over the whole collection.
    """
    parcels = table if region is None else table.filterBounds(region)
    return paint_classes(with_class_property(parcels, prop, legend))


def with_class_property(table: ee.FeatureCollection, prop: str, legend: Legend) -> ee.FeatureCollection:
    """The features of ``table`` with property ``class`` = the class index of their ``prop`` code
    (``legend``); features whose code is excluded are left out."""
    keys, values, default = legend.lookup()
    lookup = ee.Dictionary(dict(zip(keys, values)))
    numeric = _numeric(keys) and not legend.by_name

    def with_class(feature: ee.Feature) -> ee.Feature:
        # Element.set returns the element's own class (a Feature); the ee stubs say Element
        return cast(
            ee.Feature,
            feature.set(LABEL_BAND, lookup.get(code_key(feature.get(prop), numeric, legend.by_name), default)),
        )

    return table.map(with_class).filter(ee.Filter.neq(LABEL_BAND, NO_CLASS))


def painted_classes(parcels: ee.FeatureCollection) -> ee.Image:
    """Polygons with a ``class`` property -> band ``class`` (uint8 class index, masked elsewhere), painted
    on whatever grid the consumer requests (``Image.paint``,
    https://developers.google.com/earth-engine/apidocs/ee-image-paint)."""
    image = ee.Image.constant(NO_CLASS).toUint8().paint(parcels, LABEL_BAND)
    return image.updateMask(image.neq(NO_CLASS)).rename(LABEL_BAND)


def paint_classes(parcels: ee.FeatureCollection) -> ee.Image:
    """Polygons with a ``class`` property -> band ``class`` rasterized at 10 m WGS84 (METHOD.md)."""
    return painted_classes(parcels).reproject(crs=LABEL_CRS, scale=LABEL_SCALE_M)


def cdl_image(year: int) -> ee.Image:
    """The CDL ``cropland`` band of ``year``."""
    return (
        ee.ImageCollection(CDL_COLLECTION)
        .filter(ee.Filter.calendarRange(year, year, "year"))
        .first()
        .select("cropland")
    )


def accuracy_mask(cdl: ee.Image, allowed: dict[int, set[int]]) -> ee.Image:
    """1 where a pixel's CDL code is accurate enough in its state (codes absent: never)."""
    states = ee.FeatureCollection(US_STATES).map(lambda f: f.set("fips", ee.Number.parse(f.get("STATEFP"))))
    state = states.reduceToImage(["fips"], ee.Reducer.first())
    ok = ee.Image.constant(0)
    for code, states_of_code in sorted(allowed.items()):
        fips = sorted(states_of_code)
        ok = ok.where(cdl.eq(code).And(state.remap(fips, [1] * len(fips), 0)), 1)
    return ok


def worldcover_other(classes: ee.Image, covered: ee.Image) -> ee.Image:
    """``classes`` plus "other" on WorldCover cropland (class 40) not covered by the product."""
    worldcover = ee.ImageCollection(WORLDCOVER_IMAGE).first().select("Map")
    other = ee.Image.constant(CLASS_INDEX[OTHER]).updateMask(worldcover.eq(WORLDCOVER_CROPLAND).And(covered.Not()))
    return classes.unmask(other).rename(LABEL_BAND)


def reference_labels(
    spec: CountrySpec,
    year: int,
    *,
    project: str | None = None,
    accuracy: dict[int, set[int]] | None = None,
    region: ee.Geometry | None = None,
) -> ee.Image:
    """The country's label image: band ``class`` (int index of config.CLASSES), masked elsewhere.

    ``accuracy`` (from :func:`gee_crop.countries.read_accuracy_table`) applies the USA per-state
    filter; ``region`` (a tile) limits table labels to the parcels there.
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
        if region is not None:
            table = table.filterBounds(region)
        assert spec.code_property is not None, "a table source names its code property (countries.yaml)"
        classes = remap_code_table(table, spec.code_property, legend)
        covered = ee.Image.constant(0).paint(table, 1)
    else:
        raise ValueError(f"unknown label source {spec.source!r} in countries.yaml")
    if spec.worldcover_other:
        classes = worldcover_other(classes, covered)
    return classes.toUint8().rename(LABEL_BAND)


def upload_command_lines(spec: CountrySpec, asset_id: str, source: str | None = None) -> list[str]:
    """The two shell commands that upload a country's label file ``source`` to ``asset_id``.

    ``earthengine upload`` takes Cloud Storage sources only: its ``_check_valid_files`` raises "Invalid
    Cloud Storage URL" for anything but ``gs://`` (google/earthengine-api python/ee/cli/commands.py;
    https://developers.google.com/earth-engine/guides/command_line#upload), so the file goes to a bucket
    first (``gcloud storage cp``). Label rasters are class codes: their pyramids must take the MODE
    (``upload image --pyramiding_policy``, same file), not the default MEAN that averages codes at field
    edges (https://developers.google.com/earth-engine/guides/image_upload#pyramiding-policy).
    """
    if spec.source == "image":
        name = source or "LABELS.tif"
        upload = f"earthengine upload image --asset_id={asset_id} --pyramiding_policy=MODE gs://BUCKET/{name}"
    else:
        name = source or "PARCELS.zip"  # a zipped shapefile (or a CSV)
        upload = f"earthengine upload table --asset_id={asset_id} gs://BUCKET/{name}"
    return [f"gcloud storage cp {name} gs://BUCKET/", upload]


def upload_commands(spec: CountrySpec, asset_id: str) -> str:
    """:func:`upload_command_lines` as one line of prose (for error messages)."""
    copy, upload = upload_command_lines(spec, asset_id)
    what = " (a zipped shapefile)" if spec.source != "image" else ""
    return f"`{copy}`{what} then `{upload}`"


def check_label_asset(client, spec: CountrySpec, year: int, project: str | None) -> str | None:
    """The user asset id when it exists; InputError naming the asset and how to upload it when not.

    The folder of the asset is created on the way (an upload does not create missing folders).
    Catalog products (USA) need no upload and return None.
    """
    if spec.source == "catalog":
        return None
    asset_id = spec.asset_id(year, project)
    if client.get_asset(asset_id) is None:
        client.ensure_folder(asset_id.rsplit("/", 1)[0])
        what = spec.upload.format(year=year, yy=f"{year % 100:02d}") or spec.product
        raise InputError(
            f"the {spec.code} label asset {asset_id} does not exist; upload {what} to that id "
            f"(Code Editor > Assets > New, or {upload_commands(spec, asset_id)}), see {DOCS}"
        )
    return asset_id


# ----------------------------------------------------------------------------- a user's own labels

#: The service refuses a request whose body exceeds 10,485,760 bytes ("Request payload size exceeds the
#: limit: 10485760 bytes.", the error quoted in gee-community/geemap#1013 and VeinsOfTheEarth/rabpro#75).
#: A file's compact GeoJSON over INLINE_LABELS_LIMIT is refused when it is read (it can never fit); what
#: decides is each tile's request body as the client serializes it (:func:`check_request_size`), which
#: is 1.6-2.1 x the GeoJSON (each feature becomes ``Feature`` / ``GeometryConstructors`` invocations,
#: written by ``json.dumps`` with its default separators), against the limit less a margin.
INLINE_LABELS_LIMIT = 8 * 1024 * 1024
#: Fraction of the limit a tile's computeFeatures body may take: an export request carries a few hundred
#: bytes more (description, asset id) than the computeFeatures body measured here.
REQUEST_MARGIN = 0.95
POINT_TYPES = ("Point", "MultiPoint")
POLYGON_TYPES = ("Polygon", "MultiPolygon")
GEOMETRY_TYPE = "gee_crop_geometry_type"


#: How to upload labels as a table asset (https://developers.google.com/earth-engine/guides/table_upload;
#: the command-line tool reads Cloud Storage only, https://developers.google.com/earth-engine/guides/command_line#upload).
def upload_route(option: str, name: str) -> str:
    """How to upload a vector file as a table asset and pass its id to ``option`` (``name``: its stem)."""
    return (
        f"upload it as a table asset (Code Editor > Assets > New > Shape files or CSV, or `gcloud storage cp "
        f"{name}.zip gs://BUCKET/` then `earthengine upload table --asset_id=projects/PROJECT/assets/{name} "
        f"gs://BUCKET/{name}.zip`) and pass {option} projects/PROJECT/assets/{name}"
    )


UPLOAD_ROUTE = upload_route("--labels", "labels")


def inline_payload_bytes(geojson: dict) -> int:
    """Bytes the labels add to a request (their compact GeoJSON text)."""
    return len(json.dumps(geojson, separators=(",", ":")).encode("utf-8"))


def check_inline_size(geojson: dict, source: str, limit: int = INLINE_LABELS_LIMIT) -> int:
    """The labels' payload bytes; InputError naming the upload route when they are too large to travel
    inside a request."""
    size = inline_payload_bytes(geojson)
    if size > limit:
        raise InputError(
            f"{source} is {size / 2**20:.1f} MiB as GeoJSON, more than the {limit / 2**20:.0f} MiB of "
            f"labels that fit in an Earth Engine request (the service refuses requests over "
            f"{REQUEST_PAYLOAD_LIMIT:,} bytes); {UPLOAD_ROUTE}"
        )
    return size


def check_request_size(graph: ee.ComputedObject, what: str, source: str, margin: float = REQUEST_MARGIN) -> int:
    """The body bytes of ``graph``'s computeFeatures request as the client serializes it
    (``client.request_body_bytes``); InputError naming the upload route when it is over ``margin`` x the
    service's limit (an export of the same graph is no smaller)."""
    size = request_body_bytes({"expression": graph, "pageSize": DEFAULT_PAGE_SIZE})
    if size > margin * REQUEST_PAYLOAD_LIMIT:
        raise InputError(
            f"the request of {what} would be {size:,} bytes with the labels of {source} inside it, more than "
            f"Earth Engine accepts ({REQUEST_PAYLOAD_LIMIT:,} bytes, less a {1 - margin:.0%} margin); use a "
            f"smaller --tile-deg, or {UPLOAD_ROUTE}"
        )
    return size


def inline_labels(geojson: dict) -> ee.FeatureCollection:
    """Labels that travel inside the request: a client-side FeatureCollection (each feature's ``class``
    property already holds its class index)."""
    return ee.FeatureCollection(geojson)


def asset_labels(asset_id: str, field: str, legend: Legend, region: ee.Geometry | None = None) -> ee.FeatureCollection:
    """Labels of a table asset: the features in ``region`` with ``class`` from their ``field`` value."""
    table = ee.FeatureCollection(asset_id)
    if region is not None:
        table = table.filterBounds(region)
    return with_class_property(table, field, legend)


def split_points(labels: ee.FeatureCollection) -> tuple[ee.FeatureCollection, ee.FeatureCollection]:
    """(points, polygons) of a label collection, by each feature's geometry type on the server."""
    typed = labels.map(lambda f: f.set(GEOMETRY_TYPE, f.geometry().type()))
    return (
        typed.filter(ee.Filter.inList(GEOMETRY_TYPE, list(POINT_TYPES))),
        typed.filter(ee.Filter.inList(GEOMETRY_TYPE, list(POLYGON_TYPES))),
    )


def check_table_asset(client, asset_id: str) -> None:
    """InputError naming the upload route when the label table asset does not exist."""
    if client.get_asset(asset_id) is None:
        raise InputError(f"the label table asset {asset_id} does not exist (or you cannot read it); {UPLOAD_ROUTE}")
