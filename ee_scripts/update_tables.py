"""Regenerate the tables of sample.js from the CSVs the Python package ships (run from the repo root).

    python ee_scripts/update_tables.py

sample.js carries the CDL code -> class table of gee_crop/resources/labels/cdl_remap.csv (every code,
the default class) and the per-state accuracy filter of cdl_state_accuracy.csv (METHOD.md), between
the "BEGIN generated" / "END generated" lines; tests/earthengine/test_real_service.py checks that the
script matches the CSVs.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from gee_crop.classes import Legend
from gee_crop.countries import CDL_LEGEND, read_accuracy_table

SCRIPT = Path(__file__).with_name("sample.js")
BEGIN, END = "// BEGIN generated", "// END generated"


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


if __name__ == "__main__":
    SCRIPT.write_text(update(SCRIPT.read_text(encoding="utf-8")), encoding="utf-8")
