"""Where the real data lives: the demo patch shipped inside the package (:mod:`gee_crop.data.demo`,
re-exported here) and the test and experiment data folder (``../shared/data`` beside the repository,
or ``$GEE_CROP_DATA``).

Only tests and experiments read the shared folder (:func:`shared_data_dir`); everything a user runs
(``gee-crop demo``, ``export``'s default calibration, ``sample``'s country outlines) reads
``gee_crop/resources``, so a wheel install works on its own.
"""

from __future__ import annotations

from gee_crop.data.demo import DEMO_PATCH_ID, demo_patch_dir
from gee_crop.experiments.data_folder import REPO_ROOT, experiment_data_dir

__all__ = ["DEMO_PATCH_ID", "REPO_ROOT", "demo_patch_dir", "shared_data_dir"]

#: The tests' real-data folder is the experiments' one (shared/data beside the checkout, or $GEE_CROP_DATA).
shared_data_dir = experiment_data_dir
