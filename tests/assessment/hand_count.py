"""An independent count of the parcel-level accuracy of a map of the demo patch (scipy, not gee_crop's
parcel code): the label raster's 4-connected regions of one class are the parcels; the half-pixel
erosion of a parcel drawn along pixel edges keeps exactly the pixels whose four neighbours are in it; a
parcel with no such pixel, or under 4 mapped pixels, is flagged and left out."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from gee_crop.classes import NO_CLASS


def parcel_hand_count(labels: np.ndarray, band: np.ndarray) -> tuple[int, int, int]:
    """(correct, counted, flagged) parcels of the map class band ``band`` against the label raster ``labels``."""
    cross = ndimage.generate_binary_structure(2, 1)
    correct = counted = flagged = 0
    for value in np.unique(labels[labels != NO_CLASS]):
        regions, n = ndimage.label(labels == value, structure=cross)
        for region in range(1, n + 1):
            mask = regions == region
            interior = ndimage.binary_erosion(mask, cross, border_value=0)
            votes = band[interior & (band != NO_CLASS)]
            if not interior.any() or votes.size < 4:
                flagged += 1
                continue
            counted += 1
            correct += int(np.bincount(votes).argmax() == value)
    return correct, counted, flagged
