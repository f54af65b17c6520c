"""Recipe of the zoo's training footprints (``gee_crop/resources/models/footprints.json``): the climate zones
and lon/lat extent of the samples each shipped model was trained on, for the domain guard
(:mod:`gee_crop.models.domain`). The shipped weights are not touched.

Both zoo models (``cropnet-weu`` and its student ``tempcnn-weu``) trained on the WorldCereal extractions that
``models/train_zoo.py`` lists in ``DOMAINS`` (``../shared/data/wc-extractions``); the demo patch is not
among them (it stays unseen). Only the samples' coordinates are read (one row per sample)::

    .venv/bin/python models/zoo_footprint.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gee_crop.atomic import write_text_atomic  # noqa: E402
from gee_crop.models.domain import footprint_of  # noqa: E402
from gee_crop.models.zoo import FOOTPRINTS_NAME, zoo_models  # noqa: E402
from gee_crop.testing.paths import shared_data_dir  # noqa: E402

#: (domain name, file in wc-extractions): models/train_zoo.py DOMAINS, whose import needs torch and the trainer.
DOMAINS = (
    ("FRA 2022 (Corsica)", "2022_FRA_LPIS_POLY_110_monthly.geoparquet"),
    ("FRA 2023 (south-west)", "2023_FRA_LPIS_POLY_110_dekadal.geoparquet"),
    ("BEL 2021 (Flanders)", "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet"),
)


def sample_lonlat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of each sample of a WorldCereal extraction (long format: one row per sample and date)."""
    frame = pd.read_parquet(path, columns=["sample_id", "lon", "lat"]).drop_duplicates("sample_id")
    return frame["lon"].to_numpy(np.float64), frame["lat"].to_numpy(np.float64)


def main() -> None:
    folder = shared_data_dir() / "wc-extractions"
    points = [sample_lonlat(folder / name) for _, name in DOMAINS]
    lon, lat = np.concatenate([p[0] for p in points]), np.concatenate([p[1] for p in points])
    footprint = footprint_of(lon, lat)
    assert footprint is not None, "the extractions hold lon/lat"
    for (domain, _), (x, y) in zip(DOMAINS, points):
        part = footprint_of(x, y)
        print(f"{domain}: {len(x)} samples, {part.describe() if part else 'no lon/lat'}")
    entry = {"source": "models/zoo_footprint.py", "domains": [d for d, _ in DOMAINS], **footprint.to_dict()}
    footprints = {m.name: entry for m in zoo_models()}
    out = zoo_models()[0].path.parent / FOOTPRINTS_NAME
    write_text_atomic(out, json.dumps(footprints, indent=2) + "\n")
    print(f"wrote {out}: {footprint.describe()} over {footprint.n_samples} samples, lon/lat {footprint.bbox}")


if __name__ == "__main__":
    main()
