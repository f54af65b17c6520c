"""Classes: the one "no class" value and class-name -> index conversion."""
from __future__ import annotations

import numpy as np

from gee_crop.config import CLASS_INDEX, CLASSES
from gee_crop.errors import UnknownClassError

#: Raster value of a pixel with no class (unlabelled, unmapped, masked); uint8 rasters.
NO_CLASS = 255


def class_indices(names: np.ndarray) -> np.ndarray:
    """Map class names to indices of config.CLASSES; unknown names raise UnknownClassError."""
    names = np.asarray(names, dtype=object)
    uniques, inverse = np.unique(names.astype(str), return_inverse=True)
    unknown = [u for u in uniques if u not in CLASS_INDEX]
    if unknown:
        raise UnknownClassError(
            f"unknown class name(s) {', '.join(map(repr, unknown))}; use one of {', '.join(CLASSES)}"
        )
    lookup = np.array([CLASS_INDEX[u] for u in uniques], dtype=np.int64)
    return lookup[inverse.reshape(-1)]
