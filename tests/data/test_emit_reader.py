"""The EMIT L2A reader on a real EMIT reflectance cube (../shared/data/emit, PROVENANCE.md): value ranges,
the product's bad bands inside the sensor's water-vapour windows, and a vegetation red edge."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gee_crop.data.emit import read_emit_l2a
from gee_crop.errors import InputError
from gee_crop.sensors import EMIT


@pytest.fixture(scope="module")
def nc_path(shared_data):
    return shared_data / "emit" / "emit20250324t221005_10x10_l2a_layout.nc"


@pytest.fixture(scope="module")
def cube(nc_path):
    return read_emit_l2a(nc_path)


def _band_at(cube, nm: float) -> int:
    return int(np.argmin(np.abs(cube.wavelengths_nm - nm)))


def test_reads_real_reflectance_named_as_earth_engine_does(cube):
    assert cube.reflectance.shape == (10, 10, 285) and cube.reflectance.dtype == np.float32
    assert cube.bands[0] == "reflectance_0" and cube.bands[-1] == "reflectance_284"
    kept = cube.select(EMIT.bands)
    assert kept.shape == (10, 10, 244)
    assert np.isfinite(kept).all() and 0.0 < kept.min() and kept.max() < 1.0  # PROVENANCE: 0.0169-0.398


def test_the_products_bad_bands_are_exactly_the_ones_the_windows_drop(cube):
    bad = np.flatnonzero(~cube.good)
    assert len(bad) == 41
    assert np.all(cube.reflectance[..., bad] == np.float32(-0.01))  # how the product stores them
    dropped = sorted(set(range(285)) - set(EMIT.kept_indices))
    assert dropped == bad.tolist()


def test_a_vegetated_pixel_has_a_red_edge(cube):
    red, edge, rising, nir = (cube.reflectance[..., _band_at(cube, nm)] for nm in (670, 705, 740, 800))
    ndvi = (nir - red) / (nir + red)
    r, c = np.unravel_index(np.argmax(ndvi), ndvi.shape)
    assert ndvi[r, c] > 0.6  # PROVENANCE: NDVI up to 0.614
    assert red[r, c] < edge[r, c] < rising[r, c] < nir[r, c]
    assert nir[r, c] > 3 * red[r, c]


def test_fill_is_no_data_and_other_centres_are_refused(nc_path, tmp_path):
    ds = xr.open_dataset(nc_path, mask_and_scale=False).load()
    params = xr.open_dataset(nc_path, group="sensor_band_parameters", mask_and_scale=False).load()
    ds["reflectance"].values[0, 0, :] = -9999.0  # SYNTHETIC: one pixel set to the product's fill
    filled = tmp_path / "filled.nc"
    ds.to_netcdf(filled)
    params.to_netcdf(filled, group="sensor_band_parameters", mode="a")
    cube = read_emit_l2a(filled)
    assert np.isnan(cube.reflectance[0, 0]).all() and np.isfinite(cube.reflectance[1:]).all()
    params["wavelengths"].values[:] += 10.0  # SYNTHETIC: another instrument's centres
    shifted = tmp_path / "shifted.nc"
    ds.to_netcdf(shifted)
    params.to_netcdf(shifted, group="sensor_band_parameters", mode="a")
    with pytest.raises(InputError, match="band centres are not the emit sensor"):
        read_emit_l2a(shifted)
