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


def test_computation_timed_out_is_not_retried_and_names_batch_mode(http_client):
    """Issue 16 item 11. An interactive computation has five minutes
    (https://developers.google.com/earth-engine/guides/processing_environments); the server answers
    HTTP 400 "Computation timed out." and the same request times out again, so the retries that the
    client used to make (sleeps 1, 2, 4 s: four times the cost) are gone."""
    http, client, sleeps = http_client([_error(400, "Computation timed out.")] * 4)
    with apitestcase.UsingCloudApi(mock_http=http), pytest.raises(EarthEngineError) as err:
        client.get_info(ee.Number(1))
    assert sleeps == [] and len(http.requests) == 1 and client.requests == 1
    assert "--mode export" in str(err.value) and "not retried" in str(err.value)


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


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    """A home without any stored Google credentials and no project variables."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", *ee_client.PROJECT_ENV_VARS):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _ee_credentials(home, **content):
    path = home / ".config" / "earthengine" / "credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"refresh_token": "not-a-real-token", **content}))
    return path


def test_missing_credentials_at_initialize(monkeypatch, tmp_path, empty_home):
    _ee_credentials(empty_home)  # stored credentials that ee.Initialize then refuses

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


def test_initialize_uses_stored_credentials_and_turns_off_ee_retries(monkeypatch, empty_home):
    _ee_credentials(empty_home)
    seen = {}
    monkeypatch.setattr(ee, "Initialize", lambda credentials, project=None: seen.update(c=credentials, p=project))
    client = ee_client.EarthEngineClient.initialize("my-project")
    assert seen == {"c": "persistent", "p": "my-project"}
    assert ee.data._get_state().max_retries == 0 and isinstance(client, EarthEngineClient)



# ---------------------------------------------------------------- issue 16: credentials, network, quotas


def test_no_credentials_on_disk_is_one_line_before_initialize(empty_home, monkeypatch):
    """No stored credentials: stop before ee.Initialize (which would probe the metadata server for a
    minute) with one line naming `earthengine authenticate`; the network guard fails any probe."""
    from tests.timing import hang_guarded

    monkeypatch.setattr(ee, "Initialize", lambda *a, **k: pytest.fail("ee.Initialize must not run"))
    with hang_guarded(0.5, "refusing without credentials"), pytest.raises(EarthEngineError) as err:
        ee_client.EarthEngineClient.initialize("my-project")
    message = str(err.value)
    assert "earthengine authenticate" in message and "\n" not in message


def test_project_falls_back_to_env_then_credentials(empty_home, monkeypatch):
    seen = []
    monkeypatch.setattr(ee, "Initialize", lambda credentials, project=None: seen.append(project))
    _ee_credentials(empty_home, project="saved-with-set-project")
    ee_client.EarthEngineClient.initialize(None)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-google-cloud-project")
    ee_client.EarthEngineClient.initialize(None)
    monkeypatch.setenv("EE_PROJECT", "from-ee-project")
    ee_client.EarthEngineClient.initialize(None)
    client = ee_client.EarthEngineClient.initialize("given")
    assert seen == ["saved-with-set-project", "from-google-cloud-project", "from-ee-project", "given"]
    assert client.project == "given" and client.credentials.kind == "earthengine"


def rsa_pem() -> str:
    """A fresh, valid RSA private key in PEM (registered nowhere)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_credential_kinds_and_drive(empty_home, monkeypatch):
    """Issue 16 item 2: which credentials can export to Drive (service accounts have no Drive,
    https://github.com/google/earthengine-api/issues/188; gcloud ADC has no Drive scope)."""
    key = empty_home / "key.json"
    key.write_text(json.dumps({"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com",
                               "private_key": rsa_pem(),  # a real key: the key file is checked offline
                               "project_id": "key-project"}))
    service = ee_client.find_credentials(key)
    assert (service.kind, service.project) == ("service_account", "key-project")
    assert "service account" in service.drive_refusal()
    adc = empty_home / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir()
    adc.write_text(json.dumps({"type": "authorized_user", "quota_project_id": "adc-project"}))
    gcloud = ee_client.find_credentials()
    assert (gcloud.kind, gcloud.project) == ("gcloud", "adc-project") and "Drive scope" in gcloud.drive_refusal()
    _ee_credentials(empty_home, scopes=["https://www.googleapis.com/auth/earthengine"])
    assert "Drive scope" in ee_client.find_credentials().drive_refusal()
    _ee_credentials(empty_home)
    assert ee_client.find_credentials().drive_refusal() is None


