"""EMIT L2A surface reflectance on Earth Engine (METHOD.md "Hyperspectral"): graph builders only.

The collection, the mask band and the water-vapour windows come from :data:`gee_crop.sensors.EMIT`. Facts
from the Earth Engine catalog (https://developers.google.com/earth-engine/datasets/catalog/NASA_EMIT_L2A_RFL,
its source google/earthengine-catalog ``catalog/NASA/NASA_EMIT_L2A_RFL.jsonnet``): the reflectance bands are
``reflectance_0 … reflectance_284``, the uncertainty bands ``reflectance_uncertainity_<i>`` (sic), the mask
bands ``cloud_flag``, ``cirrus_flag``, ``water_flag``, ``spacecraft_flag``, ``dilated_cloud_flag`` and
``aggregate_flag`` (0/1, 1 = flagged; there is no ``cloud_mask`` band); the image properties
``reflectance_wavelengths`` and ``reflectance_fwhm`` list the 285 band centres and widths; 60 m pixels.
Bands are chosen by NAME, never by position (newer mask products carry more bands), and the names kept are
those whose centre, read from each image's ``reflectance_wavelengths``, lies outside the sensor's windows
(244 of 285 on the real band table: docs/emit.md says why not 241 or 242).

The monthly-medians graphs take the :class:`~gee_crop.sensors.Sensor` whole, so they serve any sensor sampled
like EMIT (``sample --medians SENSOR``; docs/architecture.md, "Add a sensor used like EMIT"): its clear mask
follows its ``clear_rule`` (:func:`clear_mask`), its bands are named on the server from each image's band
centres where the sensor has them (``wavelength_property``), else they are ``sensor.bands``.
"""

from __future__ import annotations

import functools

import ee

from gee_crop.config import Hemisphere
from gee_crop.earthengine.labels import LABEL_BAND
from gee_crop.errors import InputError
from gee_crop.sensors import EMIT, ClearRule, Sensor

#: The months of METHOD.md: June and August in the north (on their common cloud-free pixels); February
#: alone in the south (the method had no November 2022 data).
NORTH_MONTHS: tuple[int, ...] = (6, 8)
SOUTH_MONTHS: tuple[int, ...] = (2,)


def season_months(hemisphere: Hemisphere) -> tuple[int, ...]:
    """The months whose medians are the EMIT features of a place in ``hemisphere``."""
    return SOUTH_MONTHS if hemisphere == "south" else NORTH_MONTHS


def month_suffix(month: int) -> str:
    """The suffix of a month's median bands: ``_m06``."""
    return f"_m{int(month):02d}"


def kept_band_names(image: ee.Image, sensor: Sensor = EMIT) -> ee.List:
    """Names of the bands of ``image`` whose centre (its ``sensor.wavelength_property``) lies outside every
    window of ``sensor.excluded_nm``, in product order: computed on the server, from the image's own list."""
    prefix = sensor.band_prefix
    assert sensor.wavelength_property is not None and prefix is not None, "a sensor with band centres"
    wavelengths = ee.List(image.get(sensor.wavelength_property))

    def name_if_kept(index: ee.Number) -> ee.ComputedObject:
        centre = ee.Number(wavelengths.get(index))
        inside = functools.reduce(
            lambda acc, window: acc.Or(centre.gte(window[0]).And(centre.lte(window[1]))),
            sensor.excluded_nm,
            ee.Number(0),
        )
        name = ee.String(prefix).cat(ee.Number(index).toLong().format("%d"))
        return ee.Algorithms.If(inside, None, name)

    return ee.List.sequence(0, wavelengths.size().subtract(1)).map(name_if_kept, True)


def clear_mask(image: ee.Image, sensor: Sensor = EMIT) -> ee.Image:
    """1 where ``sensor.mask_band`` of ``image`` says clear, by ``sensor.clear_rule`` (a sensor whose mask needs
    a new rule adds its branch here)."""
    if sensor.clear_rule == ClearRule.FLAG_NOT_SET:
        return image.select(sensor.mask_band).neq(1)  # flag 1 = masked (EMIT catalog: 0/1 flags)
    raise ValueError(f"{sensor.name}: its clear rule {sensor.clear_rule.value} is not one of monthly medians")


