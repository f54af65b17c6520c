"""The assessment tests' real map: the Flanders 2019 patch's label raster, and a shifted copy."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.assessment.points import write_class_raster
from gee_crop.classes import CLASSES, NO_CLASS
from gee_crop.data.stacks import open_local_stack


def _write_classes(path, classes: np.ndarray, stack) -> str:
    return str(write_class_raster(path, classes, CLASSES, stack.crs, stack.transform))


@pytest.fixture(scope="module")
def maps(patch_dir, tmp_path_factory):
    """The patch's real label raster as reference, and a 'map' of it shifted 2 px east (the errors
    a misregistered or edge-blurred map makes), restricted to labelled pixels."""
    stack = open_local_stack(patch_dir)
    truth = stack.classes.astype(np.uint8)
    shifted = np.roll(truth, 2, axis=1)
    shifted[truth == NO_CLASS] = NO_CLASS
    folder = tmp_path_factory.mktemp("assess")
    return {"reference": _write_classes(folder / "labels.tif", truth, stack),
            "map": _write_classes(folder / "map.tif", shifted, stack), "truth": truth, "mapped": shifted}


