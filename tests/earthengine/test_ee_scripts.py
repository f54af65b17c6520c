"""The Code Editor scripts keep the constants of the Python graphs (gee_crop/config.py, gee_crop/season.py)."""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gee_crop import config, season
from gee_crop.classes import CLASS_INDEX, NO_CLASS, Legend
from gee_crop.earthengine import composite
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


# ----------------------------------------------------------------------------- composite.js: generated and run

def _generator():
    spec = importlib.util.spec_from_file_location("update_tables", SCRIPTS / "update_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_composite_constants_are_generated_from_the_python_package():
    """The constants block of composite.js is update_tables.py's output, not edited by hand."""
    script = (SCRIPTS / "composite.js").read_text(encoding="utf-8")
    assert _generator().composite_block() in script
    assert js_constant("composite.js", "N_BINS") == season.Season().n_bins
    assert js_constant("composite.js", "SEASON_START_MONTH_DAY") == list(season.SEASON_START_MONTH_DAY)
    assert js_constant("composite.js", "TIME_PREFIX") == composite.TIME_PREFIX


def test_composite_source_has_the_python_graphs_steps():
    """Read without running: the same-day merge, per-band time bands, no blocking call, no month named by hand."""
    script = re.sub(r"/\*.*?\*/|//[^\n]*", "", (SCRIPTS / "composite.js").read_text(encoding="utf-8"), flags=re.S)
    assert ".qualityMosaic(CLOUD_BAND)" in script, "no same-day merge of overlapping granules (qualityMosaic)"
    assert ".rename(TIME_BANDS)" in script and "BANDS[0]).mask()" not in script, "one band's mask used for all"
    assert not re.search(r"\b(getInfo|evaluate)\s*\(", script), "a blocking getInfo/evaluate call"
    months = "January|February|March|April|June|July|August|September|October|November|December"
    assert not re.search(rf"'[^'\n]*\b({months})\b[^'\n]*'", script), "a window labelled by hand"


NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node (to run the Code Editor script) is not installed")


def _run_script(name: str, *expressions: str) -> dict:
    """The script run by node against the recording stand-in for ``ee`` (tests/earthengine/ee_recorder.js)."""
    recorder = Path(__file__).with_name("ee_recorder.js")
    done = subprocess.run([NODE, str(recorder), str(SCRIPTS / name), *expressions], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _label(first: dt.date, window_days: int) -> str:
    """'9–13 Aug 2023' (month and year of the first day shown only where they differ from the last's)."""
    last = first + dt.timedelta(days=window_days - 1)
    head = f"{first.day}" + ("" if first.month == last.month else f" {first:%b}") + (
        "" if first.year == last.year else f" {first.year}")
    return f"{head}\u2013{last.day} {last:%b} {last.year}"


@needs_node
def test_composite_windows_and_labels_are_the_seasons_dates():
    """Window dates of both hemispheres are Season.span's bins, and labels are computed from them
    (the old script called window t20, 9–13 Aug, "July")."""
    spans = {lat: season.Season().span_at(2023, lat) for lat in (47.2, -33.0)}
    first = spans[47.2].bin_starts()[20]  # the window the script shows as shipped
    assert _label(first, 5) == "9\u201313 Aug 2023"
    assert _run_script("composite.js")["layers"][0]["name"] == f"window t20, {_label(first, 5)} (NIR-R-G)"
    assert js_constant("composite.js", "SHOW_WINDOW") == 20
    expressions = [f"[windowDates(seasonStart(2023, {lat}), {k})[0], windowLabel(seasonStart(2023, {lat}), {k})]"
                   for lat, span in spans.items() for k in range(span.n_bins)]
    run = _run_script("composite.js", *expressions)
    expected = [[{"date": f"{first.isoformat()}T00:00:00.000Z"}, _label(first, span.window_days)]
                for span in spans.values() for first in span.bin_starts()]
    assert run["results"] == expected


class _Graph:
    """The calls composite.js made, as recorded by ee_recorder.js."""

    def __init__(self, run: dict):
        self.nodes = run["nodes"]

    def method(self, i: int) -> str | None:
        return self.nodes[i].get("method")

    def target(self, i: int) -> int:
        return self.nodes[i]["target"]

    def chain(self, i: int) -> list[str]:
        """Methods from node i down its targets (not its arguments) to the ``ee`` root."""
        out = []
        while "method" in self.nodes[i]:
            out.append(self.method(i))
            i = self.target(i)
        return out

    def refs(self, value) -> list[int]:
        """Node ids an encoded argument refers to (function bodies included)."""
        if isinstance(value, dict):
            if "ref" in value:
                return [value["ref"]]
            return [r for v in value.values() for r in self.refs(v)]
        if isinstance(value, list):
            return [r for v in value for r in self.refs(v)]
        return []

    def reachable(self, i: int) -> set[int]:
        seen, todo = set(), [i]
        while todo:
            j = todo.pop()
            if j in seen or "method" not in self.nodes[j]:
                continue
            seen.add(j)
            todo += [self.target(j), *self.refs(self.nodes[j]["args"])]
        return seen


@needs_node
def test_composite_graph_merges_same_day_granules_and_masks_band_by_band():
    """Run, not read: each window's median is taken over same-day mosaics (qualityMosaic of one day's
    granules by the Cloud Score+ band, as composite.same_day_mosaics), each time band is masked as its
    own band, nothing blocks on the server, and the output is the masked uint16 band-major stack."""
    run = _run_script("composite.js")
    graph = _Graph(run)
    blocking = [n["method"] for n in graph.nodes if n.get("method", "").split(".")[-1] in ("getInfo", "evaluate")]
    assert not blocking, f"the script blocks on the server: {blocking}"
    used = graph.reachable(run["variables"]["composite"])
    assert graph.chain(run["variables"]["composite"])[:4] == ["clip", "updateMask", "toUint16", "round"]
    medians = sorted(i for i in used if graph.method(i) == "median")
    assert len(medians) == season.Season().n_bins
    for i in medians:
        # median <- merge(empty) <- map(toFloat) <- filterDate(window) <- map(clear mask) <- filter(granules > 0)
        assert graph.chain(i)[:6] == ["median", "merge", "map", "filterDate", "map", "filter"]
        days = graph.target(graph.target(graph.target(graph.target(graph.target(i)))))
        assert graph.chain(days)[:2] == ["filter", "ImageCollection.fromImages"]
        day_list = graph.refs(graph.nodes[graph.target(days)]["args"])[0]
        assert graph.chain(day_list) == ["map", "List.sequence"]
        body = graph.nodes[day_list]["args"][0]["body"]["ref"]
        mosaic = graph.target(body)
        assert graph.method(body) == "set" and graph.method(mosaic) == "qualityMosaic"
        assert graph.nodes[mosaic]["args"] == [js_constant("composite.js", "CLOUD_BAND")]
        one_day = graph.nodes[graph.target(mosaic)]  # raw.filterDate(begin, begin.advance(1, 'day'))
        assert one_day["method"] == "filterDate"
        begin, end = (a["ref"] for a in one_day["args"])
        assert graph.nodes[end] == {"method": "advance", "target": begin, "args": [1, "day"]}
        assert "linkCollection" in graph.chain(graph.target(mosaic))  # the granules are the S2 + Cloud Score+ ones
        # the time bands: median * 0 + k renamed t_B2 ... t_B12, so each carries its own band's mask
        time_bands = [j for j in used if graph.method(j) == "addBands" and graph.target(j) == i]
        assert len(time_bands) == 1
        time = graph.refs(graph.nodes[time_bands[0]]["args"])[0]
        assert graph.chain(time)[:3] == ["rename", "add", "multiply"] and graph.target(
            graph.target(graph.target(time))) == i
        assert graph.nodes[time]["args"] == [[f"{composite.TIME_PREFIX}{b}" for b in config.BANDS]]
    assert not [j for j in used if graph.method(j) == "mask"], "a band's mask copied to the others"
