"""The strict service double refuses what Earth Engine refuses (issue 22, "What to build" 1); each rule's
source is cited in gee_crop/testing/fake_ee.py's docstring. SYNTHETIC graphs: the rules are pure logic."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import ee
import pytest

from gee_crop.earthengine import sampling
from gee_crop.earthengine.client import REQUEST_PAYLOAD_LIMIT, request_body_bytes
from gee_crop.errors import EarthEngineError
from gee_crop.testing.fake_ee import (
    CONCURRENCY_MESSAGE,
    LIST_PAGE_SIZE,
    PAYLOAD_MESSAGE,
    TIMEOUT_MESSAGE,
    FakeEarthEngineClient,
)
from gee_crop.testing.offline_ee import initialize_offline


@pytest.fixture(autouse=True)
def _offline():
    initialize_offline()


def test_request_bodies_over_10485760_bytes_are_refused_on_every_method():
    big = ee.String("x" * (REQUEST_PAYLOAD_LIMIT - 40))  # the rest of the body takes it over the limit
    assert request_body_bytes({"expression": big}) > REQUEST_PAYLOAD_LIMIT
    fake = FakeEarthEngineClient(pixels=lambda *a: None)
    calls = {
        "getInfo": lambda: fake.get_info(big),
        "computePixels": lambda: fake.compute_pixels(ee.Image(1).set("x", big), {"dimensions": {"width": 1,
                                                                                               "height": 1}}),
        "computeFeatures": lambda: fake.compute_features(ee.FeatureCollection([]).set("x", big)),
        "startExport": lambda: fake.start_export(sampling.export_config(
            ee.FeatureCollection([]).set("x", big), "drive", "t", folder="f")),
    }
    for name, call in calls.items():
        with pytest.raises(EarthEngineError, match="Request payload size exceeds the limit: 10485760 bytes"):
            call()
    assert fake.refusals == [PAYLOAD_MESSAGE] * 4  # a 400: refused once each, not retried
    assert fake.get_info(ee.String("x" * (REQUEST_PAYLOAD_LIMIT - 200))) is None  # just under: served


def test_user_assets_that_do_not_exist_are_refused_unless_declared():
    fake = FakeEarthEngineClient()
    with pytest.raises(EarthEngineError, match=r"Collection.loadTable: Collection asset 'projects/p/assets/t' not"):
        fake.get_info(ee.FeatureCollection("projects/p/assets/t").size())
    with pytest.raises(EarthEngineError, match=r"Image.load: Image asset 'users/me/labels' not found"):
        fake.get_info(ee.Image("users/me/labels").bandNames())
    assert fake.get_asset("projects/p/assets/t") is None
    fake.get_info(ee.ImageCollection("COPERNICUS/S2_SR_HARMONIZED").size())  # the public catalog is there
    declared = FakeEarthEngineClient(existing_assets={"projects/p/assets/t"})
    declared.get_info(ee.FeatureCollection("projects/p/assets/t").size())
    assert declared.get_asset("projects/p/assets/t") is not None


def _table(fake: FakeEarthEngineClient) -> ee.FeatureCollection:
    """A table the test made (an empty one): exports of it run on the double."""
    fake.asset_rows["projects/p/assets/made"] = []
    return ee.FeatureCollection("projects/p/assets/made")


def test_an_export_over_an_existing_asset_needs_overwrite():
    fake = FakeEarthEngineClient(existing_assets={"projects/p/assets/f", "projects/p/assets/f/t"})
    rows = _table(fake)
    refused = fake.start_export(sampling.export_config(rows, "asset", "t", asset_id="projects/p/assets/f/t"))
    assert fake.task_status(refused) == {"id": refused, "description": "t", "state": "FAILED",
                                         "error_message": "Cannot overwrite asset 'projects/p/assets/f/t'."}
    allowed = fake.start_export(sampling.export_config(rows, "asset", "t", asset_id="projects/p/assets/f/t",
                                                       overwrite=True))
    assert fake.task_status(allowed)["state"] == "COMPLETED"


def test_interactive_work_over_the_budget_times_out_and_is_not_retried():
    season = ee.ImageCollection("COPERNICUS/S2_SR_HARMONIZED").filterDate("2019-05-01", "2019-12-01").median()
    fake = FakeEarthEngineClient(pixels=lambda *a: "served")
    square = lambda n: {"dimensions": {"width": n, "height": n}}  # noqa: E731
    assert fake.compute_pixels(season, square(1024)) == "served"  # 1.0e6 px x 43 images
    with pytest.raises(EarthEngineError, match="Computation timed out"):
        fake.compute_pixels(season, square(8192))  # 6.7e7 px x 43 images = 2.9e9 > 1e9
    assert fake.refusals == [TIMEOUT_MESSAGE] and fake.requests == 2


def test_40_requests_per_project_across_processes(tmp_path, monkeypatch):
    """Another process holds 40 slots of project p: this process's request is refused with 429 "Too many
    concurrent aggregations." (retried, then an error); once that process is gone it is served."""
    monkeypatch.setenv("GEE_CROP_FAKE_EE_SLOTS", str(tmp_path))
    holder = textwrap.dedent("""
        import contextlib, sys
        from gee_crop.testing.fake_ee import ProjectSlots
        slots = ProjectSlots("p")
        with contextlib.ExitStack() as stack:
            assert all(stack.enter_context(slots.hold()) for _ in range(40))
            print("held", flush=True)
            sys.stdin.read()
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "held"
        fake = FakeEarthEngineClient(project="p")
        with pytest.raises(EarthEngineError, match="Too many concurrent aggregations"):
            fake.get_info(ee.Number(1))
        assert fake.refusals == [CONCURRENCY_MESSAGE] * 4 and len(fake.sleeps) == 3  # 429: retried
        other = FakeEarthEngineClient(project="q")
        assert other.get_info(ee.Number(1)) is None  # the quota is per project
    finally:
        proc.communicate("")
    assert FakeEarthEngineClient(project="p").get_info(ee.Number(1)) is None


def test_list_operations_pages_and_get_operation_reads_one_task():
    fake = FakeEarthEngineClient(other_operations=1200)
    ids = [fake.start_export(sampling.export_config(_table(fake), "drive", f"t{i}", folder="f"))
           for i in range(3)]
    first = fake.list_operations()
    assert len(first["operations"]) == LIST_PAGE_SIZE and first["nextPageToken"] == "500"
    assert [op["id"] for op in first["operations"][:3]] == ids[::-1]  # newest first
    everything = fake.list_tasks()
    assert len(everything) == 1203 and fake.list_pages == 1 + 3  # a first-page reader misses 703
    assert list(fake.poll_tasks([ids[0]])) == [ids[0]] and fake.get_operation_calls == [ids[0]]
