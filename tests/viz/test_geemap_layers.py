"""geemap helpers without an account: styles, local overlays of the real patch, legends, sample points,
and Earth Engine layer specs built offline (graphs checked against the server's signatures)."""
from __future__ import annotations

import base64
import io
import sys

import numpy as np
import pytest
from PIL import Image

from gee_crop.classes import CLASS_COLORS, CLASSES, class_rgba
from gee_crop.config import BANDS
from gee_crop.errors import SeasonError, UnknownClassError
from gee_crop.season import Season
from gee_crop.viz import geemap_layers as gl
from gee_crop.viz import styles


def _geemap():
    return pytest.importorskip("geemap", reason="geemap (the notebooks extra) is not installed")


def _decode(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


# ----------------------------------------------------------------------------- styles


def test_class_palette_and_legend_follow_config():
    assert styles.class_palette()[CLASSES.index("corn")] == "ffd300"
    assert len(styles.class_palette()) == len(CLASSES)
    legend = styles.class_legend(["other", "wheat", "corn"])
    assert list(legend) == ["corn", "wheat", "other"]  # config order, whatever the request order
    assert legend["wheat"] == "#a87000"
    assert styles.class_vis_params() == {"min": 0, "max": 6, "palette": styles.class_palette()}


def test_unknown_legend_class_names_the_valid_ones():
    with pytest.raises(UnknownClassError, match="barley.*corn, soybeans, rice"):
        styles.class_legend(["corn", "barley"])




def test_rgb_stretch_known_values():
    rgb = np.array([[[0.0, 0.3, 0.15], [0.6, np.nan, 0.1]]])
    out = styles.rgb_rgba(rgb, max_reflectance=0.3, gamma=1.3)
    assert out[0, 0, :3].tolist() == [0, 255, round(255 * 0.5 ** (1 / 1.3))]
    assert out[0, 0, 3] == 255
    assert out[0, 1, 0] == 255  # brighter than the stretch: clipped
    assert out[0, 1, 3] == 0  # a NaN channel makes the pixel transparent


def test_ndvi_ramp_hits_palette_entries():
    out = styles.ndvi_rgba(np.array([[0.0, 0.45, 0.9, -0.2, np.nan]]))
    first, middle, last = (tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
                           for h in (styles.NDVI_PALETTE[0], styles.NDVI_PALETTE[3], styles.NDVI_PALETTE[-1]))
    assert tuple(out[0, 0, :3]) == first
    assert tuple(out[0, 1, :3]) == middle  # 0.45 is half way: entry 3 of 7
    assert tuple(out[0, 2, :3]) == last
    assert tuple(out[0, 3, :3]) == first  # below the range: clamped
    assert out[0, 4, 3] == 0 and out[0, :4, 3].tolist() == [255] * 4


def test_png_data_url_round_trip(reference):
    rgba = class_rgba(reference)
    assert np.array_equal(_decode(styles.png_data_url(rgba)), rgba)


def test_composite_vis_params_name_the_window_bands():
    vis = styles.composite_rgb_vis(7)
    assert vis["bands"] == ["B4_t07", "B3_t07", "B2_t07"]
    assert vis["max"] == 3000  # 0.3 reflectance in DN
    assert styles.cloud_score_vis_params("cs_cdf")["bands"] == ["cs_cdf"]


# ----------------------------------------------------------------------------- local overlays


def test_web_mercator_warp_keeps_the_patch_footprint_and_class_shares(patch, reference):
    from gee_crop.pipeline.explore import patch_footprint

    warped, ((south, west), (north, east)) = gl.to_web_mercator(class_rgba(reference), patch.transform,
                                                                 patch.crs)
    lon_min, lat_min, lon_max, lat_max = patch_footprint(patch).bounds
    pixel_deg = 10 / 111_320 / np.cos(np.radians(50.75))  # one 10 m pixel in longitude degrees
    assert abs(west - lon_min) < pixel_deg and abs(east - lon_max) < pixel_deg
    assert abs(south - lat_min) < 1e-4 and abs(north - lat_max) < 1e-4
    # nearest-neighbour warping of a 64 x 64 UTM raster keeps each class's share within 2 points
    for index in (CLASSES.index("corn"), CLASSES.index("wheat"), CLASSES.index("other")):
        color = np.array([*CLASS_COLORS[CLASSES[index]], 255])
        share_in = (reference == index).sum() / (reference != 255).sum()  # of labelled pixels
        share_out = (warped == color).all(axis=-1).sum() / (warped[..., 3] > 0).sum()
        assert abs(share_out - share_in) < 0.02, CLASSES[index]


def test_class_overlay_on_a_map_with_legend(patch, reference):
    _geemap()
    overlay = gl.class_overlay(reference, patch.transform, patch.crs, "reference labels", opacity=0.8)
    image = _decode(overlay.url)
    assert image.shape[2] == 4 and overlay.opacity == 0.8 and overlay.name == "reference labels"
    present = {tuple(c) for c in image[image[..., 3] > 0][:, :3]}
    assert present == {CLASS_COLORS[c] for c in ("corn", "wheat", "other")}
    m = gl.new_map(gl.overlay_bounds_center(overlay), 15)
    m.add_layer(overlay)
    gl.add_class_legend(m, ["corn", "wheat", "other"], title="Flanders 2019")
    assert overlay in m.layers
    legend = m.controls[-1].widget
    assert legend.title == "Flanders 2019"
    assert legend.legend_keys == ["corn", "wheat", "other"]
    assert legend.legend_colors == ["#ffd300", "#a87000", "#bebebe"]


def test_cog_overlay_reads_a_class_geotiff(tmp_path, patch, reference):
    import rasterio
    from rasterio.transform import Affine

    path = tmp_path / "labels.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8", crs=patch.crs,
                       transform=Affine(*patch.transform), nodata=255) as dst:
        dst.write(reference, 1)
    classes, transform, crs = gl.read_class_raster(path)
    assert np.array_equal(classes, reference) and crs == patch.crs
    _geemap()
    overlay = gl.cog_class_overlay(path)
    assert overlay.name == "crop type map" and _decode(overlay.url).shape[2] == 4


