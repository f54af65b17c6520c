"""Raw stack readers: NetCDF / Zarr and GeoTIFF stacks read like the Earth Engine patch, north up."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import Affine

from gee_crop.config import BANDS, band_name
from gee_crop.data.stacks import _DESCRIPTION, open_local_stack
from gee_crop.errors import InputError


def test_netcdf_stack_reads_like_the_patch(tmp_path, patch):
    s = patch
    ds = xr.Dataset({b: (("time", "y", "x"), s.dn[..., i]) for i, b in enumerate(BANDS)},
                    coords={"time": s.dates.astype("datetime64[ns]"), "y": s.y, "x": s.x}, attrs={"epsg": 32631})
    ds["SCL"] = (("time", "y", "x"), s.cloud.astype(np.uint8))
    ds.to_netcdf(tmp_path / "stack.nc")
    stack = open_local_stack(tmp_path / "stack.nc")
    np.testing.assert_array_equal(stack.dn, s.dn)
    np.testing.assert_array_equal(stack.cloud, s.cloud)
    np.testing.assert_array_equal(stack.dates, s.dates)
    assert (stack.crs, stack.cloud_kind, stack.upper_left) == ("EPSG:32631", "scl", s.upper_left)
    del ds["B8A"]
    ds.to_netcdf(tmp_path / "no_b8a.nc")
    with pytest.raises(InputError, match="missing: B8A"):
        open_local_stack(tmp_path / "no_b8a.nc")


def test_south_up_stack_is_read_north_up(tmp_path, patch):
    s = patch
    flipped = xr.Dataset({b: (("time", "y", "x"), s.dn[:, ::-1, :, i]) for i, b in enumerate(BANDS)},
                         coords={"time": s.dates.astype("datetime64[ns]"), "y": s.y[::-1], "x": s.x},
                         attrs={"epsg": 32631})
    flipped["SCL"] = (("time", "y", "x"), s.cloud[:, ::-1].astype(np.uint8))
    flipped.to_netcdf(tmp_path / "south_up.nc")
    stack = open_local_stack(tmp_path / "south_up.nc")
    np.testing.assert_array_equal(stack.y, s.y)
    np.testing.assert_array_equal(stack.dn, s.dn)
    assert stack.upper_left == s.upper_left


def test_geotiff_stack_with_earth_engine_band_names(tmp_path, patch):
    s, dates = patch, slice(40, 44)  # four real May 2019 acquisitions
    names, bands = [], []
    for k in range(40, 44):
        day = str(s.dates[k]).replace("-", "")
        for i, band in enumerate(BANDS):
            names.append(f"{day}T105031_{day}T105351_T31UES_{band}")
            bands.append(s.dn[k, :, :, i])
        names.append(f"{day}T105031_{day}T105351_T31UES_SCL")
        bands.append(s.cloud[k].astype(np.uint16))
    path = tmp_path / "stack.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=len(bands), dtype="uint16",
                       crs="EPSG:32631", transform=Affine(*s.transform)) as dst:
        dst.write(np.stack(bands))
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
    stack = open_local_stack(path)
    np.testing.assert_array_equal(stack.dates, s.dates[dates])
    np.testing.assert_array_equal(stack.dn, s.dn[dates])
    np.testing.assert_array_equal(stack.cloud, s.cloud[dates])
    np.testing.assert_allclose(stack.x, s.x)
    np.testing.assert_allclose(stack.y, s.y)


def test_unknown_stack_inputs_are_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_local_stack(tmp_path / "nothing.nc")
    (tmp_path / "stack.csv").write_text("x")
    with pytest.raises(InputError, match="unknown stack format"):
        open_local_stack(tmp_path / "stack.csv")


def test_band_descriptions_are_parsed_to_date_and_band():
    cases = {"20190501T105031_20190501T105351_T31UES_B8A": ("20190501", "B8A"),
             "2019-05-01_B02": ("2019-05-01", "B02"), "20190501_cs_cdf": ("20190501", "cs_cdf"),
             "20190501_cs": ("20190501", "cs"), "S2B_20190501_SCL": ("20190501", "SCL")}
    for description, expected in cases.items():
        m = _DESCRIPTION.search(description)
        assert (m["date"], m["band"]) == expected, description
    assert band_name("B02") == "B2" and band_name("B8A") == "B8A" and band_name("SCL") == "SCL"
    assert _DESCRIPTION.search("B8A") is None
