"""A fake Earth Engine client backed by the real Earth Engine patch in ../shared/data.

:class:`FakeEarthEngineClient` has the methods of :class:`gee_crop.earthengine.client.EarthEngineClient`
and runs through its real retry loop (injected failures are ``ee.EEException`` with an HTTP status,
exactly as earthengine-api raises them). It reads what a graph asks for (region polygon, date window,
cloud band, threshold, buffer radius, per-cell count, spacing, seed) from the serialized graph and
answers from the patch (Flanders 2019, 64 x 64 px at 10 m, 72 dates):

* sampling rows: labelled patch pixels inside the requested region, eroded by the buffer radius,
  on the ``spacing`` grid, ``numPoints`` per 0.1 degree cell, one row per acquisition in the window;
  the row layout is that of ``gee_crop.earthengine.sampling.series_rows``.
* **Cloud Score+ stand-in**: the patch has SCL, not Cloud Score+; the ``cs`` / ``cs_cdf`` value served
  is 1.0 where SCL is a clear class (4 vegetation, 5 bare soil) and 0.0 otherwise.
* ``anchor=(lon, lat)`` moves the patch (a pure translation of its lon/lat) so that a test can sample
  it "inside" another country, e.g. France; labels keep their WorldCereal meaning (corn/wheat/other).
* ``compute_pixels`` returns the array given as ``pixels`` (or ``pixels(expression, grid, band_ids)``).

Every request is recorded in ``graphs`` as ``(method, object)``. ``fail_next=[429, 500]`` makes the next
requests fail with those statuses; ``interrupt_after=k`` raises :class:`FakeInterrupt` once k tiles were
answered (a killed run, for resume tests).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable

import ee
import numpy as np
from scipy import ndimage
from shapely import geometry as sg

from gee_crop.classes import NO_CLASS
from gee_crop.config import BANDS, SCL_CLEAR_CLASSES
from gee_crop.data.patch import read_patch
from gee_crop.earthengine.client import EarthEngineClient, RetryPolicy
from gee_crop.earthengine.graph import invocations, walk_calls
from gee_crop.testing.paths import demo_patch_dir


class FakeInterrupt(RuntimeError):
    """Raised by the fake to simulate a run killed part-way."""


class _Resp:
    def __init__(self, status: int) -> None:
        self.status = status


class _HttpError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.resp = _Resp(status)


def injected_error(status: int) -> ee.EEException:
    """An EEException chained to an HTTP error of ``status`` (as ee's _execute_cloud_call raises)."""
    messages = {429: "Too Many Requests", 500: "Internal error", 503: "Service Unavailable",
                400: "User memory limit exceeded."}
    try:
        raise _HttpError(status)
    except _HttpError:
        try:
            raise ee.EEException(messages.get(status, f"HTTP {status}"))
        except ee.EEException as exc:
            return exc


def _polygons(node: Any) -> list:
    shapes = []
    for call in invocations_in(node):
        args = call["arguments"]
        if call["function"] == "GeometryConstructors.Polygon":
            shapes.append(sg.Polygon(args["coordinates"][0], args["coordinates"][1:]))
        elif call["function"] == "GeometryConstructors.Rectangle":
            shapes.append(sg.box(*args["coordinates"]))
        elif call["function"] == "GeometryConstructors.MultiPolygon":
            shapes.extend(sg.Polygon(p[0], p[1:]) for p in args["coordinates"])
    return shapes


def invocations_in(node: Any) -> list[dict]:
    """Every call inside an already resolved (sub)graph."""
    return list(walk_calls(node))


class FakeEarthEngineClient(EarthEngineClient):
    """See the module docstring."""

    def __init__(self, patch_dir: str | Path | None = None, *, anchor: tuple[float, float] | None = None,
                 pixels: np.ndarray | Callable | None = None, fail_next: list[int] | None = None,
                 interrupt_after: int | None = None, exports_dir: str | Path | None = None,
                 running_polls: int = 0, fail_tasks: int = 0, existing_assets: set[str] | bool = True,
                 values: dict | None = None) -> None:
        self.sleeps: list[float] = []
        super().__init__(retry=RetryPolicy(max_attempts=4, initial_s=0.5), sleep=self.sleeps.append)
        self.patch = read_patch(patch_dir or demo_patch_dir())
        lon, lat = self.patch.lonlat()
        if anchor is not None:
            lon = lon - lon.mean() + anchor[0]
            lat = lat - lat.mean() + anchor[1]
        self.lon, self.lat = lon, lat
        self.pixels = pixels
        self.fail_next = list(fail_next or [])
        self.interrupt_after = interrupt_after
        self.exports_dir = Path(exports_dir) if exports_dir else None
        self.running_polls = running_polls
        self.fail_tasks = fail_tasks
        self.existing_assets = existing_assets
        self.values = values or {}
        self.graphs: list[tuple[str, Any]] = []
        self.tiles_answered = 0
        self.tasks: dict[str, dict] = {}
        self.asset_rows: dict[str, list[dict]] = {}

    # ------------------------------------------------------------ plumbing

    def _serve(self, what: str, fn: Callable, *args: Any) -> Any:
        def attempt(*a: Any) -> Any:
            if self.fail_next:
                raise injected_error(self.fail_next.pop(0))
            return fn(*a)

        return self._call(what, attempt, *args)

    # ------------------------------------------------------------- methods

    def get_info(self, obj: Any) -> Any:
        self.graphs.append(("get_info", obj))
        return self._serve("getInfo", lambda o: self.values.get("get_info"), obj)

    def compute_pixels(self, expression: Any, grid: dict, band_ids: list[str] | None = None) -> np.ndarray:
        self.graphs.append(("compute_pixels", expression))

        def answer(expr, grd, bands):
            if callable(self.pixels):
                return self.pixels(expr, grd, bands)
            if self.pixels is None:
                raise AssertionError("FakeEarthEngineClient was given no pixels to serve")
            return self.pixels

        return self._serve("computePixels", answer, expression, grid, band_ids)

    def compute_features(self, collection: Any, page_size: int = 1000) -> list[dict]:
        self.graphs.append(("compute_features", collection))
        features = self._serve("computeFeatures", self._features_of, collection)
        self.requests += max(0, -(-len(features) // page_size) - 1)  # further pages
        return features

    def start_export(self, task_config: dict) -> str:
        self.graphs.append(("start_export", task_config))
        task_id = f"FAKETASK{len(self.tasks):04d}"

        def start(config):
            rows = self._features_of(config["collection"])
            if config["destination"] == "asset":
                self.asset_rows[config["asset_id"]] = rows
            elif self.exports_dir is not None:
                self._write_csv(rows, config)
            return task_id

        self._serve("startExport", start, task_config)
        failing = self.fail_tasks > 0
        self.fail_tasks -= int(failing)
        self.tasks[task_id] = {"polls": 0, "fail": failing, "config": task_config}
        return task_id

    def task_status(self, task_id: str) -> dict:
        task = self.tasks.get(task_id)
        if task is None:
            return {"id": task_id, "state": "UNKNOWN"}
        task["polls"] += 1
        if task["fail"]:
            return {"id": task_id, "state": "FAILED", "error_message": "Computation timed out."}
        state = "RUNNING" if task["polls"] <= self.running_polls else "COMPLETED"
        return {"id": task_id, "state": state}

    def get_asset(self, asset_id: str) -> dict | None:
        self.graphs.append(("get_asset", asset_id))
        exists = self.existing_assets is True or (
            isinstance(self.existing_assets, set) and asset_id in self.existing_assets)
        return {"id": asset_id, "type": "TABLE"} if exists else None

    # --------------------------------------------------- answering graphs

    def _write_csv(self, rows: list[dict], config: dict) -> None:
        self.exports_dir.mkdir(parents=True, exist_ok=True)
        name = Path(config["file_prefix"]).name + ".csv"
        with open(self.exports_dir / name, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=config["selectors"])
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row["properties"][k] for k in config["selectors"]})

    def _features_of(self, collection: Any) -> list[dict]:
        tables = invocations(collection, "Collection.loadTable")
        if tables and tables[0]["arguments"]["tableId"] in self.asset_rows:
            return self.asset_rows[tables[0]["arguments"]["tableId"]]
        rows = self._sampling_rows(collection)
        self.tiles_answered += 1
        if self.interrupt_after is not None and self.tiles_answered > self.interrupt_after:
            raise FakeInterrupt(f"interrupted after {self.interrupt_after} tiles")
        return rows

    def request_parameters(self, collection: Any) -> dict:
        """What a sampling graph asks for, read from its serialized form."""
        sample = invocations(collection, "Image.stratifiedSample")[0]["arguments"]
        region = sg.MultiPolygon(_polygons(sample["region"])) if _polygons(sample["region"]) else None
        ranges = invocations(collection, "DateRange")
        focal = invocations(collection, "Image.focalMin")
        link = invocations(collection, "Image.linkCollection")[0]["arguments"]
        gte = [c for c in invocations(collection, "Image.gte")
               if isinstance(c["arguments"].get("image2"), dict)
               and c["arguments"]["image2"].get("function") == "Image.constant"]
        return {
            "region": region,
            "start": np.datetime64(ranges[0]["arguments"]["start"], "D"),
            "end": np.datetime64(ranges[0]["arguments"]["end"], "D"),
            "per_cell": int(sample["numPoints"]), "spacing_m": float(sample["scale"]),
            "seed": int(sample["seed"]),
            "buffer_m": float(focal[0]["arguments"]["radius"]) if focal else 0.0,
            "cloud_band": link["linkedBands"][0],
            "threshold": float(gte[0]["arguments"]["image2"]["arguments"]["value"]) if gte else 0.75,
        }

    def _sampling_rows(self, collection: Any) -> list[dict]:
        p = self.request_parameters(collection)
        patch, res = self.patch, self.patch.resolution
        labels = patch.classes.astype(np.int64)
        if p["buffer_m"] > 0:
            r = int(p["buffer_m"] // res)
            yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
            disk = (yy ** 2 + xx ** 2) * res ** 2 <= p["buffer_m"] ** 2
            same = (ndimage.minimum_filter(labels, footprint=disk, mode="nearest")
                    == ndimage.maximum_filter(labels, footprint=disk, mode="nearest"))
            labels = np.where(same, labels, NO_CLASS)
        in_window = (patch.dates >= p["start"]) & (patch.dates < p["end"])
        clear = np.isin(patch.cloud, SCL_CLEAR_CLASSES)
        has_clear = (clear & in_window[:, None, None]).any(axis=0)
        step = max(1, int(round(p["spacing_m"] / res)))
        rows_i, cols_i = np.mgrid[0:labels.shape[0], 0:labels.shape[1]]
        on_grid = (rows_i % step == step // 2) & (cols_i % step == step // 2)
        inside = np.zeros(labels.shape, bool)
        if p["region"] is not None:
            from shapely import contains_xy

            inside = contains_xy(p["region"], self.lon, self.lat)
        candidate = (labels != NO_CLASS) & has_clear & on_grid & inside
        r_idx, c_idx = np.nonzero(candidate)
        cells = (np.floor((self.lat[r_idx, c_idx] + 90) / 0.1) * 3600
                 + np.floor((self.lon[r_idx, c_idx] + 180) / 0.1)).astype(np.int64)
        rng = np.random.default_rng(p["seed"])
        order = rng.permutation(len(r_idx))
        chosen = []
        for cell in np.unique(cells):
            members = order[cells[order] == cell][: p["per_cell"]]
            chosen.extend(members.tolist())
        score = clear.astype(np.float64)
        features = []
        for k in sorted(chosen):
            r, c = r_idx[k], c_idx[k]
            for t in np.flatnonzero(in_window & (patch.dn[:, r, c, :].max(axis=1) > 0)):
                props = {"lon": float(self.lon[r, c]), "lat": float(self.lat[r, c]),
                         "class": int(labels[r, c]), "date": str(patch.dates[t]),
                         p["cloud_band"]: float(score[t, r, c])}
                props.update({b: int(patch.dn[t, r, c, i]) for i, b in enumerate(BANDS)})
                features.append({"type": "Feature", "geometry": None, "properties": props})
        return features
