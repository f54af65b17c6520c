"""Where the real data lives: the demo patch shipped inside the package, and the test and experiment
data folder (``../shared/data`` beside the repository, or ``$GEE_CROP_DATA``).

Only tests and experiments read the shared folder (:func:`shared_data_dir`); everything a user runs
(``gee-crop demo``, ``export``'s default calibration, ``sample``'s country outlines) reads
``gee_crop/resources``, so a wheel install works on its own.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from gee_crop.experiments.data_folder import REPO_ROOT, experiment_data_dir  # noqa: F401  (REPO_ROOT for tests)

DEMO_PATCH_ID = "0000280849BAC91C"
#: The tests' real-data folder is the experiments' one (shared/data beside the checkout, or $GEE_CROP_DATA).
shared_data_dir = experiment_data_dir


def demo_patch_dir() -> Path:
    """Folder of the Earth Engine demo patch shipped in the package (Flanders 2019, 64x64 px at 10 m;
    gee_crop/resources/demo/PROVENANCE.md)."""
    return Path(str(resources.files("gee_crop.resources").joinpath("demo", DEMO_PATCH_ID)))
