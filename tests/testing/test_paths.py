"""Where the real data lives: the demo patch inside the package, the shared test data beside the checkout."""
from __future__ import annotations

from pathlib import Path

import gee_crop
from gee_crop.data.patch import read_patch
from gee_crop.testing.paths import DEMO_PATCH_ID, demo_patch_dir, shared_data_dir


def test_the_demo_patch_ships_inside_the_package():
    folder = demo_patch_dir()
    assert folder.is_dir() and folder.name == DEMO_PATCH_ID
    assert Path(gee_crop.__file__).parent / "resources" in folder.parents
    patch = read_patch(folder)
    assert patch.shape == (64, 64) and len(patch.dates) == 72 and patch.crs == "EPSG:32631"


def test_the_shared_data_folder_holds_the_test_data():
    folder = shared_data_dir()
    assert folder.is_dir() and (folder / "ee-algorithms" / "algorithms.json").is_file()
