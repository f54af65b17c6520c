"""Issue 22 finding 11: the 40 concurrent requests of a project are a PROJECT quota
(https://developers.google.com/earth-engine/guides/usage: "Max concurrent requests ... 40 ... per project"),
so a Dask cluster of several worker processes must share one bound. The strict double enforces the quota
across processes (slot files under one folder per project) and answers the 41st request with HTTP 429
"Too many concurrent aggregations." (https://github.com/gee-community/geemap/issues/1309). Two worker
processes each run 40 requests at once (SYNTHETIC requests: a 1 x 1 px computePixels held 1.5 s)."""
from __future__ import annotations

import uuid

import pytest


def _setup(project: str) -> None:
    """On a worker: offline ee and one strict double, kept on the worker for the request tasks."""
    import time

    import numpy as np
    from distributed import get_worker

    from gee_crop.testing.fake_ee import FakeEarthEngineClient
    from gee_crop.testing.offline_ee import initialize_offline

    initialize_offline()
    get_worker().gee_crop_fake = FakeEarthEngineClient(
        project=project, pixels=lambda expression, grid, bands: (time.sleep(1.5), np.zeros(1))[1])


def _request(i: int) -> str | None:
    """One computePixels through the worker's double; the error text, or None."""
    import ee
    from distributed import get_worker

    fake = get_worker().gee_crop_fake
    try:
        fake.compute_pixels(ee.Image(i), {"dimensions": {"width": 1, "height": 1}})
    except Exception as exc:  # the test reports every failure
        return str(exc)
    return None


def _refused() -> int:
    from distributed import get_worker

    return get_worker().gee_crop_fake.slots.refused


def test_two_worker_processes_share_the_projects_40_requests(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("GEE_CROP_FAKE_EE_SLOTS", str(tmp_path / "slots"))  # inherited by the workers
    project = f"p-{uuid.uuid4().hex[:8]}"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=40, processes=True, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        client.gather([client.submit(_setup, project, workers=[w], pure=False) for w in workers])
        futures = [client.submit(_request, i, workers=[workers[i % 2]], pure=False) for i in range(80)]
        errors = [e for e in client.gather(futures) if e]
        refused = sum(client.gather([client.submit(_refused, workers=[w], pure=False) for w in workers]))
    assert refused == 0 and errors == [], f"{refused} requests over the project's 40 refused; {errors[:2]}"
