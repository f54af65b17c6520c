"""FakeEarthEngineClient: it answers sampling graphs from the shipped patch (what the graph asks for, read
back from it), runs the real client's retry loop, and refuses what the service refuses."""
from __future__ import annotations

import datetime as dt
import re

import ee
import numpy as np
import pytest

from gee_crop.config import BANDS, SCL_CLEAR_CLASSES
from gee_crop.earthengine import sampling
from gee_crop.errors import EarthEngineError
from gee_crop.testing.fake_ee import EECU_S_PER_ROW, EECU_S_PER_TASK, QUEUE_FULL, FakeEarthEngineClient, FakeInterrupt
from gee_crop.types import SamplingRules

pytestmark = pytest.mark.usefixtures("offline_ee")

START, END = dt.date(2019, 5, 1), dt.date(2019, 8, 1)
#: deliberately not the defaults, so that reading them back proves they were read
ASKED = dict(cloud_band="cs_cdf", threshold=0.6, buffer_m=20.0, spacing_m=50.0, per_cell=3, seed=7)


@pytest.fixture(scope="module")
def fake() -> FakeEarthEngineClient:
    """The double on the patch where it lies (Flanders), no failures injected."""
    return FakeEarthEngineClient()


def patch_box(client: FakeEarthEngineClient) -> ee.Geometry:
    """A rectangle holding the whole patch (its pixel centres, plus a margin of ~10 m)."""
    return ee.Geometry.Rectangle([float(client.lon.min()) - 1e-4, float(client.lat.min()) - 1e-4,
                                  float(client.lon.max()) + 1e-4, float(client.lat.max()) + 1e-4])


def sampling_rows(client: FakeEarthEngineClient, **asked) -> ee.FeatureCollection:
    options = {**ASKED, **asked}
    rules = SamplingRules(**{k: options.pop(k) for k in SamplingRules.names() if k in options})
    return sampling.sampling_graph(ee.Image(0), patch_box(client), START, END, rules, **options)


def test_what_a_sampling_graph_asks_for_is_read_back_from_it(fake):
    asked = fake.request_parameters(sampling_rows(fake))
    assert {k: asked[k] for k in ASKED} == ASKED
    assert (asked["start"], asked["end"]) == (np.datetime64("2019-05-01"), np.datetime64("2019-08-01"))
    west, south, east, north = asked["region"].bounds
    assert west < fake.lon.min() < fake.lon.max() < east and south < fake.lat.min() < fake.lat.max() < north


def test_sampling_rows_are_the_patch_pixels_the_graph_asks_for(fake, patch):
    rows = [f["properties"] for f in fake.compute_features(sampling_rows(fake))]
    points = sorted({(r["lon"], r["lat"]) for r in rows})
    assert len(points) == ASKED["per_cell"]  # the patch (640 m) lies in one 0.1 degree cell
    labels = patch.classes.astype(np.int64)
    lon, lat = patch.lonlat()
    in_window = (patch.dates >= np.datetime64(START)) & (patch.dates < np.datetime64(END))
    for point in points:
        r, c = np.unravel_index(np.argmin(np.hypot(lon - point[0], lat - point[1])), lon.shape)
        assert (lon[r, c], lat[r, c]) == point  # a pixel centre of the patch
        assert r % 5 == 2 and c % 5 == 2  # on the 50 m spacing grid (5 px), centred in each step
        # 20 m inward buffer: every pixel within 2 px carries the point's class
        near = labels[max(r - 2, 0):r + 3, max(c - 2, 0):c + 3]
        yy, xx = np.mgrid[max(r - 2, 0) - r:min(r + 3, 64) - r, max(c - 2, 0) - c:min(c + 3, 64) - c]
        assert (near[yy ** 2 + xx ** 2 <= 4] == labels[r, c]).all()
        mine = [row for row in rows if (row["lon"], row["lat"]) == point]
        has_data = in_window & (patch.dn[:, r, c, :].max(axis=1) > 0)
        assert [row["date"] for row in mine] == [str(d) for d in patch.dates[has_data]]
        for row, t in zip(mine, np.flatnonzero(has_data)):
            assert row["class"] == labels[r, c] != 255
            assert [row[b] for b in BANDS] == patch.dn[t, r, c, :].tolist()
            assert row["cs_cdf"] == (1.0 if patch.cloud[t, r, c] in SCL_CLEAR_CLASSES else 0.0)


def test_the_seed_picks_the_points(fake):
    def points(seed: int) -> set:
        return {(f["properties"]["lon"], f["properties"]["lat"])
                for f in fake.compute_features(sampling_rows(fake, seed=seed))}

    assert points(7) == points(7) and points(7) != points(8)