def test_missing_map_file_says_what_to_give(tmp_path):
    from gee_crop.errors import InputError

    with pytest.raises(InputError, match="map.tif written by the mapping step"):
        gl.read_class_raster(tmp_path / "nope.tif")


def test_composite_overlays_show_real_phenology(patch, composite, reference):
    """Window 20 (2019-08-09): corn still green, wheat harvested; the NDVI overlay must show it."""
    _geemap()
    k = 20
    assert composite.bin_dates()[k].isoformat() == "2019-08-09"
    overlay = gl.reflectance_ndvi_overlay(composite.reflectance[..., k], patch.transform, patch.crs)
    assert overlay.name == "NDVI"
    from gee_crop.features.indices import ndvi

    values = ndvi(composite.reflectance[..., k])
    assert np.nanmean(values[reference == CLASSES.index("corn")]) > 0.7
    assert np.nanmean(values[reference == CLASSES.index("wheat")]) < 0.35
    rgb = gl.reflectance_rgb_overlay(composite.reflectance[..., k], patch.transform, patch.crs, "RGB 2019-08-09")
    image = _decode(rgb.url)
    assert (image[..., 3] == 255).mean() > 0.9  # the patch is fully covered, only warp corners are empty


def test_sample_points_layer_colours_each_class(patch):
    _geemap()
    from gee_crop.data.patch import patch_pixels

    samples = patch_pixels(patch, np.array([5, 10, 40]), np.array([5, 30, 60]),
                           crop_class=np.array(["corn", "wheat", "other"], dtype=object), region="BEL")
    layer = gl.sample_points_layer(samples, "my samples")
    features = layer.data["features"]
    assert [f["properties"]["crop_class"] for f in features] == ["corn", "wheat", "other"]
    assert features[1]["properties"]["style"]["fillColor"] == "#a87000"
    assert features[0]["geometry"]["coordinates"] == pytest.approx([samples.lon[0], samples.lat[0]])
    assert layer.name == "my samples"


def test_missing_geemap_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "geemap", None)  # makes `import geemap` raise ImportError
    with pytest.raises(gl.NotebookExtraMissingError, match=r"pip install 'gee-crop\[notebooks\]'"):
        gl.new_map()


# ----------------------------------------------------------------------------- Earth Engine layers


@pytest.fixture
def ee_composite(offline_ee, patch):
    import ee

    from gee_crop.earthengine.composite import median_composite
    from gee_crop.pipeline.explore import patch_footprint

    region = ee.Geometry.Rectangle(list(patch_footprint(patch).bounds))
    return median_composite(region, Season().span(2019))


def test_composite_layers_select_the_window_bands(ee_composite):
    from gee_crop.earthengine.graph import function_names, invocations

    season = Season().span(2019)
    rgb = gl.composite_rgb_layer(ee_composite, 10, season)
    assert rgb.name == "RGB window 10 (2019-06-20)"
    visualize = invocations(rgb.visualized(), "Image.visualize")
    assert len(visualize) == 1
    ndvi = gl.composite_ndvi_layer(ee_composite, 10, season)
    assert "Image.normalizedDifference" in function_names(ndvi.visualized())
    assert ndvi.vis == styles.ndvi_vis_params()
    serialized = ndvi.visualized().serialize()
    assert '"B8_t10"' in serialized and '"B4_t10"' in serialized


def test_window_outside_the_season_is_refused(ee_composite):
    with pytest.raises(SeasonError, match="use 0..42"):
        gl.composite_rgb_layer(ee_composite, 43, Season().span(2019))


def test_class_cloud_and_sample_layers_build_valid_graphs(offline_ee):
    import ee

    from gee_crop.earthengine.graph import function_names

    labels = ee.Image.constant(3).rename("class")
    layer = gl.class_layer(labels, band="class", name="reference")
    assert layer.vis["palette"][3] == "a87000"
    assert "Image.visualize" in function_names(layer.visualized())
    s2 = ee.Image.constant([0.8]).rename("cs")
    clear = gl.clear_mask_layer(s2, "cs", 0.75)
    assert clear.name == "clear (cs >= 0.75)"
    assert {"Image.gte", "Image.selfMask"} <= function_names(clear.visualized())
    assert gl.cloud_score_layer(s2).vis["bands"] == ["cs"]
    points = ee.FeatureCollection([ee.Feature(ee.Geometry.Point([4.06, 50.745]), {"crop_class": "corn"})])
    samples = gl.ee_samples_layer(points)
    assert "Collection.style" in function_names(samples.visualized())
    assert '"ffd300"' in samples.image.serialize()


def test_vis_params_are_accepted_by_image_visualize(offline_ee):
    """Every vis dict must use argument names of the server's Image.visualize signature."""
    import ee

    image = ee.Image.constant(list(range(len(BANDS)))).rename(list(BANDS))
    for vis in (styles.class_vis_params(), styles.ndvi_vis_params(), styles.raw_rgb_vis(),
                styles.cloud_score_vis_params()):
        image.visualize(**vis)  # raises on an unknown argument
    with pytest.raises(Exception, match="unexpected keyword"):
        image.visualize(colour="red")