def test_insufficient_scope_is_not_reported_as_registration(http_client):
    """A 403 for a token without the Drive scope (the real text,
    https://github.com/gee-community/geemap/issues/1104) names the scope and the asset default."""
    http, client, _ = http_client([_error(403, "Request had insufficient authentication scopes.")])
    with apitestcase.UsingCloudApi(mock_http=http), pytest.raises(EarthEngineError) as err:
        client.get_info(ee.Number(1))
    assert "scope" in str(err.value) and "--export-to asset" in str(err.value)
    assert "registered" not in str(err.value)


class FlakyHttp(ScriptedHttp):
    """Raises the network error given instead of answering, where the script says so."""

    def request(self, uri, method="GET", body=None, headers=None, redirections=5, connection_type=None):
        if self.answers and isinstance(self.answers[0], BaseException):
            self.requests.append((method, uri))
            raise self.answers.pop(0)
        return super().request(uri, method, body, headers, redirections, connection_type)


def test_network_errors_outside_eeexception_are_retried(http_client):
    """Issue 16 item 13: a connection reset or a read timeout below ee's HTTP layer is not an
    EEException; it used to abort a whole map. It is retried, then reported in one line."""
    value = json.dumps({"result": 7}).encode()
    http, client, sleeps = http_client([])
    http = FlakyHttp([ConnectionResetError(104, "Connection reset by peer"), TimeoutError("read timed out"),
                      (200, value)])
    with apitestcase.UsingCloudApi(mock_http=http):
        assert client.get_info(ee.Number(7)) == 7
    assert sleeps == [1.0, 2.0] and len(http.requests) == 3
    http = FlakyHttp([ConnectionResetError(104, "Connection reset by peer")] * 4)
    with apitestcase.UsingCloudApi(mock_http=http), pytest.raises(EarthEngineError) as err:
        client.get_info(ee.Number(7))
    assert "could not reach Earth Engine" in str(err.value)


def test_requests_are_capped_at_the_concurrent_request_quota():
    """Issue 16 item 13: at most 40 requests in flight (the default per-project quota,
    https://developers.google.com/earth-engine/guides/usage), whatever the number of map workers."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    client = EarthEngineClient()
    assert client.max_concurrent == ee_client.MAX_CONCURRENT_REQUESTS == 40
    lock, state = threading.Lock(), {"now": 0, "most": 0}
    release = threading.Event()

    def request(_):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        release.wait(0.05)
        with lock:
            state["now"] -= 1
        return 1

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(lambda i: client._call("a request", request, i), range(300)))
    assert sum(results) == 300 and state["most"] == 40 and client.requests == 300


def test_initialize_sets_a_request_deadline(empty_home, monkeypatch):
    _ee_credentials(empty_home)
    monkeypatch.setattr(ee, "Initialize", lambda credentials, project=None: None)
    ee_client.EarthEngineClient.initialize("p")
    assert ee.data._get_state().deadline_ms == ee_client.REQUEST_DEADLINE_S * 1000 > 300_000


def test_a_client_pickled_to_a_fresh_worker_initialises_earth_engine(empty_home, monkeypatch):
    """Remote Dask workers never initialised Earth Engine: the unpickled client does it itself."""
    import pickle

    _ee_credentials(empty_home)
    calls = []
    monkeypatch.setattr(ee, "Initialize", lambda credentials, project=None: calls.append(project))
    client = ee_client.EarthEngineClient.initialize("worker-project")
    monkeypatch.setattr(ee.data, "is_initialized", lambda: False)  # as in a fresh worker process
    clone = pickle.loads(pickle.dumps(client))
    assert calls == ["worker-project", "worker-project"] and clone.project == "worker-project"
