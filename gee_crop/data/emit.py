"""Read EMIT L2A surface reflectance (the LP DAAC netCDF layout) into reflectance arrays of the EMIT sensor.

The file holds ``reflectance (downtrack, crosstrack, bands)`` float32 with ``_FillValue`` -9999 and, in the
group ``sensor_band_parameters``, the band centres ``wavelengths``, ``fwhm`` and the product's good-band
flags ``good_wavelengths`` (its bad bands are stored as -0.01). The reader names band i as the Earth Engine
catalog does (``reflectance_<i>``) after checking that the file's centres are the sensor's, so a band is
always chosen by name and wavelength, never by position alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import xarray as xr

from gee_crop.errors import InputError
from gee_crop.sensors import EMIT, Sensor

#: Largest difference (nm) between a file's band centre and the sensor's: under half the ~7.4 nm step.
CENTRE_TOLERANCE_NM = 3.0


@dataclass(frozen=True)
class ReflectanceCube:
    """One EMIT scene (or a window of it) as reflectance."""

    reflectance: np.ndarray
    """(rows, cols, bands) float32 reflectance, NaN where the file holds the fill value."""
    bands: tuple[str, ...]
    """Earth Engine name of each band, in the file's order."""
    wavelengths_nm: np.ndarray
    """(bands,) band centres (nm)."""
    good: np.ndarray
    """(bands,) bool: the product's good-band flags."""

    def select(self, names: tuple[str, ...]) -> np.ndarray:
        """(rows, cols, len(names)) reflectance of the bands ``names``, in that order (by name)."""
        index = {name: i for i, name in enumerate(self.bands)}
        missing = [n for n in names if n not in index]
        if missing:
            raise InputError(f"the EMIT file lacks bands {missing[:3]}...; read a full L2A reflectance file")
        return self.reflectance[..., [index[n] for n in names]]


def read_emit_l2a(path: str | os.PathLike, sensor: Sensor = EMIT) -> ReflectanceCube:
    """The reflectance of an EMIT L2A netCDF, bands named as ``sensor``'s; InputError when its band centres
    are not the sensor's (another product or calibration)."""
    with xr.open_dataset(path, mask_and_scale=False) as root:
        if "reflectance" not in root.variables:
            raise InputError(f"{path} has no 'reflectance' variable; give an EMIT L2A RFL netCDF")
        values = root["reflectance"].values.astype(np.float32)
    with xr.open_dataset(path, group="sensor_band_parameters", mask_and_scale=False) as params:
        wavelengths = params["wavelengths"].values.astype(np.float64)
        good = params["good_wavelengths"].values.astype(bool)
    expected = np.asarray(sensor.product_wavelengths_nm)
    if wavelengths.shape != expected.shape or np.max(np.abs(wavelengths - expected)) > CENTRE_TOLERANCE_NM:
        raise InputError(
            f"{path}: its {wavelengths.size} band centres are not the {sensor.name} sensor's "
            f"{expected.size}; give an EMIT L2A reflectance file"
        )
    if sensor.fill is not None:
        values[values == np.float32(sensor.fill)] = np.nan
    return ReflectanceCube(sensor.reflectance(values), sensor.product_bands, wavelengths, good)
