"""The sensors table: Sentinel-2 exactly as before, EMIT's kept bands chosen by wavelength on the real band table."""

from __future__ import annotations

import pandas as pd
import pytest

from gee_crop.config import BANDS
from gee_crop.features.spec import FeatureSpec
from gee_crop.sensors import EMIT, EMIT_BAND_TABLE, SENTINEL2, ClearRule, kept_indices, read_band_table, sensor_named


@pytest.fixture(scope="module")
def band_table(shared_data):
    """The real EMIT L2A band table (../shared/data/emit, PROVENANCE.md: a real EMIT header)."""
    return pd.read_csv(shared_data / "emit" / "emit_l2a_bands.csv")


def test_sentinel2_is_the_deprecated_bands_alias():
    assert SENTINEL2.bands == BANDS == ("B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12")
    assert SENTINEL2.clear_rule is ClearRule.SCORE_AT_LEAST and SENTINEL2.resolution_m == 10.0
    assert SENTINEL2.reflectance(2500) == pytest.approx(0.25)


def test_shipped_band_table_is_the_real_one(band_table):
    names, wavelengths, good = read_band_table(EMIT_BAND_TABLE)
    assert list(names) == list(band_table.ee_band) and len(names) == 285
    assert wavelengths == pytest.approx(tuple(band_table.wavelength_nm))
    assert list(good) == list(band_table.good_wavelength)


def test_emit_keeps_the_products_244_good_bands_by_wavelength(band_table):
    """The decision (docs/emit.md): the water-vapour windows remove exactly the product's 41 bad bands."""
    good = band_table[band_table.good_wavelength == 1]
    assert len(EMIT.bands) == 244 == len(good)
    assert list(EMIT.bands) == list(good.ee_band)
    bad = band_table[band_table.good_wavelength == 0]["index"].tolist()
    assert bad == [*range(127, 142), *range(187, 213)]
    # the edge bands the older 1320-1440 / 1760-1960 nm windows dropped (241 kept) are good reflectance
    older = kept_indices(tuple(band_table.wavelength_nm), ((1320.0, 1440.0), (1760.0, 1960.0)), 285)
    assert len(older) == 241
    assert sorted(set(EMIT.kept_indices) - set(older)) == [126, 142, 186]


def test_emit_windows_survive_a_sub_band_calibration_shift(band_table):
    """A shift of +-3 nm (under half the ~7.4 nm step) keeps the same 244 bands."""
    for shift in (-3.0, 3.0):
        shifted = tuple(band_table.wavelength_nm + shift)
        assert kept_indices(shifted, EMIT.excluded_nm, 285) == EMIT.kept_indices


def test_emit_is_selected_by_name_and_masks_cloud_flag_one():
    assert all(b.startswith("reflectance_") and "uncertainity" not in b for b in EMIT.bands)
    assert EMIT.mask_band == "cloud_flag" and EMIT.clear_rule is ClearRule.FLAG_NOT_SET
    assert (EMIT.resolution_m, EMIT.fill, EMIT.wavelength_property) == (60.0, -9999.0, "reflectance_wavelengths")
    assert len(EMIT.wavelengths_nm) == 244 and EMIT.wavelengths_nm[0] == pytest.approx(381.00558)


def test_feature_spec_names_its_sensor_and_old_files_read_as_sentinel2():
    s2 = FeatureSpec("median1d")
    assert s2.sensor is SENTINEL2 and s2.bands == SENTINEL2.bands
    assert "sensor" not in s2.to_meta()  # Sentinel-2 files stay as they were
    assert FeatureSpec.from_meta(s2.to_meta()) == s2
    emit = FeatureSpec("median1d", sensor="emit")
    assert emit.bands == EMIT.bands and emit.to_meta()["sensor"] == "emit"
    assert FeatureSpec.from_meta(emit.to_meta()).sensor is EMIT
    with pytest.raises(ValueError, match="not sentinel2 bands"):
        FeatureSpec("median1d", bands=("reflectance_0",))
    with pytest.raises(ValueError, match="unknown sensor 'landsat'"):
        sensor_named("landsat")


def test_a_model_file_of_an_unknown_sensor_is_refused():
    from gee_crop.errors import ModelFileError

    meta = {**FeatureSpec("median1d").to_meta(), "sensor": "landsat9"}
    with pytest.raises(ModelFileError, match="sensor 'landsat9'.*upgrade gee-crop"):
        FeatureSpec.from_meta(meta)


def test_an_emit_model_is_refused_for_sentinel2_sources_and_passes_for_emit():
    from gee_crop.errors import ModelFileError
    from gee_crop.models.predict import check_model_matches

    from gee_crop.sensors import EMIT, SENTINEL2

    emit_model = FeatureSpec("median1d", sensor="emit", months=(6, 8))
    with pytest.raises(ModelFileError, match="reads emit bands, and this source delivers sentinel2 bands only"):
        check_model_matches(emit_model)
    check_model_matches(emit_model, sensor=EMIT)  # an EMIT source (mapping.emit_source) maps it
    with pytest.raises(ModelFileError, match="reads sentinel2 bands, and this source delivers emit bands only"):
        check_model_matches(FeatureSpec("median1d"), sensor=EMIT)
    check_model_matches(FeatureSpec("median1d"), sensor=SENTINEL2)  # a Sentinel-2 contract passes as before
