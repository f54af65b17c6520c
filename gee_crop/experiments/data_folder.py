"""The real-data folder that experiment files name as ``{shared_data}`` (and the tests read): the
project's ``shared/data`` beside a source checkout, or ``$GEE_CROP_DATA``. Nothing a user runs
outside an experiment reads it; the demo, ``sample`` and ``map`` use ``gee_crop/resources``."""

from __future__ import annotations

import os
from pathlib import Path

from gee_crop.errors import InputError

#: The source checkout's root (the folder holding gee_crop/), whose sibling ``shared/data`` is searched.
REPO_ROOT = Path(__file__).resolve().parents[2]


def experiment_data_dir() -> Path:
    """The experiment and test data folder: $GEE_CROP_DATA, else shared/data next to the checkout."""
    env = os.environ.get("GEE_CROP_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "data", REPO_ROOT / "shared" / "data"]
    for path in candidates:
        if (path / "wc-gee-patches").is_dir():
            return path
    raise InputError(
        "the experiment data folder was not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); set GEE_CROP_DATA to the folder that holds wc-gee-patches/ and wc-extractions/"
    )
