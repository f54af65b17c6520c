"""User-facing errors. Each message names the problem and the fix; the CLI prints it on one line."""

from __future__ import annotations


class GeeCropError(Exception):
    """Base class for errors caused by user input or the environment (not programming errors)."""


class InputError(GeeCropError):
    """A file, option or value given by the user cannot be used as it is."""


class TrainOptionError(InputError):
    """A training option cannot be used; ``option`` names it (a ``TrainConfig`` field), so an experiment
    file can point at the key that holds it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


class SampleTableError(InputError):
    """A sample table is missing columns, has the wrong band set, or holds invalid values."""


class BandValueError(InputError):
    """Band values are not Sentinel-2 L2A DN (negative, NaN, above the valid range); the message counts them."""


class SeasonError(InputError):
    """A season span does not fit the data (no observations, outside the series)."""


class UnknownClassError(InputError):
    """A class name is not one of the 7 CropGlobe classes."""


class ModelFileError(InputError):
    """A file is not a gee-crop model, or the model does not match the data."""


class RegionError(InputError):
    """A region (GeoJSON, country code) is invalid or outside the data."""


class VectorFileError(InputError):
    """A vector file (labels) cannot be read: not a format GDAL reads, broken geometries, several layers,
    too large."""


class EmptyResultError(InputError):
    """An output would hold no valid pixel or sample (a map of nodata, scores of nothing); the message
    says why and what to change. Raised instead of writing it."""


class EarthEngineError(GeeCropError):
    """Earth Engine refused or failed a request after retries."""


class OutputExistsError(InputError):
    """An output path exists and --overwrite was not given."""


class OutputLockedError(GeeCropError):
    """Another gee-crop run holds the lock on this output (see gee_crop.outputs); the message names it."""


class ParityError(GeeCropError):
    """An exported model does not reproduce the original model's probabilities."""


class ExperimentConfigError(InputError):
    """An experiment file is missing a key, has an unknown one, or holds a value that cannot be used."""


class OutputWriteError(GeeCropError):
    """An output could not be written (disk full, no permission)."""


class MapIncompleteError(GeeCropError):
    """Some map tiles failed after retries; the finished ones are kept for a rerun."""


class XeeMissingError(GeeCropError):
    """xee (the Earth Engine backend of xarray) is not installed."""


class ZarrMissingError(GeeCropError):
    """zarr (the format of composite cubes) is not installed."""


class NotebookExtraMissingError(GeeCropError):
    """geemap (the optional notebook extra) is not installed."""
