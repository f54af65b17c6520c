"""User-facing errors. Each message names the problem and the fix; the CLI prints it on one line."""
from __future__ import annotations


class GeeCropError(Exception):
    """Base class for errors caused by user input or the environment (not programming errors)."""


class InputError(GeeCropError):
    """A file, option or value given by the user cannot be used as it is."""


class SampleTableError(InputError):
    """A sample table is missing columns, has the wrong band set, or holds invalid values."""


class SeasonError(InputError):
    """A season span does not fit the data (no observations, outside the series)."""


class UnknownClassError(InputError):
    """A class name is not one of the 7 CropGlobe classes."""


class ModelFileError(InputError):
    """A file is not a gee-crop model, or the model does not match the data."""


class RegionError(InputError):
    """A region (GeoJSON, country code) is invalid or outside the data."""


class EarthEngineError(GeeCropError):
    """Earth Engine refused or failed a request after retries."""


class OutputExistsError(InputError):
    """An output path exists and --overwrite was not given."""
