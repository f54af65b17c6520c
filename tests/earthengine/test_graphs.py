"""Offline graph builders: real ee graphs (shipped algorithm signatures), asserted on what matters."""
from __future__ import annotations

import datetime as dt

import ee
import pytest

from gee_crop.config import BANDS, CDL_COLLECTION, CLOUD_SCORE_PLUS_COLLECTION, S2_COLLECTION
from gee_crop.classes import CLASS_INDEX, NO_CLASS
from gee_crop.countries import country_spec
from gee_crop.earthengine import collections, composite, emit, labels, sampling
from gee_crop.earthengine.graph import function_names, invocations
from gee_crop.errors import InputError
from gee_crop.season import Season
from gee_crop.types import SamplingRules

BOX = [4.0, 50.7, 4.1, 50.8]


def _constants(obj) -> str:
    return obj.serialize()


def test_s2_collection_links_cloud_score_plus_and_keeps_10_bands():
    col = collections.clear_observations(
        collections.s2_with_cloud_score(ee.Geometry.Rectangle(BOX), dt.date(2023, 1, 1), dt.date(2024, 1, 1), "cs_cdf"),
        "cs_cdf", 0.6)
    text = _constants(col)
    assert S2_COLLECTION in text and CLOUD_SCORE_PLUS_COLLECTION in text
    link = invocations(col, "Image.linkCollection")[0]["arguments"]
    assert link["linkedBands"] == ["cs_cdf"]
    gte = [c for c in invocations(col, "Image.gte")][0]["arguments"]
    assert gte["image2"]["arguments"]["value"] == 0.6
    selects = [c["arguments"]["bandSelectors"] for c in invocations(col, "Image.select")]
    assert list(BANDS) in selects and [*BANDS, "cs_cdf"] in selects
    window = invocations(col, "DateRange")[0]["arguments"]
    assert (window["start"], window["end"]) == ("2023-01-01", "2024-01-01")


def test_bad_cloud_band_and_threshold_name_the_fix():
    with pytest.raises(InputError, match="cs or cs_cdf"):
        collections.check_cloud_band("scl")
    with pytest.raises(InputError, match="0.75"):
        collections.check_threshold(1.5)


@pytest.mark.parametrize("hemisphere,first_bin", [("north", "2023-05-01"), ("south", "2022-11-01")])
def test_median_composite_bins_and_band_order(hemisphere, first_bin):
    season = Season().span(2023, hemisphere)
    image = composite.median_composite(ee.Geometry.Rectangle(BOX), season, threshold=0.8, max_gap_bins=6)
    assert season.n_bins == 43
    names = composite.composite_band_names(season.n_bins)
    assert len(names) == 430 and names[:2] == ["B2_t00", "B2_t01"] and names[43] == "B3_t00"
    final_select = [c for c in invocations(image, "Image.select") if c["arguments"]["bandSelectors"] == names]
    assert final_select, "band-major reorder missing"
    ranges = [(c["arguments"]["start"], c["arguments"]["end"]) for c in invocations(image, "DateRange")]
    windows = sorted(r for r in ranges if isinstance(r[0], str) and r[1] != r[0])  # constant windows
    first = dt.date.fromisoformat(first_bin)
    assert (first_bin, (first + dt.timedelta(days=5)).isoformat()) in windows
    last = first + dt.timedelta(days=42 * 5)
    assert (last.isoformat(), (last + dt.timedelta(days=5)).isoformat()) in windows
    assert {"Image.unmask", "Image.toUint16", "reduce.median", "Image.lte"} <= function_names(image)
    lte = invocations(image, "Image.lte")[0]["arguments"]["image2"]["arguments"]["value"]
    assert lte == 6  # max gap bins


def test_sqrt8_encoding_graph_is_the_client_transform():
    """The server side of ``--encoding sqrt8``: every function exists in the shipped algorithm
    signatures, with the constants of gee_crop.earthengine.composite (one transform, both sides)."""
    season = Season().span(2023, "north")
    image = composite.median_composite(ee.Geometry.Rectangle(BOX), season, max_gap_bins=6, encoding="sqrt8")
    used = function_names(image)
    steps = {"Image.divide", "Image.clamp", "Image.sqrt", "Image.multiply", "Image.round", "Image.add", "Image.toUint8"}
    assert steps <= used and "Image.toUint16" not in used
    assert all(ee.ApiFunction.lookup(name) for name in steps)
    assert [(c["arguments"]["low"], c["arguments"]["high"]) for c in invocations(image, "Image.clamp")] == [(0, 1)]
    scale = composite.REFLECTANCE_SCALE * composite.SQRT8_MAX

    def constants(function: str) -> list:
        return [c["arguments"]["image2"]["arguments"].get("value") for c in invocations(image, function)
                if isinstance(c["arguments"]["image2"], dict) and "value" in c["arguments"]["image2"]["arguments"]]

    assert scale in constants("Image.divide") and composite.SQRT8_STEPS in constants("Image.multiply")
    assert 1 in constants("Image.add")
    plain = composite.median_composite(ee.Geometry.Rectangle(BOX), season, max_gap_bins=6)
    assert "Image.toUint16" in function_names(plain) and "Image.sqrt" not in function_names(plain)


