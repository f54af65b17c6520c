"""Layers for geemap maps: class maps with the class palette, legends, composite RGB / NDVI views,
sample points — from Earth Engine images (live) or from local arrays and GeoTIFFs (offline).

geemap is an optional extra (``pip install 'gee-crop[notebooks]'``); it is imported only when a map,
overlay or legend is built, so this module imports without it. Earth Engine layers are
:class:`EELayer` specs (image + vis params + name) built without any request; ``add_ee_layer`` is the
only call that asks Earth Engine for tiles. Local overlays are ``ipyleaflet.ImageOverlay`` with the
image inlined as a PNG data URL, so they need neither a tile server nor an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gee_crop.classes import CLASSES, class_rgba
from gee_crop.config import BAND_INDEX, CLEAR_THRESHOLD, composite_band
from gee_crop.errors import InputError, NotebookExtraMissingError, SeasonError
from gee_crop.features.indices import ndvi
from gee_crop.season import SeasonSpan
from gee_crop.viz import styles

NOTEBOOK_EXTRA = "pip install 'gee-crop[notebooks]'"
#: ipyleaflet draws an ImageOverlay stretched linearly between its corner coordinates in Web
#: Mercator, so local rasters are warped to it first; the corners are then exact.
WEB_MERCATOR = "EPSG:3857"
SAMPLE_RADIUS_PX = 4


def require_geemap():
    """The ``geemap`` module, or NotebookExtraMissingError naming the install command."""
    try:
        import geemap
    except ImportError as exc:
        raise NotebookExtraMissingError(
            f"geemap is not installed ({exc}); install the notebook extra with {NOTEBOOK_EXTRA}"
        ) from None
    return geemap


def new_map(center: tuple[float, float] = (0.0, 0.0), zoom: int = 2, **kwargs: Any):
    """A ``geemap.Map`` centred on ``center`` (lat, lon). Earth Engine is not initialised by the map:
    call ``gee_crop.pipeline.explore.start_session`` first (live or offline)."""
    geemap = require_geemap()
    kwargs.setdefault("ee_initialize", False)
    return geemap.Map(center=list(center), zoom=zoom, **kwargs)


def add_class_legend(
    m, classes: list[str] | tuple[str, ...] | None = None, *, title: str = "Crop type", position: str = "bottomright"
) -> None:
    """Add the class legend (classes.CLASS_HEX) to geemap map ``m``; default: all 7 classes."""
    m.add_legend(title=title, legend_dict=styles.class_legend(classes), position=position)


# ----------------------------------------------------------------------------- Earth Engine layers


@dataclass(frozen=True)
class EELayer:
    """An Earth Engine image with its vis params and layer name (built offline, drawn live)."""

    image: Any  # ee.Image
    vis: dict
    name: str
    shown: bool = True

    def visualized(self):
        """The RGB ``ee.Image`` geemap would request tiles of (``image.visualize(**vis)``)."""
        return self.image.visualize(**self.vis) if self.vis else self.image


def add_ee_layer(m, layer: EELayer) -> None:
    """Draw ``layer`` on geemap map ``m`` (asks Earth Engine for a tile URL: live sessions only)."""
    m.add_layer(layer.image, layer.vis, layer.name, layer.shown)


def _window_label(bin_index: int, season: SeasonSpan | None) -> str:
    if season is None:
        return f"window {bin_index}"
    return f"window {bin_index} ({season.bin_starts()[bin_index].isoformat()})"


def _check_bin(bin_index: int, season: SeasonSpan | None) -> None:
    if bin_index < 0 or (season is not None and bin_index >= season.n_bins):
        limit = f"0..{season.n_bins - 1}" if season is not None else ">= 0"
        raise SeasonError(f"window index {bin_index} is outside the season's windows; use {limit}")


def class_layer(image, *, band: str | None = None, name: str = "crop type", shown: bool = True) -> EELayer:
    """A class-index image (0..6 in classes.CLASSES order, e.g. reference labels) in the class palette."""
    image = image.select(band) if band else image
    return EELayer(image, styles.class_vis_params(), name, shown)


def composite_rgb_layer(composite, bin_index: int, season: SeasonSpan | None = None, *, shown: bool = True) -> EELayer:
    """True colour of window ``bin_index`` of a ``median_composite`` image (bands ``B4_tNN`` …)."""
    _check_bin(bin_index, season)
    return EELayer(composite, styles.composite_rgb_vis(bin_index), f"RGB {_window_label(bin_index, season)}", shown)


def composite_ndvi_layer(composite, bin_index: int, season: SeasonSpan | None = None, *, shown: bool = True) -> EELayer:
    """NDVI (B8, B4) of window ``bin_index`` of a ``median_composite`` image."""
    _check_bin(bin_index, season)
    nir, red = composite_band("B8", bin_index), composite_band("B4", bin_index)
    ndvi_image = composite.normalizedDifference([nir, red]).rename("ndvi")
    return EELayer(ndvi_image, styles.ndvi_vis_params(), f"NDVI {_window_label(bin_index, season)}", shown)


def raw_rgb_layer(image, name: str = "Sentinel-2 RGB", *, shown: bool = True) -> EELayer:
    """True colour of one raw Sentinel-2 L2A image (DN)."""
    return EELayer(image, styles.raw_rgb_vis(), name, shown)


def cloud_score_layer(image, band: str = "cs", name: str | None = None, *, shown: bool = True) -> EELayer:
    """The Cloud Score+ band of an image (0 cloudy .. 1 clear)."""
    return EELayer(image, styles.cloud_score_vis_params(band), name or f"Cloud Score+ {band}", shown)


def clear_mask_layer(image, band: str = "cs", threshold: float | None = None, *, shown: bool = True) -> EELayer:
    """Pixels kept by the cloud mask (Cloud Score+ ``band`` >= ``threshold``) in white."""
    threshold = CLEAR_THRESHOLD if threshold is None else threshold
    clear = image.select(band).gte(threshold).selfMask().rename("clear")
    return EELayer(clear, {"palette": ["ffffff"]}, f"clear ({band} >= {threshold:g})", shown)


def ee_samples_layer(
    samples,
    class_property: str = "crop_class",
    name: str = "samples",
    *,
    point_size: int = SAMPLE_RADIUS_PX,
    shown: bool = True,
) -> EELayer:
    """Sample points (``ee.FeatureCollection`` with a class-name property) coloured by class."""
    import ee

    styles_by_class = ee.Dictionary(
        {
            c: {"color": h, "fillColor": h + "cc", "pointSize": point_size, "width": 1}
            for c, h in zip(CLASSES, styles.class_palette())
        }
    )
    styled = samples.map(lambda f: f.set("style", styles_by_class.get(f.get(class_property))))
    return EELayer(styled.style(styleProperty="style"), {}, name, shown)


# ----------------------------------------------------------------------------- local overlays


def to_web_mercator(
    rgba: np.ndarray, transform, crs: str
) -> tuple[np.ndarray, tuple[tuple[float, float], tuple[float, float]]]:
    """Warp an (H, W, 4) uint8 image on ``transform`` (affine, pixel edges) in ``crs`` to Web
    Mercator (nearest neighbour); returns the warped image and its bounds ((south, west), (north, east))
    in degrees. Pixels outside the source are transparent."""
    from pyproj import Transformer
    from rasterio.transform import Affine, array_bounds
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    transform = transform if isinstance(transform, Affine) else Affine(*tuple(transform)[:6])
    height, width = rgba.shape[:2]
    left, bottom, right, top = array_bounds(height, width, transform)
    dst_transform, dst_width, dst_height = calculate_default_transform(
        crs, WEB_MERCATOR, width, height, left=left, bottom=bottom, right=right, top=top
    )
    warped = np.zeros((4, dst_height, dst_width), dtype=np.uint8)
    reproject(
        np.ascontiguousarray(rgba.transpose(2, 0, 1)),
        warped,
        src_transform=transform,
        src_crs=crs,
        dst_transform=dst_transform,
        dst_crs=WEB_MERCATOR,
        resampling=Resampling.nearest,
    )
    west, south, east, north = array_bounds(dst_height, dst_width, dst_transform)[0:4]
    to_degrees = Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    (lon_w, lon_e), (lat_s, lat_n) = to_degrees.transform([west, east], [south, north])
    return warped.transpose(1, 2, 0), ((float(lat_s), float(lon_w)), (float(lat_n), float(lon_e)))


def image_overlay(rgba: np.ndarray, transform, crs: str, name: str, *, opacity: float = 1.0):
    """An ``ipyleaflet.ImageOverlay`` of an (H, W, 4) uint8 image georeferenced by ``transform``/``crs``."""
    require_geemap()
    import ipyleaflet

    warped, bounds = to_web_mercator(rgba, transform, crs)
    return ipyleaflet.ImageOverlay(url=styles.png_data_url(warped), bounds=bounds, name=name, opacity=opacity)


def class_overlay(classes: np.ndarray, transform, crs: str, name: str = "crop type", *, opacity: float = 1.0):
    """Overlay of an (H, W) class-index raster (classes.NO_CLASS = none, transparent) in the class palette."""
    return image_overlay(class_rgba(classes), transform, crs, name, opacity=opacity)


def read_class_raster(path: str | Path) -> tuple[np.ndarray, Any, str]:
    """Band 1 of a class map GeoTIFF (the mapping COG): (H, W) uint8 classes, affine transform, CRS."""
    import rasterio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; give the map.tif written by the mapping step")
    with rasterio.open(path) as src:
        return src.read(1), src.transform, src.crs.to_string()


def cog_class_overlay(path: str | Path, name: str = "crop type map", *, opacity: float = 1.0):
    """Overlay of the class band of a map COG (``map.tif``)."""
    classes, transform, crs = read_class_raster(path)
    return class_overlay(classes, transform, crs, name, opacity=opacity)


def reflectance_rgb_overlay(reflectance: np.ndarray, transform, crs: str, name: str = "RGB", *, opacity: float = 1.0):
    """True-colour overlay of (H, W, 10) reflectance in SENTINEL2.bands order (NaN transparent)."""
    rgb = np.stack([reflectance[..., BAND_INDEX[b]] for b in styles.RGB_BANDS], axis=-1)
    return image_overlay(styles.rgb_rgba(rgb), transform, crs, name, opacity=opacity)


def reflectance_ndvi_overlay(reflectance: np.ndarray, transform, crs: str, name: str = "NDVI", *, opacity: float = 1.0):
    """NDVI overlay of (H, W, 10) reflectance in SENTINEL2.bands order."""
    return image_overlay(styles.ndvi_rgba(ndvi(reflectance)), transform, crs, name, opacity=opacity)


def samples_geojson(series, *, radius: int = SAMPLE_RADIUS_PX) -> dict:
    """GeoJSON FeatureCollection of a SampleSeries' points with ``crop_class``, ``sample_id`` and a
    per-feature ``style`` in the class palette (ipyleaflet draws ``properties.style``)."""
    legend = styles.class_legend()
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
            "properties": {
                "sample_id": str(sid),
                "crop_class": str(c),
                "region": str(r),
                "style": {
                    "color": legend.get(str(c), "#000000"),
                    "fillColor": legend.get(str(c), "#000000"),
                    "radius": radius,
                    "fillOpacity": 0.9,
                    "weight": 1,
                },
            },
        }
        for sid, lon, lat, c, r in zip(series.sample_id, series.lon, series.lat, series.crop_class, series.region)
    ]
    return {"type": "FeatureCollection", "features": features}


def sample_points_layer(series, name: str = "samples", *, radius: int = SAMPLE_RADIUS_PX):
    """An ``ipyleaflet.GeoJSON`` layer of the samples as circle markers coloured by class."""
    require_geemap()
    import ipyleaflet

    return ipyleaflet.GeoJSON(
        data=samples_geojson(series, radius=radius),
        name=name,
        point_style={"radius": radius, "weight": 1, "fillOpacity": 0.9},
    )


def overlay_bounds_center(overlay) -> tuple[float, float]:
    """(lat, lon) centre of an overlay's bounds (to centre a map on it)."""
    (south, west), (north, east) = overlay.bounds
    return (south + north) / 2, (west + east) / 2
