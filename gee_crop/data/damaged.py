"""Damaged input files: what a truncated or corrupt NetCDF, HDF5, Zarr or GeoTIFF raises while it is
read (netCDF4, h5py, GDAL errors, often late, when the values are loaded) becomes one InputError
naming the file and the fix, for every reader of the data room."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import rasterio.errors

from gee_crop.errors import InputError


@contextmanager
def unreadable_as_input_error(path: Path):
    """Turn the errors of reading a damaged or truncated ``path`` into InputError (the fix named)."""
    try:
        yield
    except (OSError, RuntimeError, KeyError, EOFError, rasterio.errors.RasterioError) as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(
            f"cannot read {path} ({why}); the file is damaged or truncated: download or export it again"
        ) from None
