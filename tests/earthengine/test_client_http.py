"""HTTP-level tests of the real Earth Engine adapter: ee's own HTTP layer answers with errors."""
from __future__ import annotations

import io
import json

import ee
import httplib2
import numpy as np
import pytest
from ee import apitestcase

from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.client import EarthEngineClient, RetryPolicy, redact
from gee_crop.errors import EarthEngineError


class ScriptedHttp:
    """An httplib2.Http stand-in answering each request with the next (status, body)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []

    def request(self, uri, method="GET", body=None, headers=None, redirections=5, connection_type=None):
        self.requests.append((method, uri))
        status, content = self.answers.pop(0)
        return httplib2.Response({"status": status}), content


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": status, "message": message}}).encode()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.fixture
def http_client():
    ee.data.setMaxRetries(0)  # as EarthEngineClient.initialize: one retry policy, ours
    sleeps: list[float] = []

    def make(answers):
        http = ScriptedHttp(answers)
        return http, EarthEngineClient(retry=RetryPolicy(max_attempts=4), sleep=sleeps.append), sleeps

    return make


def test_compute_pixels_retries_429_and_500_with_backoff(http_client):
    pixels = np.zeros((2, 3), dtype=[("B2", "<u2"), ("B3", "<u2")])
    pixels["B3"] = 1234
    http, client, sleeps = http_client([_error(429, "Too many concurrent aggregations."),
                                        (500, b"server trouble"), (200, _npy(pixels))])
    with apitestcase.UsingCloudApi(mock_http=http):
        out = client.compute_pixels(ee.Image.constant(1), {"dimensions": {"width": 3, "height": 2}})
    assert out.dtype.names == ("B2", "B3") and out.shape == (2, 3)
    assert int(out["B3"][1, 2]) == 1234
    assert sleeps == [1.0, 2.0]  # exponential backoff, injected sleep
    assert len(http.requests) == 3 and all(u.endswith("image:computePixels?") for _, u in http.requests)
    assert client.requests == 3


def test_computation_timed_out_is_retried_then_reported(http_client):
    http, client, sleeps = http_client([_error(400, "Computation timed out.")] * 4)
    with apitestcase.UsingCloudApi(mock_http=http), pytest.raises(EarthEngineError) as err:
        client.get_info(ee.Number(1))
    assert sleeps == [1.0, 2.0, 4.0]
    assert "after retries" in str(err.value) and "rerun" in str(err.value)


def test_memory_limit_is_not_retried_and_suggests_the_fix(http_client):
    http, client, sleeps = http_client([_error(400, "User memory limit exceeded.")])
    with apitestcase.UsingCloudApi(mock_http=http), pytest.raises(EarthEngineError) as err:
        client.get_info(ee.Number(1))
    assert sleeps == [] and len(http.requests) == 1
    assert "tileScale" in str(err.value) or "tile-scale" in str(err.value)
    assert "smaller tiles" in str(err.value)


def test_compute_features_follows_page_tokens(http_client):
    page1 = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"a": 1}}],
             "nextPageToken": "p2"}
    page2 = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"a": 2}}]}
    http, client, _ = http_client([(200, json.dumps(page1).encode()), _error(503, "unavailable"),
                                   (200, json.dumps(page2).encode())])
    with apitestcase.UsingCloudApi(mock_http=http):
        features = client.compute_features(ee.FeatureCollection([ee.Feature(None, {"a": 1})]), page_size=1)
    assert [f["properties"]["a"] for f in features] == [1, 2]
    assert len(http.requests) == 3 and all("table:computeFeatures" in u for _, u in http.requests)


def test_unauthenticated_request_says_how_to_authenticate(http_client):
    http, client, _ = http_client([_error(401, "Request had invalid authentication credentials.")])
    with apitestcase.UsingCloudApi(mock_http=http), pytest.raises(EarthEngineError) as err:
        client.get_info(ee.Number(1))
    assert "earthengine authenticate" in str(err.value)


def test_missing_credentials_at_initialize(monkeypatch, tmp_path):
    def no_credentials(*args, **kwargs):
        raise ee.EEException("Please authorize access to your Earth Engine account by running "
                             "earthengine authenticate")

    monkeypatch.setattr(ee, "Initialize", no_credentials)
    key = tmp_path / "key.json"
    key.write_text("{}")
    with pytest.raises(EarthEngineError, match="client_email"):
        ee_client.EarthEngineClient.initialize("my-project", service_account_key=key)
    with pytest.raises(EarthEngineError) as err:
        ee_client.EarthEngineClient.initialize("my-project")
    assert "earthengine authenticate" in str(err.value) and "service-account-key" in str(err.value)
    monkeypatch.delenv("EE_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(EarthEngineError, match="--project"):
        ee_client.EarthEngineClient.initialize(None)


def test_secrets_are_redacted_from_messages():
    text = ('failed: Authorization: Bearer ya29.a0AfH6SMsecret access_token=abc123 '
            '{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"}')
    clean = redact(text)
    for secret in ("ya29.a0AfH6SMsecret", "abc123", "MIIE"):
        assert secret not in clean
    err = ee_client.translate_error(ee.EEException("quota exceeded token=SECRET42"), "a request")
    assert "SECRET42" not in str(err)


def test_start_export_retries_with_one_request_id_and_task_status(http_client):
    from gee_crop.earthengine.sampling import export_config

    operation = {"name": "projects/offline-test/operations/TASK123",
                 "metadata": {"@type": "type.googleapis.com/google.earthengine.v1alpha.OperationMetadata",
                              "state": "PENDING", "description": "tile0001"}}
    done = {"name": "projects/offline-test/operations/TASK123", "done": True,
            "metadata": {"@type": "type.googleapis.com/google.earthengine.v1alpha.OperationMetadata",
                         "state": "SUCCEEDED", "description": "tile0001"}}
    http, client, sleeps = http_client([_error(429, "Too Many Requests"), (200, json.dumps(operation).encode()),
                                        (200, json.dumps(done).encode())])
    bodies = []
    original = http.request

    def spy(uri, method="GET", body=None, headers=None, **kw):
        bodies.append(body)
        return original(uri, method, body, headers, **kw)

    http.request = spy
    config = export_config(ee.FeatureCollection([]), "drive", "tile0001")
    with apitestcase.UsingCloudApi(mock_http=http):
        task_id = client.start_export(config)
        status = client.task_status(task_id)
    assert task_id == "TASK123" and status["state"] == "COMPLETED"
    assert sleeps == [1.0]
    exports = [u for _, u in http.requests if "table:export" in u]
    assert len(exports) == 2
    first, second = (json.loads(b) for b in bodies[:2])
    assert first["requestId"] == second["requestId"]  # a retried start cannot create a second task
    assert first["fileExportOptions"]["driveDestination"]["filenamePrefix"] == "tile0001"
    assert "operations/TASK123" in http.requests[-1][1]


def test_initialize_uses_stored_credentials_and_turns_off_ee_retries(monkeypatch):
    seen = {}
    monkeypatch.setattr(ee, "Initialize", lambda credentials, project=None: seen.update(c=credentials, p=project))
    client = ee_client.EarthEngineClient.initialize("my-project")
    assert seen == {"c": "persistent", "p": "my-project"}
    assert ee.data._get_state().max_retries == 0 and isinstance(client, EarthEngineClient)
