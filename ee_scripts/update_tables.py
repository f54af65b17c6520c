"""Regenerate the generated blocks of the Code Editor scripts and of the docs (run from the repo root).

    python ee_scripts/update_tables.py

* sample.js carries the CDL code -> class table of gee_crop/resources/labels/cdl_remap.csv (every code,
  the default class) and the per-state accuracy filter of cdl_state_accuracy.csv (METHOD.md);
* composite.js carries the constants of gee_crop/config.py and gee_crop/season.py;
* docs/user_guide.md and docs/earthengine.md carry the label upload commands of
  ``gee_crop.earthengine.labels.upload_command_lines``.

Each between its "BEGIN generated" / "END generated" lines; tests/earthengine/test_real_service.py,
tests/earthengine/test_ee_scripts.py and tests/docs/test_doc_commands.py check that they match.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from gee_crop import config, season
from gee_crop.classes import Legend
from gee_crop.countries import CDL_LEGEND, country_spec, read_accuracy_table
from gee_crop.earthengine.collections import CLOUD_SCORE_BANDS
from gee_crop.earthengine.composite import TIME_PREFIX
from gee_crop.earthengine.labels import upload_command_lines

SCRIPT = Path(__file__).with_name("sample.js")
COMPOSITE = Path(__file__).with_name("composite.js")
REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "// BEGIN generated", "// END generated"
DOC_BEGIN, DOC_END = "<!-- BEGIN generated: label upload commands", "<!-- END generated -->"
#: doc page -> the (country, project, year, local file) examples its upload block shows
DOC_UPLOADS = {
    "docs/user_guide.md": [("BEL", "my-project", 2023, "Lbgbrprc23.zip"), ("ARG", "my-project", 2023, "soy_2023.tif")],
    "docs/earthengine.md": [("FRA", "P", 2023, "parcels.zip"), ("CHN", "P", 2023, "labels.tif")],
}


def accuracy_years() -> list[int]:
    """The years with rows in the shipped per-state accuracy table."""
    from importlib import resources

    with resources.files("gee_crop.resources").joinpath("labels/cdl_state_accuracy.csv").open(encoding="utf-8") as fh:
        return sorted({int(r["year"]) for r in csv.DictReader(line for line in fh if not line.startswith("#"))})


def generated_block() -> str:
    codes, classes, default = Legend.shipped(CDL_LEGEND).lookup()
    accuracy = {str(year): {str(code): sorted(fips) for code, fips in sorted(read_accuracy_table(year).items())}
                for year in accuracy_years()}
    return "\n".join([
        f"{BEGIN} from gee_crop/resources/labels/{CDL_LEGEND} and cdl_state_accuracy.csv "
        "(python ee_scripts/update_tables.py)",
        f"var CDL_FROM = {json.dumps([int(c) for c in codes])};",
        f"var CDL_TO = {json.dumps(classes)};",
        f"var CDL_DEFAULT = {default};",
        "// year -> CDL code -> state FIPS codes where the code passes the accuracy filter (METHOD.md)",
        f"var ACCURACY = {json.dumps(accuracy)};",
        END,
    ])


def update(text: str) -> str:
    """``text`` (sample.js) with its generated block replaced."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: generated_block(), text)


def composite_block() -> str:
    """The constants of composite.js, from gee_crop/config.py and gee_crop/season.py."""
    return "\n".join([
        f"{BEGIN} from gee_crop/config.py and gee_crop/season.py (python ee_scripts/update_tables.py)",
        f"var BANDS = {json.dumps(list(config.BANDS))};",
        f"var S2_COLLECTION = {json.dumps(config.S2_COLLECTION)};",
        f"var CLOUD_SCORE_PLUS = {json.dumps(config.CLOUD_SCORE_PLUS_COLLECTION)};",
        f"var CLOUD_SCORE_BANDS = {json.dumps(list(CLOUD_SCORE_BANDS))};",
        f"var THRESHOLD = {config.CLEAR_THRESHOLD};",
        f"var SEASON_START_MONTH_DAY = {json.dumps(list(season.SEASON_START_MONTH_DAY))};",
        f"var SEASON_LENGTH_DAYS = {season.SEASON_LENGTH_DAYS};",
        f"var WINDOW_DAYS = {season.WINDOW_DAYS};",
        f"var N_BINS = {season.Season().n_bins};",
        f"var MAX_GAP_BINS = {config.MAX_GAP_BINS};",
        f"var SOUTH_SHIFT_MONTHS = {season.SOUTH_SHIFT_MONTHS};",
        f"var TIME_PREFIX = {json.dumps(TIME_PREFIX)};",
        END,
    ])


def upload_block(examples: list[tuple[str, str, int, str]]) -> str:
    """The fenced block of upload commands of ``examples`` (country, project, year, local file)."""
    lines = [line for code, project, year, source in examples
             for line in upload_command_lines(country_spec(code), country_spec(code).asset_id(year, project), source)]
    return "\n".join([f"{DOC_BEGIN} (python ee_scripts/update_tables.py) -->", "```bash", *lines, "```", DOC_END])


def update_doc(text: str, examples: list[tuple[str, str, int, str]]) -> str:
    """A doc page with its upload block replaced."""
    pattern = re.compile(re.escape(DOC_BEGIN) + r".*?" + re.escape(DOC_END), re.S)
    return pattern.sub(lambda _: upload_block(examples), text)


def update_composite(text: str) -> str:
    """``text`` (composite.js) with its generated block replaced."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: composite_block(), text)


if __name__ == "__main__":
    SCRIPT.write_text(update(SCRIPT.read_text(encoding="utf-8")), encoding="utf-8")
    COMPOSITE.write_text(update_composite(COMPOSITE.read_text(encoding="utf-8")), encoding="utf-8")
    for page, examples in DOC_UPLOADS.items():
        path = REPO / page
        path.write_text(update_doc(path.read_text(encoding="utf-8"), examples), encoding="utf-8")