def test_transient_failures_are_retried_by_the_real_loop():
    flaky = FakeEarthEngineClient(fail_next=[429, 500], values={"get_info": 42})
    assert flaky.get_info(ee.Number(1)) == 42
    assert flaky.sleeps == [0.5, 1.0] and flaky.requests == 3
    down = FakeEarthEngineClient(fail_next=[503] * 4)
    with pytest.raises(EarthEngineError, match=r"kept failing getInfo after retries \(Service Unavailable\)"):
        down.get_info(ee.Number(1))
    assert down.sleeps == [0.5, 1.0, 2.0] and down.requests == 4


def test_a_deterministic_failure_is_not_retried():
    fake = FakeEarthEngineClient(fail_next=[400])  # "User memory limit exceeded."
    with pytest.raises(EarthEngineError, match="ran out of memory"):
        fake.get_info(ee.Number(1))
    assert fake.sleeps == [] and fake.requests == 1


def test_a_run_is_interrupted_after_the_given_number_of_tiles():
    fake = FakeEarthEngineClient(interrupt_after=1)
    graph = sampling_rows(fake)
    assert len(fake.compute_features(graph)) > 0
    with pytest.raises(FakeInterrupt, match="interrupted after 1 tiles"):
        fake.compute_features(graph)


def test_compute_pixels_serves_only_what_it_was_given():
    with pytest.raises(AssertionError, match="no pixels to serve"):
        FakeEarthEngineClient().compute_pixels(ee.Image(1), {})
    asked = []
    fake = FakeEarthEngineClient(pixels=lambda expression, grid, bands: asked.append(bands) or np.zeros(2))
    fake.compute_pixels(ee.Image(1), {"dimensions": {}}, ["B2_t00"])
    assert asked == [["B2_t00"]] and [m for m, _ in fake.graphs] == ["compute_pixels"]


def test_an_export_into_a_folder_never_made_fails_and_folders_need_their_parent():
    fake = FakeEarthEngineClient(existing_assets=set())
    config = sampling.export_config(sampling_rows(fake), "asset", "t", asset_id="projects/p/assets/a/b/t")
    task = fake.start_export(config)
    assert fake.task_status(task)["state"] == "FAILED"
    assert fake.task_status(task)["error_message"] == (
        "Asset 'projects/p/assets/a/b' does not exist or doesn't allow this operation.")
    with pytest.raises(EarthEngineError, match="Asset 'projects/p/assets/a' does not exist"):
        fake.create_folder("projects/p/assets/a/b")
    fake.create_folder("projects/p/assets/a")
    fake.create_folder("projects/p/assets/a/b")
    assert fake.get_asset("projects/p/assets/a/b") == {"id": "projects/p/assets/a/b", "type": "FOLDER"}
    assert fake.task_status(fake.start_export(config))["state"] == "COMPLETED"


def test_an_existing_asset_is_replaced_only_with_overwrite():
    fake = FakeEarthEngineClient(existing_assets={"projects/p/assets/s"})
    rows = sampling_rows(fake)
    first = fake.task_status(fake.start_export(
        sampling.export_config(rows, "asset", "t", asset_id="projects/p/assets/s/t")))
    asset = fake.get_asset("projects/p/assets/s/t")
    n_rows = len(fake.compute_features(rows))
    assert first["state"] == "COMPLETED" and asset["featureCount"] == str(n_rows)
    assert first["batch_eecu_usage_seconds"] == pytest.approx(EECU_S_PER_TASK + EECU_S_PER_ROW * n_rows)
    again = fake.task_status(fake.start_export(
        sampling.export_config(rows, "asset", "t", asset_id="projects/p/assets/s/t")))
    assert again == {"id": "FAKETASK0001", "description": "t", "state": "FAILED",
                     "error_message": "Cannot overwrite asset 'projects/p/assets/s/t'."}
    replaced = fake.task_status(fake.start_export(
        sampling.export_config(rows, "asset", "t", asset_id="projects/p/assets/s/t", overwrite=True)))
    assert replaced["state"] == "COMPLETED"


def test_a_full_queue_refuses_new_tasks_and_creates_none():
    fake = FakeEarthEngineClient(queue_limit=2, running_polls=5)
    config = sampling.export_config(ee.FeatureCollection([]), "drive", "t")
    started = [fake.start_export(config) for _ in range(2)]
    with pytest.raises(EarthEngineError, match=re.escape(f"kept failing startExport after retries ({QUEUE_FULL})")):
        fake.start_export(config)
    assert list(fake.tasks) == started and fake.max_unfinished == 2
    assert fake.sleeps == [0.5, 1.0, 2.0]  # retried as a 429 by the real loop, then given up
    assert {t["state"] for t in fake.list_tasks().values()} == {"RUNNING"}