def test_inward_buffer_and_grid_sampling_constants():
    labs = labels.reference_labels(country_spec("FRA"), 2023, project="demo")
    rows = sampling.sampling_graph(labs, ee.Geometry.Rectangle(BOX), dt.date(2022, 7, 1), dt.date(2023, 7, 1),
                                   SamplingRules(per_cell=5, buffer_m=60, spacing_m=60, seed=3))
    focal = [(c["function"], c["arguments"]["radius"], c["arguments"]["units"])
             for c in invocations(rows, "Image.focalMin") + invocations(rows, "Image.focalMax")]
    assert focal == [("Image.focalMin", 60.0, "meters"), ("Image.focalMax", 60.0, "meters")]
    sample = invocations(rows, "Image.stratifiedSample")[0]["arguments"]
    assert (sample["numPoints"], sample["scale"], sample["classBand"], sample["seed"]) == (5, 60.0, "cell", 3)
    assert sample["geometries"] is True
    divides = [c["arguments"]["image2"]["arguments"].get("value") for c in invocations(rows, "Image.divide")
               if isinstance(c["arguments"]["image2"], dict)]
    assert 0.1 in divides  # 0.1 degree cells
    extract = invocations(rows, "Image.sampleRegions")[0]["arguments"]
    assert extract["scale"] == 10 and extract["properties"] == ["lon", "lat", "class"]
    assert ("2022-07-01", "2023-07-01") in [(c["arguments"]["start"], c["arguments"]["end"])
                                            for c in invocations(rows, "DateRange")]
    assert "projects/demo/assets/gee-crop/labels/FRA_RPG_2023" in rows.serialize()


def test_cdl_labels_remap_and_accuracy_filter():
    spec = country_spec("usa")
    image = labels.reference_labels(spec, 2023, accuracy={1: {19, 17}, 5: {19}})
    text = image.serialize()
    assert CDL_COLLECTION in text and labels.US_STATES in text
    remap = [c["arguments"] for c in invocations(image, "Image.remap") if 1 in c["arguments"]["from"]][0]
    lookup = dict(zip(remap["from"], remap["to"]))
    assert lookup[1] == CLASS_INDEX["corn"] and lookup[24] == CLASS_INDEX["wheat"]
    assert lookup[26] == NO_CLASS  # double crop excluded
    assert remap["defaultValue"] == CLASS_INDEX["other"]
    states = [c["arguments"]["from"] for c in invocations(image, "Image.remap") if c["arguments"]["from"] == [17, 19]]
    assert states, "per-state accuracy remap missing"


def test_worldcover_other_for_arg_and_table_labels_for_fra():
    arg = labels.reference_labels(country_spec("ARG"), 2023, project="p")
    assert "ESA/WorldCover/v200" in arg.serialize()
    eq40 = [c for c in invocations(arg, "Image.eq")
            if c["arguments"]["image2"].get("arguments", {}).get("value") == 40]
    assert eq40
    fra = labels.reference_labels(country_spec("FRA"), 2024, project="p")
    assert "CODE_CULTU" in fra.serialize() and "ESA/WorldCover" not in fra.serialize()
    reproject = invocations(fra, "Image.reproject")[0]["arguments"]
    assert reproject["scale"] == 10


def test_export_configs():
    rows = ee.FeatureCollection([])
    drive = sampling.export_config(rows, "drive", "gee-crop_FRA_2023_tile0001")
    assert drive["folder"] == "gee-crop" and drive["file_format"] == "CSV"
    assert drive["selectors"] == ["lon", "lat", "class", "date", *BANDS, "cs"]
    gcs = sampling.export_config(rows, "gcs", "t1", bucket="b", cloud_band="cs_cdf")
    assert gcs["bucket"] == "b" and gcs["file_prefix"] == "gee-crop/t1" and gcs["selectors"][-1] == "cs_cdf"
    asset = sampling.export_config(rows, "asset", "t1", asset_id="projects/p/assets/x")
    assert asset["asset_id"] == "projects/p/assets/x"
    from gee_crop.earthengine.client import _export_task

    task = _export_task(gcs)
    assert task.config["fileExportOptions"]["cloudStorageDestination"]["bucket"] == "b"


def test_emit_medians_mask_clouds():
    image = emit.season_medians(ee.Geometry.Rectangle(BOX), 2023)
    assert "NASA/EMIT/L2A/RFL" in image.serialize()
    neq = invocations(image, "Image.neq")[0]["arguments"]["image2"]["arguments"]["value"]
    assert neq == 1
    months = sorted({c["arguments"]["month"] for c in invocations(image, "Date.fromYMD")})
    assert months == [6, 8]
    # the kept-band count (244 of 285, by wavelength) is tested on the REAL band table in tests/test_sensors.py
    # and tests/earthengine/test_emit.py (the regular 7.4095 nm grid that stood in here gave 242)