def masked_text(sensor: Sensor) -> str:
    """What :func:`clear_mask` leaves out, as a plan says it (``cloud_flag 1 excluded``)."""
    return f"{sensor.mask_band} 1 excluded"


def clear_reflectance(image: ee.Image, sensor: Sensor = EMIT, bands: ee.List | list[str] | None = None) -> ee.Image:
    """The kept reflectance bands of one image (stored values x ``sensor.scale`` + ``offset``), masked where
    :func:`clear_mask` is not clear or a stored value is the fill. ``bands``: the names to keep (None:
    :func:`kept_band_names` of the image where the sensor names its bands by wavelength, else ``sensor.bands``)."""
    if bands is None:
        bands = kept_band_names(image, sensor) if sensor.wavelength_property is not None else list(sensor.bands)
    stored = image.select(bands)
    masked = stored.updateMask(clear_mask(image, sensor))
    masked = masked if sensor.fill is None else masked.updateMask(stored.neq(sensor.fill))
    if (sensor.scale, sensor.offset) == (1.0, 0.0):  # stored as reflectance (EMIT): the graph stays as it was
        return masked
    return masked.multiply(sensor.scale).add(sensor.offset)  # stored values to reflectance (sensor.reflectance)


def masked_filler(bands: list[str] | tuple[str, ...]) -> ee.ImageCollection:
    """One image of ``bands``, masked everywhere: merged into a month's images, so a month without an EMIT image
    over the place gives a masked median of the same bands. (The median of an empty collection has no bands at
    all, and a later ``select`` of them fails: "Image.select: Pattern '...' did not match any bands.")"""
    names = list(bands)
    return ee.ImageCollection([ee.Image.constant([0.0] * len(names)).rename(names).updateMask(0)])


def monthly_median(
    region: ee.Geometry, year: int, month: int, sensor: Sensor = EMIT, bands: tuple[str, ...] | None = None
) -> ee.Image:
    """Median reflectance of one month over ``region``, each image's cloud-flagged pixels excluded; masked
    where the month has no clear image. ``bands``: the names to keep (None: each image's kept bands, named on
    the server from its band centres)."""
    start = ee.Date.fromYMD(year, month, 1)
    collection = ee.ImageCollection(sensor.collection).filterBounds(region).filterDate(start, start.advance(1, "month"))
    chosen = None if bands is None else list(bands)
    clear = collection.map(lambda image: clear_reflectance(image, sensor, chosen))
    return clear.merge(masked_filler(sensor.bands if bands is None else bands)).median()


def common_clear(medians: list[ee.Image]) -> ee.Image:
    """1 where every month's median is clear in every band: the intersection of the months' cloud-free masks."""
    masks = [m.mask().reduce(ee.Reducer.min()) for m in medians]
    return functools.reduce(lambda a, b: a.And(b), masks[1:], masks[0])


def check_observed(sensor: Sensor, year: int, months: tuple[int, ...]) -> None:
    """InputError where a month of ``year`` ends before the collection's first day: its median would be
    empty (fully masked), and so would every sample and map pixel that needs it."""
    early = sensor.months_before_first_day(year, months)
    if early and sensor.first_day is not None:
        asked = ", ".join(f"{year}-{m:02d}" for m in early)
        raise InputError(
            f"{sensor.label} ({sensor.collection}) starts on {sensor.first_day.isoformat()}, after {asked}; "
            f"choose a --year whose months {sensor.label} observed (from {sensor.first_day.year + 1} on)"
        )


def month_medians(
    region: ee.Geometry, year: int, months: tuple[int, ...], sensor: Sensor = EMIT, bands: tuple[str, ...] | None = None
) -> ee.Image:
    """One median per month of ``months`` (bands suffixed ``_m06``, ``_m08``, month-major), on the pixels clear
    in every month. ``bands``: as :func:`monthly_median`. InputError where a month lies before the
    collection's first day (:func:`check_observed`)."""
    check_observed(sensor, year, months)
    medians = [monthly_median(region, year, m, sensor, bands) for m in months]
    named = [median.regexpRename("$", month_suffix(m)) for median, m in zip(medians, months)]
    stacked = functools.reduce(lambda a, b: a.addBands(b), named[1:], named[0])
    return stacked.updateMask(common_clear(medians))


