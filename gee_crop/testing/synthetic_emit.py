"""A SYNTHETIC EMIT table built from REAL spectra, for the experiment runner's EMIT rows (tests and
experiments/emit_synthetic.py). No labelled EMIT table exists in ../shared/data/emit (its PROVENANCE.md: no
cropland label and no June/August acquisition), so it is built from what is there and says what it is:

* spectra: the 100 pixels of the real EMIT L2A cube (``emit20250324t221005_10x10_l2a_layout.nc``), the kept bands;
* months (SYNTHETIC): June = the pixels as read, August = the same pixels 10 % darker;
* places (SYNTHETIC): a 10 x 10 grid of 0.001 degree at lon -90, lat 40 (no map info in the cube);
* classes (SYNTHETIC): ``vegetation`` where NDVI (804 / 670 nm) > 0.3, else ``other``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gee_crop.data.emit import read_emit_l2a
from gee_crop.data.emit_table import EmitTable
from gee_crop.sensors import EMIT
from gee_crop.testing.fake_emit import EMIT_CUBE


def synthetic_emit_table(shared: Path) -> EmitTable:
    """The SYNTHETIC table of the module docstring, from the real cube under ``shared`` (../shared/data)."""
    cube = read_emit_l2a(shared / EMIT_CUBE).select(EMIT.bands)
    spectra = cube.reshape(-1, len(EMIT.bands)).astype(np.float64)
    red, nir = spectra[:, EMIT.bands.index("reflectance_39")], spectra[:, EMIT.bands.index("reflectance_57")]
    label = np.where((nir - red) / (nir + red) > 0.3, "vegetation", "other")
    parts = []
    for month, scale in ((6, 1.0), (8, 0.9)):
        part = pd.DataFrame(spectra * scale, columns=list(EMIT.bands))
        part.insert(0, "month", np.int8(month))
        part.insert(0, "crop_class", label)
        part.insert(0, "lat", 40 + np.repeat(np.arange(10), 10) * 1e-3)
        part.insert(0, "lon", -90 + np.tile(np.arange(10), 10) * 1e-3)
        parts.append(part)
    return EmitTable(pd.concat(parts, ignore_index=True), (6, 8))
