"""The Code Editor scripts keep the constants of the Python graphs (gee_crop/config.py, gee_crop/season.py)."""
from __future__ import annotations

import json
import re

import pytest

from gee_crop import config, season
from gee_crop.classes import CLASS_INDEX, NO_CLASS, Legend
from gee_crop.testing.paths import REPO_ROOT

SCRIPTS = REPO_ROOT / "ee_scripts"


def js_constant(script: str, name: str):
    text = (SCRIPTS / script).read_text(encoding="utf-8")
    match = re.search(rf"^var {name} = (.+?);", text, re.M | re.S)
    assert match, f"{name} not found in {script}"
    value = re.sub(r"//.*", "", match.group(1)).replace("'", '"').replace("NO_CLASS", str(NO_CLASS))
    return json.loads(value)


@pytest.mark.parametrize("script", ["composite.js", "sample.js"])
def test_shared_constants(script):
    assert js_constant(script, "BANDS") == list(config.BANDS)
    assert js_constant(script, "S2_COLLECTION") == config.S2_COLLECTION
    assert js_constant(script, "CLOUD_SCORE_PLUS") == config.CLOUD_SCORE_PLUS_COLLECTION
    assert js_constant(script, "THRESHOLD") == config.CLEAR_THRESHOLD


def test_composite_constants():
    assert js_constant("composite.js", "SEASON_LENGTH_DAYS") == season.SEASON_LENGTH_DAYS
    assert js_constant("composite.js", "WINDOW_DAYS") == season.WINDOW_DAYS
    assert js_constant("composite.js", "MAX_GAP_BINS") == config.MAX_GAP_BINS
    assert js_constant("composite.js", "SOUTH_SHIFT_MONTHS") == season.SOUTH_SHIFT_MONTHS


def test_sampling_constants_and_cdl_codes():
    assert js_constant("sample.js", "INWARD_BUFFER_M") == config.INWARD_BUFFER_M
    assert js_constant("sample.js", "GRID_CELL_DEG") == config.GRID_CELL_DEG
    assert js_constant("sample.js", "SAMPLE_SPACING_M") == config.SAMPLE_SPACING_M
    assert js_constant("sample.js", "PER_CELL") == 1  # METHOD.md "Sampling": 1 per cell in the USA (sample.js's CDL)
    codes, classes, default = Legend.shipped("cdl_remap.csv").lookup()
    python = dict(zip(map(int, codes), classes))
    js = dict(zip(js_constant("sample.js", "CDL_FROM"), js_constant("sample.js", "CDL_TO")))
    assert js == {code: python[code] for code in js}  # the JS subset agrees with the shipped table
    assert default == CLASS_INDEX["other"]
