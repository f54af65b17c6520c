"""gee-crop: crop-type mapping anywhere on Earth with invariant features (CropGlobe / CropNet)."""

from gee_crop.classes import CLASSES  # noqa: F401
from gee_crop.config import BANDS  # noqa: F401

__version__ = "0.1.0"
