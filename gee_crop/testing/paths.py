"""Where the shipped real demo data lives (``../shared/data`` beside the repository by default)."""
from __future__ import annotations

import os
from pathlib import Path

from gee_crop.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_PATCH_ID = "0000280849BAC91C"


def shared_data_dir() -> Path:
    """The real-data folder: $GEE_CROP_DATA, else ../shared/data next to the repository."""
    env = os.environ.get("GEE_CROP_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "data", REPO_ROOT / "shared" / "data"]
    for path in candidates:
        if (path / "wc-gee-patches").is_dir():
            return path
    raise InputError(
        "the shipped real data was not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); set GEE_CROP_DATA to the folder that holds wc-gee-patches/"
    )


def demo_patch_dir() -> Path:
    """Folder of the Earth Engine demo patch (Flanders 2019, 64x64 px at 10 m)."""
    return shared_data_dir() / "wc-gee-patches" / DEMO_PATCH_ID
