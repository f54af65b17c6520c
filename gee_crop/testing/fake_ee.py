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

Batch tasks and assets behave as the service documents them (each behaviour cites its page in
``gee_crop.earthengine.client`` / ``pipeline.sample``): with ``existing_assets`` a set, an asset export
into a folder that was never created FAILS ("Asset '…' does not exist or doesn't allow this
operation."), an export over an existing asset without ``overwrite`` FAILS ("Cannot overwrite asset
'…'."), more than ``queue_limit`` unfinished tasks are refused at start ("Too many tasks already in
the queue (3000). …"); ``list_tasks`` (one listOperations) reports every task with its
``batch_eecu_usage_seconds`` and start/update times (synthetic: proportional to the rows exported).

**Strict by default**: the fake refuses what the service refuses, each rule with its source:

* a request body over ``REQUEST_PAYLOAD_LIMIT`` (10,485,760) bytes, measured as the client serializes it
  (``client.request_body_bytes``), on every request method: HTTP 400 "Request payload size exceeds the
  limit: 10485760 bytes." (https://github.com/gee-community/geemap/issues/1093, #1013);
* a graph reading a user asset (``projects/*/assets/…``, ``users/…``: ``Collection.loadTable``,
  ``Image.load``, ``ImageCollection.load``) that neither ``existing_assets`` declares nor a task of the
  test created: HTTP 400 "Collection.loadTable: Collection asset '…' not found."
  (https://github.com/JiaxuanYou/crop_yield_prediction/issues/10, "Image.load: …" alike);
  ``existing_assets=True`` is the old kind mode (every asset exists), for tests that opt out by name;
* an export over an existing asset without ``overwrite``: the task FAILS with "Cannot overwrite asset
  '…'." (https://developers.google.com/earth-engine/apidocs/export-table-toasset, ``overwrite``);
* an interactive request (getInfo, computePixels, computeFeatures) whose work, pixels x images
  touched (:func:`interactive_work`), is over ``interactive_budget`` (:data:`INTERACTIVE_BUDGET`):
  HTTP 400 "Computation timed out." as ``ee.EEException`` (interactive requests have 5 minutes,
  https://developers.google.com/earth-engine/guides/processing_environments; the message and status:
  https://github.com/Open-EO/openeo-earthengine-driver/issues/18);
* more than ``MAX_CONCURRENT_REQUESTS`` (40) requests of one project in flight ACROSS PROCESSES (slot
  files locked with ``flock`` under :func:`slots_dir`, shared by every process and Dask worker of the
  machine): HTTP 429 "Too many concurrent aggregations." (40 per project:
  https://developers.google.com/earth-engine/guides/usage; the message:
  https://github.com/gee-community/geemap/issues/1309);
* ``listOperations`` pages of ``LIST_PAGE_SIZE`` (500, ee.data's ``_TASKLIST_PAGE_SIZE``) with a
  ``nextPageToken``, newest first, over the job's tasks and ``other_operations`` of the project
  (https://developers.google.com/earth-engine/reference/rest/v1/projects.operations/list): a client
  reading the first page only misses tasks; ``getOperation`` (``poll_tasks``) reads one task.

EMIT (``NASA/EMIT/L2A/RFL``, ``sample --emit`` rows and EMIT map composites): served from the REAL EMIT cube
of ``../shared/data/emit`` laid over the patch (``emit=``, :mod:`gee_crop.testing.fake_emit`, which says what is
synthetic), the graph evaluated by :mod:`gee_crop.testing.ee_emit_eval`; a band the product lacks, a
computePixels request over 1,024 bands or 48 MiB are refused as the service refuses them.

Parcel reductions (``reduceRegions`` graphs of ``earthengine.parcels``, the parcel table of ``map --on-server
--parcels``), read with computeFeatures or exported as a table: evaluated by the offline grid evaluator
(``ee_grid_eval.reduced_features``, the centroid rule of unweighted reducers), with the server composite
served from the patch as for image exports; a weighted reducer is refused there.

Check-parity graphs: composite values at points (``Image.sampleRegions`` of the 5-day median
composite) are composited here from the patch's raw series at those points with the training code;
raw series at points are the patch's. ``same_day_duplicates=True`` adds, on every third clear date, a
second granule of the same day (another MGRS tile: DN x 1.3, score 0.9), as overlapping S2 tiles do;
the server composite merges same-day granules when the graph asks for it (``qualityMosaic``) unless
``server_keeps_duplicates`` (the behaviour of a graph without that step).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ee
import numpy as np
from scipy import ndimage
from shapely import geometry as sg

from gee_crop.classes import NO_CLASS
from gee_crop.config import SCL_CLEAR_CLASSES
from gee_crop.data.demo import demo_patch_dir
from gee_crop.data.patch import read_patch
from gee_crop.data.regions import reproject_geometry
from gee_crop.earthengine.client import (
    ASSET_ID,
    MAX_CONCURRENT_REQUESTS,
    REQUEST_PAYLOAD_LIMIT,
    EarthEngineClient,
    RetryPolicy,
    request_body_bytes,
)
from gee_crop.earthengine.composite import composite_band_names
from gee_crop.earthengine.graph import invocations, resolved, walk_calls
from gee_crop.errors import EarthEngineError
from gee_crop.features.composite import arrays_from_stack, composite_pixels
from gee_crop.sensors import SENTINEL2
from gee_crop.testing.ee_grid_eval import pixel_read, reduced_features
from gee_crop.testing.fake_emit import EmitScene, emit_pixels, emit_rows, loads_emit, pixel_refusal
from gee_crop.testing.fake_image_exports import (
    PatchComposite,
    StoredImage,
    composite_parameters,
    evaluate_export,
    image_export_failure,
    image_export_refusal,
)


class FakeInterrupt(RuntimeError):
    """Raised by the fake to simulate a run killed part-way."""


class _Resp:
    def __init__(self, status: int) -> None:
        self.status = status


class _HttpError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.resp = _Resp(status)


def injected_error(status: int, message: str | None = None) -> ee.EEException:
    """An EEException chained to an HTTP error of ``status`` (as ee's _execute_cloud_call raises)."""
    messages = {
        429: "Too Many Requests",
        500: "Internal error",
        503: "Service Unavailable",
        400: "User memory limit exceeded.",
    }
    try:
        raise _HttpError(status)
    except _HttpError:
        try:
            raise ee.EEException(message or messages.get(status, f"HTTP {status}"))
        except ee.EEException as exc:
            return exc


QUEUE_FULL = "Too many tasks already in the queue (3000). Please wait for some of them to complete."
DUPLICATE_GAIN, DUPLICATE_SCORE = 1.3, 0.9  # the second granule of a same-day pair
EECU_S_PER_ROW, EECU_S_PER_TASK = 0.02, 5.0  # synthetic task costs
TASK_CLOCK_MS = 1_700_000_000_000
PAYLOAD_MESSAGE = f"Request payload size exceeds the limit: {REQUEST_PAYLOAD_LIMIT} bytes."
CONCURRENCY_MESSAGE = "Too many concurrent aggregations."
TIMEOUT_MESSAGE = "Computation timed out."
LIST_PAGE_SIZE = 500
#: Sentinel-2 revisit (days) at the equator with both satellites: images touched per pixel = days / 5
#: (https://developers.google.com/earth-engine/datasets/catalog/COPERNICUS_S2_SR_HARMONIZED, "Revisit Interval").
S2_REVISIT_DAYS = 5
#: Interactive budget in pixel-images: the 300 s of an interactive request
#: (https://developers.google.com/earth-engine/guides/processing_environments) at an assumed 3.3e6
#: pixel-images per second. There is no documented pixel rate; this one is a stated assumption, chosen so
#: that a 1 x 1 degree sampling tile at 10 m over a 214-day season (1.2e8 px x 43 images = 5e9) times out
#: as issue 22 finding 10 says, and a 0.25 degree tile (3e8) or a 1024 x 1024 px map tile (4.5e7) does not.
INTERACTIVE_BUDGET = 1e9
SLOTS_ENV = "GEE_CROP_FAKE_EE_SLOTS"


def slots_dir(project: str | None) -> Path:
    """Where the concurrency slots of ``project`` live: one folder per project under $GEE_CROP_FAKE_EE_SLOTS
    (default: the system temp folder), shared by every process of the machine."""
    base = Path(os.environ.get(SLOTS_ENV) or Path(tempfile.gettempdir()) / "gee-crop-fake-ee-slots")
    return base / "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in (project or "default"))


class ProjectSlots:
    """At most ``n`` requests of a project in flight across processes: ``n`` slot files, each held by one
    request with an exclusive non-blocking ``flock`` (released by the kernel if the process dies)."""

    def __init__(self, project: str | None, n: int = MAX_CONCURRENT_REQUESTS) -> None:
        self.folder, self.n = slots_dir(project), n
        self.refused = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        """Yields True while a slot is held, False when all ``n`` are taken (the request is refused)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no flock (Windows): no cross-process bound
            yield True
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            fd = os.open(self.folder / f"slot{i:03d}", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        with self._lock:
            self.refused += 1
        yield False


def user_assets_read(node: Any) -> list[tuple[str, str]]:
    """(function, asset id) of every user asset (``projects/*/assets/…``, ``users/…``) a resolved graph
    (``graph.resolved``) loads."""
    found = []
    for call in invocations_in(node):
        args = call.get("arguments", {})
        for key in ("tableId", "id"):
            ref = args.get(key)
            if (
                call["function"] in ("Collection.loadTable", "Image.load", "ImageCollection.load")
                and isinstance(ref, str)
                and ASSET_ID.match(ref)
            ):
                found.append((call["function"], ref))
    return found


def not_found_message(function: str, asset_id: str) -> str:
    kind = {"Collection.loadTable": "Collection", "Image.load": "Image", "ImageCollection.load": "ImageCollection"}
    return f"{function}: {kind[function]} asset '{asset_id}' not found."


def interactive_work(method: str, node: Any, grid: dict | None = None) -> float:  # node: a resolved graph
    """Pixels x images an interactive request touches (the fake's estimate): the computePixels grid or the
    area of a ``stratifiedSample`` region at the sampling scale's 10 m labels, times the images of its
    widest date range (one per ``S2_REVISIT_DAYS``); 0 for graphs without either (points, tables)."""
    ranges = [
        c["arguments"]
        for c in invocations_in(node)
        if c["function"] == "DateRange" and isinstance(c["arguments"].get("start"), str)
    ]
    days = max(((np.datetime64(r["end"], "D") - np.datetime64(r["start"], "D")).astype(int) for r in ranges), default=0)
    images = max(1, math.ceil(int(days) / S2_REVISIT_DAYS))
    if method == "compute_pixels" and grid:
        dims = grid.get("dimensions") or {}
        return float(dims.get("width", 0) * dims.get("height", 0) * images)
    samples = [c for c in invocations_in(node) if c["function"] == "Image.stratifiedSample"]
    if not samples:
        return 0.0
    shapes = _polygons(samples[0]["arguments"].get("region"))
    if not shapes:
        return 0.0
    region = sg.MultiPolygon(shapes) if len(shapes) > 1 else shapes[0]
    lat = math.radians(region.centroid.y)
    area_m2 = region.area * (111_320.0**2) * math.cos(lat)
    return area_m2 / 10.0**2 * images


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

    def __init__(
        self,
        patch_dir: str | Path | None = None,
        *,
        anchor: tuple[float, float] | None = None,
        pixels: np.ndarray | Callable | None = None,
        fail_next: list[int] | None = None,
        interrupt_after: int | None = None,
        exports_dir: str | Path | None = None,
        running_polls: int = 0,
        fail_tasks: int = 0,
        existing_assets: set[str] | frozenset[str] | bool = frozenset(),
        values: dict | None = None,
        credentials: Any = None,
        queue_limit: int = 3000,
        same_day_duplicates: bool = False,
        server_keeps_duplicates: bool = False,
        project: str | None = None,
        interactive_budget: float = INTERACTIVE_BUDGET,
        other_operations: int = 0,
        emit: EmitScene | None = None,
        years_later: int = 0,
    ) -> None:
        """``existing_assets``: the user assets that exist before the test (a set; strict), or True (every
        asset exists: the old kind mode). ``other_operations``: finished operations of other jobs of the
        project, listed by ``listOperations`` before the job's own (newest first). ``years_later``: serve the
        patch's acquisitions that many years later, same month and day (SYNTHETIC dates, as ``anchor`` is a
        synthetic place): for tests that need Sentinel-2 beside a collection that starts after 2019 (EMIT)."""
        self.sleeps: list[float] = []
        super().__init__(
            retry=RetryPolicy(max_attempts=4, initial_s=0.5),
            sleep=self.sleeps.append,
            credentials=credentials,
            project=project,
        )
        self.patch = read_patch(patch_dir or demo_patch_dir())
        if years_later:
            later = [d.replace(year=d.year + years_later) for d in self.patch.dates.astype(object)]
            self.patch = dataclasses.replace(self.patch, dates=np.array(later, dtype="datetime64[D]"))
        lon, lat = self.patch.lonlat()
        if anchor is not None:
            lon = lon - lon.mean() + anchor[0]
            lat = lat - lat.mean() + anchor[1]
        self._lon0, self._lat0 = self.patch.lonlat()  # the patch's own place (before any anchor)
        self.lon, self.lat = lon, lat
        self.pixels = pixels
        self.fail_next = list(fail_next or [])
        self.interrupt_after = interrupt_after
        self.exports_dir = Path(exports_dir) if exports_dir else None
        self.running_polls = running_polls
        self.fail_tasks = fail_tasks
        self.existing_assets: set[str] | bool = True if existing_assets is True else set(existing_assets or ())
        self.interactive_budget = float(interactive_budget)
        self.other_operations = int(other_operations)
        self.slots = ProjectSlots(project)
        self.refusals: list[str] = []  # the message of every request the fake refused as the service would
        self.list_pages = 0  # listOperations pages served
        self.get_operation_calls: list[str] = []  # task ids read one by one (getOperation)
        self.values = values or {}
        self.graphs: list[tuple[str, Any]] = []
        self.tiles_answered = 0
        self.tasks: dict[str, dict] = {}
        self.asset_rows: dict[str, list[dict]] = {}
        self.image_assets: dict[str, StoredImage] = {}  # finished image exports (fake_image_exports)
        self.image_collections: set[str] = set()  # made by create_image_collection
        self.patch_composite = PatchComposite(self.patch)
        self.folders: set[str] = set()
        self.queue_limit = queue_limit
        self.list_calls = 0
        self.max_unfinished = 0
        self.same_day_duplicates = same_day_duplicates
        self.server_keeps_duplicates = server_keeps_duplicates
        self.emit = emit

    @property
    def shift(self) -> tuple[float, float]:
        """(lon, lat) the ``anchor`` moved the scene by."""
        return float(self.lon.mean() - self._lon0.mean()), float(self.lat.mean() - self._lat0.mean())

    # ------------------------------------------------------------ plumbing

    def _serve(
        self,
        what: str,
        fn: Callable,
        *args: Any,
        body: dict | None = None,
        graph: Any = None,
        interactive: float | None = None,
    ) -> Any:
        """Run ``fn`` through the client's retry loop as the service would answer it: the injected
        failures first, then the strict rules (module docstring) on ``body`` (the request body, its
        ``expression`` an ee object; ``graph``: that expression resolved) and ``interactive`` (its work in
        pixel-images, for interactive calls)."""

        def attempt(*a: Any) -> Any:
            if self.fail_next:
                raise injected_error(self.fail_next.pop(0))
            with self.slots.hold() as held:
                if not held:
                    raise self._refuse(429, CONCURRENCY_MESSAGE)
                if body is not None:
                    self._check_body(body, graph)
                if interactive is not None and interactive > self.interactive_budget:
                    raise self._refuse(400, TIMEOUT_MESSAGE)
                return fn(*a)

        return self._call(what, attempt, *args)

    def _refuse(self, status: int, message: str) -> ee.EEException:
        self.refusals.append(message)
        return injected_error(status, message)

    def _check_body(self, body: dict, graph: Any) -> None:
        if request_body_bytes(body) > REQUEST_PAYLOAD_LIMIT:
            raise self._refuse(400, PAYLOAD_MESSAGE)
        if graph is None or self.existing_assets is True:
            return
        for function, asset_id in user_assets_read(graph):
            if not self.asset_exists(asset_id):
                raise self._refuse(400, not_found_message(function, asset_id))

    def asset_exists(self, asset_id: str) -> bool:
        """True when ``asset_id`` was declared by the test, made by a task of it, or is one of its folders."""
        if self.existing_assets is True:
            return True
        assert isinstance(self.existing_assets, set)
        return (
            asset_id in self.existing_assets
            or asset_id in self.asset_rows
            or asset_id in self.image_assets
            or asset_id in self.image_collections
            or asset_id in self.folders
        )

    # ------------------------------------------------------------- methods

    def get_info(self, obj: Any) -> Any:
        self.graphs.append(("get_info", obj))
        graph = resolved(obj)
        return self._serve(
            "getInfo",
            lambda o: self.values.get("get_info"),
            obj,
            body={"expression": obj},
            graph=graph,
            interactive=interactive_work("get_info", graph),
        )

    def compute_pixels(self, expression: Any, grid: dict, band_ids: list[str] | None = None) -> np.ndarray:
        self.graphs.append(("compute_pixels", expression))

        def answer(expr, grd, bands):
            load = resolved(expr)
            if load.get("function") == "Image.load" and load["arguments"]["id"] in self.image_assets:
                return self.image_assets[load["arguments"]["id"]].window(grd, bands)
            if loads_emit(load):
                refusal = pixel_refusal(grd, len(bands)) if bands is not None else None
                if refusal:  # refused before any work, as the service does
                    raise self._refuse(400, refusal)
                answer = emit_pixels(self.emit, load, grd, bands, self.shift)
                refusal = pixel_refusal(grd, len(answer.dtype.names or ()))
                if refusal:
                    raise self._refuse(400, refusal)
                return answer
            if callable(self.pixels):
                return self.pixels(expr, grd, bands)
            if self.pixels is None:
                raise AssertionError("FakeEarthEngineClient was given no pixels to serve")
            return self.pixels

        body: dict[str, Any] = {"expression": expression, "fileFormat": "NUMPY_NDARRAY", "grid": grid}
        if band_ids is not None:
            body["bandIds"] = list(band_ids)
        graph = resolved(expression)
        work = interactive_work("compute_pixels", graph, grid)
        return self._serve(
            "computePixels", answer, expression, grid, band_ids, body=body, graph=graph, interactive=work
        )

    def compute_features(self, collection: Any, page_size: int = 1000) -> list[dict]:
        self.graphs.append(("compute_features", collection))
        graph = resolved(collection)
        features = self._serve(
            "computeFeatures",
            self._features_of,
            collection,
            body={"expression": collection, "pageSize": int(page_size)},
            graph=graph,
            interactive=interactive_work("compute_features", graph),
        )
        self.requests += max(0, -(-len(features) // page_size) - 1)  # further pages
        return features

    def start_export(self, task_config: dict) -> str:
        self.graphs.append(("start_export", task_config))
        task_id = f"FAKETASK{len(self.tasks):04d}"

        image = task_config.get("kind") == "image"
        expression = task_config["image" if image else "collection"]

        def start(config):
            if self._unfinished() >= self.queue_limit:
                raise injected_error(429, QUEUE_FULL)
            refusal = image_export_refusal(config) if image else None
            if refusal:
                raise self._refuse(400, refusal)
            return task_id

        body = {
            "expression": expression,
            "description": task_config.get("description", ""),
            "destination": str(task_config.get("asset_id") or task_config.get("file_prefix") or ""),
        }
        if image:
            body["maxPixels"] = str(task_config.get("max_pixels", ""))
        self._serve("startExport", start, task_config, body=body, graph=resolved(expression))
        failing = self.fail_tasks > 0
        self.fail_tasks -= int(failing)
        error = "Computation timed out." if failing else self._asset_error(task_config)
        if image and not error:
            error = image_export_failure(task_config)
        self.tasks[task_id] = {
            "polls": 0,
            "error": error,
            "config": task_config,
            "done": False,
            "index": len(self.tasks),
        }
        self.max_unfinished = max(self.max_unfinished, self._unfinished())
        return task_id

    def _unfinished(self) -> int:
        return sum(not t["done"] for t in self.tasks.values())

    def _asset_error(self, config: dict) -> str | None:
        """The failure of an asset export the service would report (strict mode only)."""
        if config["destination"] != "asset" or not isinstance(self.existing_assets, set):
            return None
        asset_id = config["asset_id"]
        parent = asset_id.rsplit("/", 1)[0]
        if (
            not parent.endswith("/assets")
            and parent not in self.folders | self.image_collections | self.existing_assets
        ):
            return f"Asset '{parent}' does not exist or doesn't allow this operation."
        exists = asset_id in self.asset_rows or asset_id in self.image_assets or asset_id in self.existing_assets
        if exists and not config.get("overwrite"):
            return f"Cannot overwrite asset '{asset_id}'."
        return None

    def _run_task(self, task_id: str) -> dict:
        """Advance a task by one poll and return its status (the legacy task dict of listOperations)."""
        task = self.tasks[task_id]
        task["polls"] += 1
        config = task["config"]
        status = {"id": task_id, "description": config["description"]}
        if task["error"]:
            task["done"] = True
            return {**status, "state": "FAILED", "error_message": task["error"]}
        if task["polls"] <= self.running_polls:
            return {**status, "state": "RUNNING"}
        if not task["done"] and config.get("kind") == "image":
            stored = evaluate_export(config, self.patch_composite)
            if config["destination"] == "asset":
                self.image_assets[config["asset_id"]] = stored
            task.update(done=True, rows=stored.grid.width * stored.grid.height // 1000)  # EECU: per 1,000 px
        if not task["done"]:
            rows = self._features_of(config["collection"])
            if config["destination"] == "asset":
                self.asset_rows[config["asset_id"]] = rows
            elif self.exports_dir is not None:
                self._write_csv(rows, config)
            task.update(done=True, rows=len(rows))
        start = TASK_CLOCK_MS + 60_000 * task["index"]
        return {
            **status,
            "state": "COMPLETED",
            "batch_eecu_usage_seconds": EECU_S_PER_TASK + EECU_S_PER_ROW * task["rows"],
            "start_timestamp_ms": start,
            "update_timestamp_ms": start + 10_000 + 20 * task["rows"],
        }

    def task_status(self, task_id: str) -> dict:
        if task_id not in self.tasks:
            return {"id": task_id, "state": "UNKNOWN"}
        return self._run_task(task_id)

    def _operation_ids(self) -> list[str]:
        """Every operation of the project, newest first: the job's tasks, then the other jobs' ones."""
        return [*reversed(list(self.tasks)), *(f"OTHERTASK{i:06d}" for i in range(self.other_operations))]

    def list_operations(self, page_token: str | None = None, page_size: int = LIST_PAGE_SIZE) -> dict:
        """One ``listOperations`` page: ``{"operations": [task dicts], "nextPageToken"?}``."""
        self.graphs.append(("list_operations", page_token))

        def page(token: str | None) -> dict:
            ids = self._operation_ids()
            start = int(token or 0)
            chosen = ids[start : start + page_size]
            answer: dict[str, Any] = {"operations": [self._status_of(i) for i in chosen]}
            if start + page_size < len(ids):
                answer["nextPageToken"] = str(start + page_size)
            return answer

        self.list_pages += 1
        return self._serve("listOperations", page, page_token)

    def _status_of(self, task_id: str) -> dict:
        if task_id in self.tasks:
            return self._run_task(task_id)
        return {"id": task_id, "description": "another job", "state": "COMPLETED"}

    def list_tasks(self) -> dict[str, dict]:
        """Every operation of the project, paging through ``listOperations`` as ee.data.listOperations does."""
        self.list_calls += 1
        self.graphs.append(("list_tasks", None))
        statuses: dict[str, dict] = {}
        token: str | None = None
        while True:
            answer = self.list_operations(token)
            statuses.update({t["id"]: t for t in answer["operations"]})
            token = answer.get("nextPageToken")
            if not token:
                return statuses

    def poll_tasks(self, task_ids: list[str]) -> dict[str, dict]:
        """One ``getOperation`` per task id."""
        statuses = {}
        for task_id in task_ids:
            self.graphs.append(("get_operation", task_id))
            self.get_operation_calls.append(task_id)
            statuses[task_id] = self._serve("getOperation", self.task_status, task_id)
        return statuses

    def get_asset(self, asset_id: str) -> dict | None:
        self.graphs.append(("get_asset", asset_id))
        if asset_id in self.asset_rows:
            size = len(json.dumps(self.asset_rows[asset_id]).encode())
            return {
                "id": asset_id,
                "type": "TABLE",
                "sizeBytes": str(size),
                "featureCount": str(len(self.asset_rows[asset_id])),
            }
        if asset_id in self.image_assets:
            stored = self.image_assets[asset_id]
            size = sum(b.nbytes for b in stored.bands.values())
            return {"id": asset_id, "type": "IMAGE", "sizeBytes": str(size), "bands": list(stored.bands)}
        if asset_id in self.image_collections:
            return {"id": asset_id, "type": "IMAGE_COLLECTION"}
        if asset_id in self.folders:
            return {"id": asset_id, "type": "FOLDER"}
        return {"id": asset_id, "type": "TABLE"} if self.asset_exists(asset_id) else None

    def _check_parent(self, asset_id: str) -> None:
        """A new asset's folder must exist (https://developers.google.com/earth-engine/guides/asset_manager)."""
        parent = asset_id.rsplit("/", 1)[0]
        known = self.folders | (self.existing_assets if isinstance(self.existing_assets, set) else set())
        if self.existing_assets is not True and not parent.endswith("/assets") and parent not in known:
            raise EarthEngineError(f"Asset '{parent}' does not exist or doesn't allow this operation.")

    def create_image_collection(self, asset_id: str) -> None:
        self.graphs.append(("create_image_collection", asset_id))
        self._check_parent(asset_id)
        self.image_collections.add(asset_id)

    def create_folder(self, folder_id: str) -> None:
        self.graphs.append(("create_folder", folder_id))
        self._check_parent(folder_id)
        self.folders.add(folder_id)

    def delete_asset(self, asset_id: str) -> None:
        self.graphs.append(("delete_asset", asset_id))
        self.asset_rows.pop(asset_id, None)
        self.image_assets.pop(asset_id, None)

    # --------------------------------------------------- answering graphs

    def _write_csv(self, rows: list[dict], config: dict) -> None:
        exports_dir = self.exports_dir
        assert exports_dir is not None, "CSV exports are written only when the fake has an exports_dir"
        exports_dir.mkdir(parents=True, exist_ok=True)
        name = Path(config["file_prefix"]).name + ".csv"
        with open(exports_dir / name, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=config["selectors"])
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row["properties"][k] for k in config["selectors"]})

    def _features_of(self, collection: Any) -> list[dict]:
        if invocations(collection, "Image.reduceRegions"):
            return self._reduced_parcels(collection)
        tables = invocations(collection, "Collection.loadTable")
        if tables and tables[0]["arguments"]["tableId"] in self.asset_rows:
            return self.asset_rows[tables[0]["arguments"]["tableId"]]
        if loads_emit(resolved(collection)):
            return self._emit_rows(collection)
        if not invocations(collection, "Image.stratifiedSample"):
            if invocations(collection, "reduce.median"):
                return self._composite_at_points(collection)
            return self._raw_rows_at_points(collection)
        rows = self._sampling_rows(collection)
        self.tiles_answered += 1
        if self.interrupt_after is not None and self.tiles_answered > self.interrupt_after:
            raise FakeInterrupt(f"interrupted after {self.interrupt_after} tiles")
        return rows

    def _emit_rows(self, collection: Any) -> list[dict]:
        """The rows of an EMIT sampling graph (``sample --emit``): EMIT medians (:mod:`gee_crop.testing.fake_emit`)
        at the points the graph's Sentinel-2 part samples (the rows of :meth:`_sampling_rows`, one per point)."""
        points: dict[tuple[float, float], dict] = {}
        for feature in self._sampling_rows(collection):
            props = feature["properties"]
            points.setdefault((props["lon"], props["lat"]), {k: props[k] for k in ("lon", "lat", "class")})
        rows = emit_rows(
            self.emit, resolved(collection), [(p, p["lon"], p["lat"]) for p in points.values()], self.shift
        )
        self.tiles_answered += 1
        if self.interrupt_after is not None and self.tiles_answered > self.interrupt_after:
            raise FakeInterrupt(f"interrupted after {self.interrupt_after} tiles")
        return rows

    def _reduced_parcels(self, collection: Any) -> list[dict]:
        """The features of a ``reduceRegions`` graph (the parcel table of ``map --on-server --parcels``),
        computed by the offline evaluator (``ee_grid_eval.reduced_features``: the centroid rule of
        unweighted reducers) with the server composite served from the patch, as an image export's is;
        GeoJSON in EPSG:4326 as computeFeatures answers ("a GeoJSON FeatureCollection",
        https://developers.google.com/earth-engine/reference/rest/v1/projects.table/computeFeatures)."""
        features = reduced_features(collection, {}, served=self.patch_composite.served)
        return [
            {
                "type": "Feature",
                "id": str(i),
                "geometry": sg.mapping(reproject_geometry(f.geometry, f.crs, "EPSG:4326")),
                "properties": f.properties,
            }
            for i, f in enumerate(features)
        ]

    def request_parameters(self, collection: Any) -> dict:
        """What a sampling graph asks for, read from its serialized form."""
        sample = invocations(collection, "Image.stratifiedSample")[0]["arguments"]
        region = sg.MultiPolygon(_polygons(sample["region"])) if _polygons(sample["region"]) else None
        ranges = invocations(collection, "DateRange")
        focal = invocations(collection, "Image.focalMin")
        link = invocations(collection, "Image.linkCollection")[0]["arguments"]
        gte = [
            c
            for c in invocations(collection, "Image.gte")
            if isinstance(c["arguments"].get("image2"), dict)
            and c["arguments"]["image2"].get("function") == "Image.constant"
        ]
        return {
            "region": region,
            "start": np.datetime64(ranges[0]["arguments"]["start"], "D"),
            "end": np.datetime64(ranges[0]["arguments"]["end"], "D"),
            "per_cell": int(sample["numPoints"]),
            "spacing_m": float(sample["scale"]),
            "seed": int(sample["seed"]),
            "buffer_m": float(focal[0]["arguments"]["radius"]) if focal else 0.0,
            "cloud_band": link["linkedBands"][0],
            "threshold": float(gte[0]["arguments"]["image2"]["arguments"]["value"]) if gte else 0.75,
        }

    def _sampling_rows(self, collection: Any) -> list[dict]:
        p = self.request_parameters(collection)
        patch, res = self.patch, self.patch.resolution
        assert patch.classes is not None, "the fake's patch is read with its labels"
        labels = patch.classes.astype(np.int64)
        if p["buffer_m"] > 0:
            r = int(p["buffer_m"] // res)
            yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
            disk = (yy**2 + xx**2) * res**2 <= p["buffer_m"] ** 2
            same = ndimage.minimum_filter(labels, footprint=disk, mode="nearest") == ndimage.maximum_filter(
                labels, footprint=disk, mode="nearest"
            )
            labels = np.where(same, labels, NO_CLASS)
        in_window = (patch.dates >= p["start"]) & (patch.dates < p["end"])
        clear = np.isin(patch.cloud, SCL_CLEAR_CLASSES)
        has_clear = (clear & in_window[:, None, None]).any(axis=0)
        step = max(1, round(p["spacing_m"] / res))
        rows_i, cols_i = np.mgrid[0 : labels.shape[0], 0 : labels.shape[1]]
        on_grid = (rows_i % step == step // 2) & (cols_i % step == step // 2)
        inside = np.zeros(labels.shape, bool)
        if p["region"] is not None:
            from shapely import contains_xy

            inside = contains_xy(p["region"], self.lon, self.lat)
        candidate = (labels != NO_CLASS) & has_clear & on_grid & inside
        r_idx, c_idx = np.nonzero(candidate)
        cells = (
            np.floor((self.lat[r_idx, c_idx] + 90) / 0.1) * 3600 + np.floor((self.lon[r_idx, c_idx] + 180) / 0.1)
        ).astype(np.int64)
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
                props = {
                    "lon": float(self.lon[r, c]),
                    "lat": float(self.lat[r, c]),
                    "class": int(labels[r, c]),
                    "date": str(patch.dates[t]),
                    p["cloud_band"]: float(score[t, r, c]),
                }
                props.update({b: int(patch.dn[t, r, c, i]) for i, b in enumerate(SENTINEL2.bands)})
                features.append({"type": "Feature", "geometry": None, "properties": props})
        return features

    # ------------------------------------------------------ check-parity graphs

    def _points(self, collection: Any, default_crs: str | None = None) -> list[tuple[dict, int, int]]:
        """(properties, row, col) of each Point feature of the request's ``sampleRegions`` that lies on
        the patch: the patch pixel under the centre of the sampling grid's pixel holding the point
        (``gee_crop.testing.ee_grid_eval.pixel_read``). The grid is the call's ``projection`` at its
        ``scale``, else the image's default: ``default_crs`` (a composite's EPSG:4326), or the granule's
        own (the patch's). With an ``anchor`` the scene moves as a whole: the point is moved back."""
        found = []
        shift = (float(self.lon.mean() - self._lon0.mean()), float(self.lat.mean() - self._lat0.mean()))
        for sample in invocations(collection, "Image.sampleRegions"):
            args = sample["arguments"]
            projection = args.get("projection")
            crs = projection["arguments"]["crs"] if projection else default_crs or self.patch.crs
            for call in invocations_in(args["collection"]):
                geometry = call["arguments"].get("geometry") if call["function"] == "Feature" else None
                if not isinstance(geometry, dict) or geometry.get("function") != "GeometryConstructors.Point":
                    continue
                lon, lat = geometry["arguments"]["coordinates"]
                # a UTM projection of the request is the patch's own zone, moved with the scene
                own = self.patch.crs if crs.startswith(("EPSG:326", "EPSG:327")) else crs
                cell = pixel_read(lon - shift[0], lat - shift[1], own, float(args.get("scale", 10)), self.patch)
                if cell is not None:
                    found.append((call["arguments"].get("metadata", {}), *cell))
        return found

    def _granules(self, r: int, c: int, start: np.datetime64, end: np.datetime64, cloud_band: str) -> list[dict]:
        """The raw acquisitions of pixel (r, c) in [start, end): one per date, plus a same-day second
        granule on every third clear date when ``same_day_duplicates``."""
        patch = self.patch
        clear = np.isin(patch.cloud[:, r, c], SCL_CLEAR_CLASSES)
        rows = []
        for t in np.flatnonzero((patch.dates >= start) & (patch.dates < end) & (patch.dn[:, r, c, :].max(axis=1) > 0)):
            dn = patch.dn[t, r, c, :].astype(np.float64)
            rows.append({"date": str(patch.dates[t]), "dn": dn, cloud_band: float(clear[t])})
            if self.same_day_duplicates and clear[t] and t % 3 == 0:
                rows.append(
                    {
                        "date": str(patch.dates[t]),
                        "dn": np.clip(np.round(dn * DUPLICATE_GAIN), 1, 65535),
                        cloud_band: DUPLICATE_SCORE,
                    }
                )
        return rows

    def _raw_rows_at_points(self, collection: Any) -> list[dict]:
        link = invocations(collection, "Image.linkCollection")[0]["arguments"]
        cloud_band = link["linkedBands"][0]
        window = invocations(collection, "DateRange")[0]["arguments"]
        start, end = np.datetime64(window["start"], "D"), np.datetime64(window["end"], "D")
        features = []
        for props, r, c in self._points(collection):
            for granule in self._granules(r, c, start, end, cloud_band):
                row = {k: props[k] for k in ("lon", "lat", "class") if k in props}
                row.update(date=granule["date"], **{cloud_band: granule[cloud_band]})
                row.update({b: int(v) for b, v in zip(SENTINEL2.bands, granule["dn"])})
                features.append({"type": "Feature", "geometry": None, "properties": row})
        return features

    def _composite_at_points(self, collection: Any) -> list[dict]:
        """The server's gap-filled 5-day median composite at each point, composited here from the raw
        granules (same-day ones merged by highest score when the graph asks for ``qualityMosaic``)."""
        link = invocations(collection, "Image.linkCollection")[0]["arguments"]
        cloud_band = link["linkedBands"][0]
        p = composite_parameters(collection)
        window_days, n_bins, threshold, max_gap = p["window_days"], p["n_bins"], p["threshold"], p["max_gap"]
        start = np.datetime64(p["start_day"], "D")
        end = np.datetime64(p["end_day"], "D")
        merge = bool(invocations(collection, "ImageCollection.qualityMosaic")) and not self.server_keeps_duplicates
        names = composite_band_names(n_bins)
        features = []
        # a composite of many granules has "a default WGS84 projection with a 1-degree scale"
        # (https://developers.google.com/earth-engine/guides/projections)
        for props, r, c in self._points(collection, "EPSG:4326"):
            granules = self._granules(r, c, start, end, cloud_band)
            if merge:  # per day, the granule with the highest score
                best: dict[str, dict] = {}
                for g in granules:
                    if g["date"] not in best or g[cloud_band] > best[g["date"]][cloud_band]:
                        best[g["date"]] = g
                granules = list(best.values())
            if not granules:
                continue
            dn = np.array([g["dn"] for g in granules], dtype=np.uint16)[None]
            score = np.array([g[cloud_band] for g in granules], dtype=np.float32)[None]
            dates = np.array([g["date"] for g in granules], dtype="datetime64[D]")
            arrays = arrays_from_stack(dn, score, dates, cloud_band, threshold)
            composite = composite_pixels(arrays, int(start.astype(np.int64)), window_days, n_bins, max_gap_bins=max_gap)
            if not composite.keep[0]:
                continue  # masked on the server: sampleRegions drops the point
            values = np.clip(np.round(composite.values[0] * 1e4), 0, 65535).reshape(-1)
            row = {"point_id": props.get("point_id")}
            row.update({n: int(v) for n, v in zip(names, values)})
            features.append({"type": "Feature", "geometry": None, "properties": row})
        return features