def season_medians(region: ee.Geometry, year: int, hemisphere: Hemisphere = "north", sensor: Sensor = EMIT) -> ee.Image:
    """The EMIT features of METHOD.md: one median per month of :func:`season_months` (bands suffixed
    ``_m06``, ``_m08``; ``_m02`` south), on the pixels clear in every month."""
    return month_medians(region, year, season_months(hemisphere), sensor)


#: The band of an EMIT map's composite that says where every month is clear (1) or not (0).
CLEAR_BAND = "emit_clear"


def map_band_names(months: tuple[int, ...], bands: tuple[str, ...]) -> list[str]:
    """The model-input bands of an EMIT map's composite, month-major (``reflectance_0_m06`` ...), then
    :data:`CLEAR_BAND`: the order of ``data.emit_table.emit_features``."""
    return [f"{band}{month_suffix(m)}" for m in months for band in bands] + [CLEAR_BAND]


def map_composite(
    region: ee.Geometry, year: int, months: tuple[int, ...], bands: tuple[str, ...], sensor: Sensor = EMIT
) -> ee.Image:
    """The input of an EMIT model's map over ``region``: the medians of ``months`` of the model's ``bands``
    (chosen by name: the sensor's kept bands) as float32 bands :func:`map_band_names`, 0 where not every month
    is clear, and :data:`CLEAR_BAND` 1 where it is (reflectance may be 0, so the mask travels as a band)."""
    medians = month_medians(region, year, months, sensor, bands)
    clear = medians.mask().reduce(ee.Reducer.min()).rename(CLEAR_BAND)
    return medians.unmask(0).addBands(clear.unmask(0)).toFloat()


def emit_rows(
    points: ee.FeatureCollection,
    region: ee.Geometry,
    year: int,
    hemisphere: Hemisphere,
    crs: str,
    tile_scale: float = 1,
    sensor: Sensor = EMIT,
) -> ee.FeatureCollection:
    """One row per point clear in every month: ``lon``, ``lat``, ``class`` and the :func:`season_medians`
    bands, read at ``sensor.resolution_m`` (60 m) on the metric grid of ``crs``. A point where EMIT is
    cloudy or absent in a month is masked there, and ``sampleRegions`` leaves it out."""
    return season_medians(region, year, hemisphere, sensor).sampleRegions(
        collection=points,
        properties=["lon", "lat", LABEL_BAND],
        scale=sensor.resolution_m,
        projection=ee.Projection(crs),
        tileScale=float(tile_scale),
        geometries=False,
    )


def plan_line(year: int, hemisphere: Hemisphere, n_tiles: int, sensor: Sensor = EMIT) -> str:
    """What ``sample --emit`` (``--medians SENSOR``) adds to a job's plan (``--dry-run``): months, bands, grid
    and requests."""
    months = season_months(hemisphere)
    names = " and ".join(f"{year}-{m:02d}" for m in months)
    common = ", on the pixels clear in both" if len(months) > 1 else ""
    if sensor.wavelength_property is not None:
        windows = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in sensor.excluded_nm)
        kept = (
            f"{len(sensor.bands)} of {len(sensor.product_bands)} bands kept by the wavelengths of each image's "
            f"{sensor.wavelength_property} outside {windows} nm"
        )
    else:
        kept = f"{len(sensor.bands)} bands ({', '.join(sensor.bands)})"
    return (
        f"{sensor.label} ({sensor.collection}): monthly medians of {names}{common} ({masked_text(sensor)}); "
        f"{kept} ({len(months) * len(sensor.bands)} values per sample); read at {sensor.resolution_m:g} m on each "
        f"tile's UTM grid at the same points: {n_tiles} more requests or tasks, one per tile"
    )
