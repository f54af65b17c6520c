"""EMIT tables from real EMIT pixel spectra (../shared/data/emit: 10 VITALS points, Santa Barbara 2023-04-01;
5 points, Buenos Aires 2022-09-03). Their pairing as one sample's "June" and "August", the coordinates and
the classes are SYNTHETIC: no real EMIT June/August pair with crop labels exists in the shared data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gee_crop.data.emit_table import emit_features, read_emit_table, table_from_rows, write_emit_table
from gee_crop.errors import InputError
from gee_crop.sensors import EMIT

CLASSES = ("corn", "wheat", "other")


def _spectra(path, first_band: int) -> np.ndarray:
    frame = pd.read_csv(path)
    return frame.iloc[:, first_band:].to_numpy(np.float64)[:5]


@pytest.fixture(scope="module")
def rows(shared_data):
    june = _spectra(shared_data / "emit" / "vitals_emit_click_data_20230401.csv", 3)
    august = _spectra(shared_data / "emit" / "emitdr_points_20220903_argentina.csv", 4)
    assert june.shape == august.shape == (5, 285)
    keys = pd.DataFrame({"lon": np.arange(5) * 0.01, "lat": np.full(5, 50.0), "class": [0, 1, 2, 0, 1]})
    months = [
        pd.DataFrame(spectra, columns=[f"reflectance_{i}{suffix}" for i in range(285)])
        for suffix, spectra in (("_m06", june), ("_m08", august))
    ]
    return pd.concat([keys, *months], axis=1), june, august


def test_real_spectra_are_finite_exactly_on_the_kept_bands(rows, tmp_path):
    frame, june, august = rows
    # the real CSVs hold NaN on the product's bad bands: the kept 244 are exactly the finite ones
    assert np.flatnonzero(np.isfinite(june[0])).tolist() == list(EMIT.kept_indices)
    table = table_from_rows(frame, (6, 8), CLASSES)
    assert len(table.rows) == 10 and list(table.rows.columns[:4]) == ["lon", "lat", "crop_class", "month"]
    back = read_emit_table(write_emit_table(table, tmp_path / "emit.parquet"))
    assert back.months == (6, 8) and back.sensor is EMIT and len(back.wavelengths_nm) == 244
    features, classes = emit_features(back)
    assert features.shape == (5, 488) and np.isfinite(features).all()
    assert list(classes) == ["corn", "wheat", "other", "corn", "wheat"]
    assert features[0, :244] == pytest.approx(june[0, list(EMIT.kept_indices)].astype(np.float32))  # June first
    assert features[0, 244:] == pytest.approx(august[0, list(EMIT.kept_indices)].astype(np.float32))
    june_only, _ = emit_features(back, (6,))
    assert june_only.shape == (5, 244)


def test_a_sample_missing_a_month_drops_out_and_absent_months_are_refused(rows):
    frame, _, _ = rows
    table = table_from_rows(frame, (6, 8), CLASSES)
    kept = table.rows[~((table.rows.month == 8) & (table.rows.lon == 0.0))]
    features, _ = emit_features(type(table)(kept, table.months))
    assert features.shape == (4, 488)  # the intersection of the two months
    with pytest.raises(InputError, match="no month 2"):
        emit_features(table, (2,))
    with pytest.raises(InputError, match="lack column 'reflectance_0_m02'"):
        table_from_rows(frame, (2,), CLASSES)
