"""The one place that talks to Earth Engine: credentials, initialisation, retries, clear errors.

Every server call of gee-crop goes through :class:`EarthEngineClient` (graph builders in the other
modules of this package only return ``ee`` objects). Before ``ee.Initialize`` (which would probe
Google's metadata server for a minute when nothing is stored), :func:`find_credentials` looks for
stored credentials ON DISK only and stops with one line naming ``earthengine authenticate``.

Transient failures (HTTP 429 / 5xx, "Too many concurrent aggregations", connection resets and
timeouts outside ``EEException``) are retried with exponential backoff; "Computation timed out" and
"User memory limit exceeded" are deterministic for a given request and are NOT retried; every error
becomes an :class:`~gee_crop.errors.EarthEngineError` that says what to do. At most
:data:`MAX_CONCURRENT_REQUESTS` requests are in flight per project (the project's default quota): per
process, and across a Dask cluster through one ``distributed.Semaphore`` when a distributed client is
active (:func:`cluster_slots`); each request has a deadline. Export tasks are polled one ``getOperation``
per task of the job (:meth:`EarthEngineClient.poll_tasks`), never by paging the project's whole
``listOperations``. :func:`request_body_bytes` measures a request as the client sends it (the service
refuses bodies over :data:`REQUEST_PAYLOAD_LIMIT` bytes). Credentials and tokens are never printed or
logged: error texts pass through :func:`redact` first.

Tests replace :func:`get_client` with :class:`gee_crop.testing.fake_ee.FakeEarthEngineClient`.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ee
import httplib2
import numpy as np

from gee_crop.errors import EarthEngineError

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying (rate limits and server-side failures).
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
#: Server messages worth retrying even when the status is lost (ee keeps only the message).
#: "Computation timed out" is NOT here: an interactive request has five minutes
#: (https://developers.google.com/earth-engine/guides/processing_environments) and the same request
#: times out again (it is answered with HTTP 400 "Computation timed out.",
#: https://github.com/Open-EO/openeo-earthengine-driver/issues/18), so retrying it only multiplies the cost.
RETRYABLE_MESSAGES = (
    "too many concurrent aggregations",
    "too many requests",
    "rate limit",
    "service unavailable",
    "internal error",
    "backend error",
    "deadline exceeded",
)
TIMEOUT_MESSAGE = "computation timed out"
MEMORY_MESSAGE = "user memory limit exceeded"
#: 403 of an export to Drive with a token lacking the Drive scope
#: (https://github.com/gee-community/geemap/issues/1104: "Request had insufficient authentication scopes.").
SCOPE_MESSAGES = ("insufficient authentication scopes", "access_token_scope_insufficient")
CREDENTIAL_MESSAGES = (
    "please authorize access",
    "earthengine authenticate",
    "credentials",
    "not signed up",
    "unauthenticated",
    "invalid_grant",
)
#: Seconds the first token request of a service-account key may take: Google answers it in well under a
#: second; a key that is well formed but not registered is refused with "invalid_grant" at once.
TOKEN_TIMEOUT_S = 15
#: Errors below ee's HTTP layer (connection resets, DNS, read timeouts): transient, retried.
NETWORK_ERRORS = (ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException, httplib2.HttpLib2Error)
DEFAULT_PAGE_SIZE = 1000
PROJECT_ENV_VARS = ("EE_PROJECT", "GOOGLE_CLOUD_PROJECT")
#: Default per-project quota of concurrent interactive requests
#: (https://developers.google.com/earth-engine/guides/usage: "Max concurrent requests ... 40").
MAX_CONCURRENT_REQUESTS = 40
#: The service refuses request bodies over this many bytes: HTTP 400 "Request payload size exceeds the limit:
#: 10485760 bytes." (https://github.com/gee-community/geemap/issues/1093 on value:compute,
#: https://github.com/gee-community/geemap/issues/1013, https://github.com/VeinsOfTheEarth/rabpro/issues/75).
REQUEST_PAYLOAD_LIMIT = 10_485_760
#: Name prefix of the cluster-wide ``distributed.Semaphore`` of a project's requests.
CLUSTER_SEMAPHORE_PREFIX = "gee-crop-ee-requests-"
#: Client-side deadline of one request (s): a little above the five minutes an interactive
#: computation may take (processing_environments page above), so a hung connection cannot stall a run.
REQUEST_DEADLINE_S = 330
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"

AUTH_HELP = (
    "authenticate once with `earthengine authenticate` (or `gcloud auth application-default "
    "login`), or pass --service-account-key KEY.json for a service account of a project "
    "registered for Earth Engine; then retry"
)


# ------------------------------------------------------------------ credentials on disk


@dataclass(frozen=True)
class StoredCredentials:
    """Credentials found on disk, before ``ee.Initialize``.

    ``kind``: ``service_account`` (a key file), ``earthengine`` (``earthengine authenticate``),
    ``gcloud`` (application-default credentials of ``gcloud auth application-default login``) or
    ``external`` (workload identity federation). ``project``: the Cloud project saved with them
    (``earthengine set_project``, the ADC quota project, the key's project). ``scopes``: the OAuth
    scopes recorded in the file, None when the file records none.
    """

    kind: str
    path: Path
    project: str | None = None
    scopes: tuple[str, ...] | None = None
    email: str | None = None

    def drive_refusal(self) -> str | None:
        """Why exports to Google Drive cannot work with these credentials, or None when they can.

        A service account has no Drive of its own: its files would land in the service account's
        Drive, not yours (https://github.com/google/earthengine-api/issues/188). Application-default
        credentials of gcloud carry no Drive scope, and a token without it is refused with HTTP 403
        "Request had insufficient authentication scopes." (https://github.com/gee-community/geemap/issues/1104).
        """
        if self.kind == "service_account":
            return "a service account has no Google Drive (its exports would land in its own, invisible Drive)"
        if self.kind in ("gcloud", "external"):
            return "application-default credentials from gcloud carry no Google Drive scope"
        if self.scopes is not None and DRIVE_SCOPE not in self.scopes:
            return "your stored `earthengine authenticate` credentials lack the Google Drive scope"
        return None


def _read_json(path: Path) -> dict:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _gcloud_adc_path() -> Path:
    config = os.environ.get("CLOUDSDK_CONFIG") or (
        Path(os.environ["APPDATA"]) / "gcloud"
        if os.name == "nt" and os.environ.get("APPDATA")
        else Path.home() / ".config" / "gcloud"
    )
    return Path(config) / "application_default_credentials.json"


#: where a new service-account key comes from, said by every refusal of one
NEW_KEY_HELP = "download a new key for the service account from the Cloud console (IAM > Service accounts > Keys)"


def _service_account(path: Path) -> StoredCredentials:
    """A service-account key file, checked offline: its JSON fields and its private key (an RSA key in PEM,
    loaded with ``cryptography``), so a damaged key is one line here, not a traceback at the first request."""
    content = _read_json(path)
    fields = ("client_email", "private_key")
    if not all(isinstance(content.get(k), str) and content[k] for k in fields):
        raise EarthEngineError(
            f"{path} is not a readable service-account key (JSON with client_email and private_key); {NEW_KEY_HELP}"
        )
    if content.get("type", "service_account") != "service_account":
        raise EarthEngineError(f"{path} is a {content['type']!r} credential, not a service-account key; {NEW_KEY_HELP}")
    _check_private_key(path, content["private_key"])
    return StoredCredentials("service_account", path, content.get("project_id"), None, content["client_email"])


def _check_private_key(path: Path, pem: str) -> None:
    """EarthEngineError unless ``pem`` is an unencrypted RSA private key (what Google signs token requests
    of a service account with)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise EarthEngineError(
            f"the private_key of {path} is not a valid PEM private key (damaged or edited); {NEW_KEY_HELP}"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise EarthEngineError(f"the private_key of {path} is not an RSA key; {NEW_KEY_HELP}")


def _stored(path: Path) -> StoredCredentials:
    """The kind, project and scopes of an application-default credentials file."""
    content = _read_json(path)
    kind = {"service_account": "service_account", "external_account": "external"}.get(content.get("type", ""), "gcloud")
    if kind == "service_account":
        return _service_account(path)
    return StoredCredentials(kind, path, content.get("quota_project_id") or content.get("project_id"))


def find_credentials(service_account_key: str | os.PathLike | None = None) -> StoredCredentials:
    """The credentials ``ee.Initialize`` would use, read from disk only (no socket, < 1 s).

    Order as earthengine-api's ``get_persistent_credentials``: a service-account key given by the
    user, else the ``earthengine authenticate`` file (with a refresh token), else Google's
    application-default credentials ($GOOGLE_APPLICATION_CREDENTIALS, then gcloud's file).
    Credentials of a metadata server (Compute Engine, Cloud Run) leave no file: point
    $GOOGLE_APPLICATION_CREDENTIALS at a key there. Raises EarthEngineError (one line) when none exist.
    """
    if service_account_key is not None:
        return _service_account(Path(service_account_key))
    ee_file = Path(ee.oauth.get_credentials_path())
    content = _read_json(ee_file) if ee_file.is_file() else {}
    if content.get("refresh_token"):
        scopes = content.get("scopes")
        return StoredCredentials(
            "earthengine", ee_file, content.get("project"), tuple(scopes) if isinstance(scopes, list) else None
        )
    adc = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if adc:
        if not Path(adc).is_file():
            raise EarthEngineError(
                f"$GOOGLE_APPLICATION_CREDENTIALS points to {adc}, which does not exist; "
                f"fix the variable or unset it and {AUTH_HELP}"
            )
        return _stored(Path(adc))
    if _gcloud_adc_path().is_file():
        return _stored(_gcloud_adc_path())
    raise EarthEngineError(
        f"no Earth Engine credentials found on this machine; {AUTH_HELP} (name the Cloud project with "
        "--project MY-PROJECT or $EE_PROJECT)"
    )


def credentials_file() -> Path | None:
    """The stored credentials file Earth Engine would use, or None (nothing read over the network)."""
    try:
        return find_credentials().path
    except EarthEngineError:
        return None


def project_from_env(project: str | None = None) -> str | None:
    """``project`` if given, else the first of $EE_PROJECT / $GOOGLE_CLOUD_PROJECT that is set."""
    return project or next((os.environ[v] for v in PROJECT_ENV_VARS if os.environ.get(v)), None)


def resolve_project(project: str | None, credentials: StoredCredentials | None) -> str | None:
    """--project, else $EE_PROJECT, else $GOOGLE_CLOUD_PROJECT, else the project saved with the credentials."""
    return project_from_env(project) or (credentials.project if credentials is not None else None)


_SECRET_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|id_token|api_key|key|token|client_secret)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,}]+"
    ),
    re.compile(r"ya29\.[A-Za-z0-9._\-]+"),
)


def redact(text: str) -> str:
    """``text`` with bearer tokens, OAuth tokens, API keys and private keys replaced by ``***``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: wait ``initial_s * multiplier**k`` (capped at ``max_s``) before retry k+1."""

    max_attempts: int = 6
    initial_s: float = 1.0
    multiplier: float = 2.0
    max_s: float = 64.0

    def delays(self) -> list[float]:
        """The waits (seconds) between the ``max_attempts`` tries."""
        return [min(self.initial_s * self.multiplier**k, self.max_s) for k in range(self.max_attempts - 1)]


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an ``ee.EEException`` (ee chains the googleapiclient HttpError)."""
    for cause in (exc, exc.__cause__, exc.__context__):
        resp = getattr(cause, "resp", None)
        status = getattr(resp, "status", None)
        if status is not None:
            return int(status)
    return None


def is_retryable(exc: BaseException) -> bool:
    """True for rate limits, 5xx, network errors and the transient messages of :data:`RETRYABLE_MESSAGES`."""
    if isinstance(exc, NETWORK_ERRORS):
        return True
    status = http_status(exc)
    message = str(exc).lower()
    if TIMEOUT_MESSAGE in message or MEMORY_MESSAGE in message:
        return False
    return status in RETRYABLE_STATUS or any(m in message for m in RETRYABLE_MESSAGES)


def translate_error(exc: BaseException, what: str) -> EarthEngineError:
    """A user-facing error for a failed Earth Engine request, with the fix, secrets redacted."""
    message = redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lower = message.lower()
    if MEMORY_MESSAGE in lower:
        return EarthEngineError(
            f"Earth Engine ran out of memory for {what} ({message}); use smaller tiles "
            "(gee-crop sample: --tile-deg 0.5 or less, or --tile-scale 4, 8 or 16; gee-crop map: a "
            "smaller --tile-size) and retry"
        )
    if TIMEOUT_MESSAGE in lower:
        return EarthEngineError(
            f"Earth Engine timed out on {what} ({message}): interactive requests have five minutes and "
            "the same request times out again, so it was not retried; run large jobs as batch tasks "
            "(gee-crop sample --mode export) or use smaller tiles (--tile-deg 0.5, map: --tile-size)"
        )
    if any(m in lower for m in SCOPE_MESSAGES):
        return EarthEngineError(
            f"Earth Engine refused {what}: {message}. Your credentials lack the scope this needs "
            "(exports to Google Drive need the Drive scope): export to --export-to asset (the default) "
            "or gcs, or run `earthengine authenticate --force` with earthengine-api >= 1.5.12"
        )
    status = http_status(exc)
    if status in (401, 403) or any(m in lower for m in CREDENTIAL_MESSAGES):
        return EarthEngineError(
            f"Earth Engine refused {what}: {message}. Check that the Cloud project is registered for "
            "Earth Engine and that your account or service account has the Earth Engine Resource "
            f"Writer and Service Usage Consumer roles on it; {AUTH_HELP}"
        )
    if isinstance(exc, NETWORK_ERRORS):
        return EarthEngineError(
            f"could not reach Earth Engine for {what} after retries ({message}); check the network "
            "connection and rerun the same command (finished tiles are kept)"
        )
    if is_retryable(exc):
        return EarthEngineError(
            f"Earth Engine kept failing {what} after retries ({message}); wait a few minutes and rerun "
            "the same command (finished tiles are kept), or, for gee-crop sample, use --mode export for large regions"
        )
    return EarthEngineError(f"Earth Engine could not run {what}: {message}")


def token_request() -> Callable[..., Any]:
    """google-auth's HTTP request for the token service, each call bounded to TOKEN_TIMEOUT_S (its default
    is 120 s) so a token request can never stall a run."""
    from google.auth.transport.requests import Request

    class BoundedRequest(Request):
        def __call__(
            self,
            url: Any,
            method: Any = "GET",
            body: Any = None,
            headers: Any = None,
            timeout: Any = None,
            **kwargs: Any,
        ) -> Any:
            bounded = min(float(timeout or TOKEN_TIMEOUT_S), TOKEN_TIMEOUT_S)
            return super().__call__(url, method=method, body=body, headers=headers, timeout=bounded, **kwargs)

    return BoundedRequest()


def fetch_token(credentials: Any, stored: StoredCredentials, request: Callable[..., Any] | None = None) -> None:
    """Fetch the first access token of service-account ``credentials`` once, before ``ee.Initialize``.

    A key that is well formed but revoked, deleted or never registered passes every offline check; Google
    refuses its first token request at once ("invalid_grant"). Asked here, with a bounded request, that
    refusal is one line naming the key within seconds, instead of surfacing through Earth Engine's
    initialisation and its retries. ``request`` is google-auth's transport (:func:`token_request`)."""
    import google.auth.exceptions

    try:
        credentials.refresh(request or token_request())
    except google.auth.exceptions.RefreshError as exc:
        why = str(exc.args[0] if exc.args else exc).splitlines()[0]
        raise EarthEngineError(
            f"Google refused the service-account key {stored.path} of {stored.email} ({redact(why)}): the key "
            f"was deleted, disabled or never registered; {NEW_KEY_HELP}"
        ) from None
    except (google.auth.exceptions.TransportError, *NETWORK_ERRORS) as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise EarthEngineError(
            f"could not reach Google's token service within {TOKEN_TIMEOUT_S} s to use the key {stored.path} "
            f"({redact(why)}); check the network (proxy, firewall) and retry"
        ) from None


#: The message of a project the caller may not route requests through (HTTP 403), e.g. "Caller does not have
#: required permission to use project P. Grant the caller the roles/serviceusage.serviceUsageConsumer role, or a
#: custom role with the serviceusage.services.use permission, ..." (Earth Engine's own request, quoted in
#: https://github.com/nasaharvest/street2sat/pull/51 and https://github.com/earthrise-media/mining-detector/issues/14).
#: Earth Engine needs serviceusage.services.use on the project besides an Earth Engine role
#: (https://developers.google.com/earth-engine/guides/access_control, "Set up Earth Engine service usage").
SERVICE_USAGE_MESSAGES = ("serviceusage", "required permission to use project")


def eecu_seconds(profile_text: str) -> float:
    """EECU-seconds of a ``Profile.getProfiles`` text profile: the sum of its first column.

    The text profile is a table ``EECU·s PeakMem Count  Description`` with one row per algorithm, asset load
    or overhead ("-" where nothing was computed); the profiler is described on
    https://developers.google.com/earth-engine/guides/computation_overview ("Profiler").
    """
    total = 0.0
    for line in profile_text.splitlines():
        first = line.split()[:1]
        try:
            total += float(first[0]) if first else 0.0
        except ValueError:
            continue  # the header, or "-" (no compute)
    return total


@dataclass
class Profile:
    """What a profiled block cost: EECU-seconds (None when the server sent no profile), wall seconds."""

    eecu_seconds: float | None = None
    seconds: float = 0.0


def request_body_bytes(body: dict) -> int:
    """Bytes of a request body as earthengine-api sends it: ``ee.data`` encodes the ``expression`` with
    ``ee.serializer.encode(obj, for_cloud_api=True)`` (``computeValue``, ``computeFeatures``,
    ``computePixels``, ``exportTable`` in ee/data.py) and googleapiclient's ``JsonModel.serialize``
    writes the body with ``json.dumps`` and its default separators (", ", ": ")."""
    encoded = {
        k: ee.serializer.encode(v, for_cloud_api=True) if isinstance(v, ee.encodable.Encodable) else v
        for k, v in body.items()
    }
    return len(json.dumps(encoded).encode("utf-8"))


_cluster_lock = threading.Lock()
_cluster_semaphores: dict[tuple[str, str], Any] = {}


def cluster_slots(project: str | None, max_leases: int = MAX_CONCURRENT_REQUESTS) -> Any:
    """The cluster-wide bound of ``project``'s requests when a ``dask.distributed`` client is active (in
    the process that made it, or on one of its workers): one named ``distributed.Semaphore`` shared by
    every process of the cluster, so N workers together keep to the project's 40 concurrent requests
    (https://developers.google.com/earth-engine/guides/usage, "Max concurrent requests ... 40 ... per
    project"). None without a distributed client (the process-local bound then suffices)."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - distributed is optional
        return None
    try:
        dask_client = distributed.get_client()  # a task of a worker, or the process holding a Client
    except (ValueError, RuntimeError):
        from distributed.core import Status
        from distributed.worker import Worker

        # a thread of a worker process outside any task: that worker's client (closed workers are skipped)
        workers = [w for w in list(Worker._instances) if w.status == Status.running]
        if not workers:
            return None
        try:
            dask_client = workers[0]._get_client()
        except (ValueError, RuntimeError, OSError):
            return None
    key = (str(dask_client.scheduler.address), project or "")
    with _cluster_lock:
        if key not in _cluster_semaphores:
            _cluster_semaphores[key] = distributed.Semaphore(
                max_leases=max_leases,
                name=CLUSTER_SEMAPHORE_PREFIX + (project or "default"),
                scheduler_rpc=dask_client.scheduler,
                loop=dask_client.loop,
            )
        return _cluster_semaphores[key]


def task_from_operation(operation: dict) -> dict:
    """A legacy task dict (id, state, description, error_message, batch_eecu_usage_seconds,
    start/update_timestamp_ms) from a long-running Operation of ``listOperations``."""
    from ee import _cloud_api_utils

    return _cloud_api_utils.convert_operation_to_task(operation)


class EarthEngineClient:
    """Thin adapter over ``ee.data``: get_info, compute_pixels, compute_features, exports, tasks, assets.

    ``sleep`` is injectable so tests run retries without waiting. earthengine-api retries inside
    googleapiclient too (with its own sleeps); :meth:`initialize` turns that off so the one
    :class:`RetryPolicy` here decides. At most ``max_concurrent`` requests run at once across the
    threads of a process (map workers share one client) and, under a ``dask.distributed`` client, across
    the processes of the cluster (:func:`cluster_slots`). A client pickled to a remote Dask worker
    initialises Earth Engine there on first use (:meth:`__setstate__`).
    """

    #: (project, service-account key) of :meth:`initialize`, set on the clients it makes only
    _init_args: tuple[str, str | None]

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_concurrent: int = MAX_CONCURRENT_REQUESTS,
        credentials: StoredCredentials | None = None,
        project: str | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.requests = 0  # server requests made (including retries), for cost reports
        self.max_concurrent = int(max_concurrent)
        self.credentials = credentials
        self.project = project
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ setup

    @classmethod
    def initialize(
        cls, project: str | None = None, *, service_account_key: str | os.PathLike | None = None, **kwargs: Any
    ) -> EarthEngineClient:
        """Initialise ``ee`` for ``project`` with a service-account key file, else stored credentials.

        Credentials are looked up on disk first (:func:`find_credentials`); the project falls back to
        $EE_PROJECT, $GOOGLE_CLOUD_PROJECT, then the project saved with the credentials. Raises
        EarthEngineError naming the fix when either is missing or ``ee.Initialize`` fails.
        """
        stored = find_credentials(service_account_key)
        project = resolve_project(project, stored)
        if not project:
            raise EarthEngineError(
                "no Cloud project given for Earth Engine; pass --project MY-PROJECT (a project "
                "registered for Earth Engine), set EE_PROJECT, or save one with `earthengine set_project`"
            )
        import google.auth.exceptions

        # "persistent": the credentials of `earthengine authenticate`, else Application Default ones.
        credentials: Any = "persistent"
        if stored.kind == "service_account" and service_account_key is not None:
            credentials = ee.ServiceAccountCredentials(stored.email, str(stored.path))
            fetch_token(credentials, stored)
        try:
            ee.Initialize(credentials, project=project)
        except (ee.EEException, google.auth.exceptions.GoogleAuthError, OSError) as exc:
            raise EarthEngineError(
                f"could not initialise Earth Engine for project {project!r}: "
                f"{redact(str(exc)).splitlines()[0] if str(exc) else 'no credentials'}; {AUTH_HELP}"
            ) from None
        ee.data.setMaxRetries(0)
        ee.data.setDeadline(REQUEST_DEADLINE_S * 1000)
        client = cls(credentials=stored, project=project, **kwargs)
        client._init_args = (project, None if service_account_key is None else str(service_account_key))
        return client

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_slots", None)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._lock = threading.Lock()
        init = state.get("_init_args")
        if init is not None and not ee.data.is_initialized():
            # a remote Dask worker: a fresh process where Earth Engine was never initialised
            type(self).initialize(init[0], service_account_key=init[1])

    # -------------------------------------------------------------- requests

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        delays = self.retry.delays()
        for attempt in range(self.retry.max_attempts):
            with self._lock:
                self.requests += 1
            try:
                cluster = cluster_slots(self.project, self.max_concurrent)
                with self._slots:
                    if cluster is None:
                        return fn(*args)
                    with cluster:
                        return fn(*args)
            except (ee.EEException, *NETWORK_ERRORS) as exc:
                if not is_retryable(exc) or attempt == len(delays):
                    raise translate_error(exc, what) from None
                log.warning(
                    "Earth Engine %s failed (%s); retry %d/%d in %.1f s",
                    what,
                    redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__,
                    attempt + 1,
                    len(delays),
                    delays[attempt],
                )
                self.sleep(delays[attempt])
        raise AssertionError("unreachable")

    def profile_scope(self, hook: Callable[[str], None]) -> Any:
        """``ee.data.profiling(hook)``: every request in the block sends its profile id to ``hook``."""
        return ee.data.profiling(hook)

    def profile_text(self, ids: list[str]) -> str:
        """The text profile of the requests ``ids`` (``Profile.getProfiles``, as ``ee.profilePrinting`` asks)."""
        profiles = ee.ApiFunction.call_("Profile.getProfiles", ids)
        return str(self._call("fetching a computation profile", ee.data.computeValue, profiles))

    @contextmanager
    def profiling(self) -> Iterator[Profile]:
        """Profile the requests of the block (this thread's): the yielded :class:`Profile` holds their
        EECU-seconds and wall seconds once the block ends."""
        ids: list[str] = []
        profile = Profile()
        started = time.perf_counter()
        with self.profile_scope(ids.append):
            yield profile
        profile.seconds = time.perf_counter() - started
        if ids:
            profile.eecu_seconds = eecu_seconds(self.profile_text(ids))

    def get_info(self, obj: ee.ComputedObject) -> Any:
        """The computed value of ``obj`` (one ``value:compute`` request)."""
        return self._call("a getInfo request", ee.data.computeValue, obj)

    def compute_pixels(self, expression: ee.Image, grid: dict, band_ids: list[str] | None = None) -> np.ndarray:
        """Pixels of ``expression`` on ``grid`` as a structured array (h, w), one field per band."""
        params: dict[str, Any] = {"expression": expression, "fileFormat": "NUMPY_NDARRAY", "grid": grid}
        if band_ids is not None:
            params["bandIds"] = list(band_ids)
        return self._call("a computePixels request", ee.data.computePixels, params)

    def compute_features(self, collection: ee.FeatureCollection, page_size: int = DEFAULT_PAGE_SIZE) -> list[dict]:
        """All GeoJSON features of ``collection``, fetched page by page (each page retried alone)."""
        features: list[dict] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"expression": collection, "pageSize": int(page_size)}
            if token:
                params["pageToken"] = token
            page = self._call("a computeFeatures request", ee.data.computeFeatures, params)
            features.extend(page.get("features", []))
            token = page.get("nextPageToken")
            if not token:
                return features

    def start_export(self, task_config: dict) -> str:
        """Start a table export (see :func:`gee_crop.earthengine.sampling.export_config`) or an image export
        (``kind`` "image", :func:`gee_crop.earthengine.map_exports.image_export_config`); its task id.

        The request id is made once before the retries, so a retried start cannot create a
        second task.
        """
        task = _export_task(task_config)
        request_id = ee.data.newTaskId()[0]
        start = ee.data.exportImage if task_config.get("kind") == "image" else ee.data.exportTable
        result = self._call(f"starting export {task_config.get('description', '')!r}", start, request_id, task.config)
        from ee import _cloud_api_utils

        return _cloud_api_utils.convert_operation_name_to_task_id(result["name"])

    def task_status(self, task_id: str) -> dict:
        """``{"id", "state", "error_message"?, ...}``; state is READY, RUNNING, COMPLETED, FAILED,
        CANCELLED or UNKNOWN."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._call(f"status of task {task_id}", ee.data.getTaskStatus, task_id)[0]

    def poll_tasks(self, task_ids: list[str]) -> dict[str, dict]:
        """Task id -> task dict of ``task_ids`` only: one ``getOperation`` each
        (https://developers.google.com/earth-engine/reference/rest/v1/projects.operations/get). A job's
        polls read its own tasks; ``listOperations`` would page through every operation of the project
        (500 a page, https://developers.google.com/earth-engine/reference/rest/v1/projects.operations/list)
        on every poll, and a reader of its first page only would miss older tasks."""
        from ee import _cloud_api_utils

        project = str(self.project or ee.data._get_state().cloud_api_user_project)  # as ee.data.getTaskStatus
        statuses = {}
        for task_id in task_ids:
            name = _cloud_api_utils.convert_task_id_to_operation_name(project, task_id)
            operation = self._call(f"status of task {task_id}", ee.data.getOperation, name)
            statuses[task_id] = task_from_operation(operation)
        return statuses

    def list_tasks(self) -> dict[str, dict]:
        """Task id -> task dict of every recent task of the project, paging through ``listOperations``
        (500 a page): for listing, not for polling a job (:meth:`poll_tasks`)."""
        operations = self._call("listing tasks", ee.data.listOperations)
        tasks = (task_from_operation(op) for op in operations)
        return {t["id"]: t for t in tasks}

    def get_asset(self, asset_id: str) -> dict | None:
        """Asset metadata, or None when the asset does not exist (or is not readable)."""
        try:
            return self._call(f"looking up asset {asset_id}", ee.data.getAsset, asset_id)
        except EarthEngineError as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                return None
            raise

    def create_folder(self, folder_id: str) -> None:
        """Create one asset folder (its parent must exist)."""
        self._call(f"creating asset folder {folder_id}", ee.data.createFolder, folder_id)

    def create_image_collection(self, asset_id: str) -> None:
        """Create an empty image collection asset (its folder must exist); exports then add images to it as
        ``<asset_id>/<name>`` (https://developers.google.com/earth-engine/guides/manage_assets)."""
        self._call(f"creating image collection {asset_id}", ee.data.createAsset, {"type": "IMAGE_COLLECTION"}, asset_id)

    def ensure_folder(self, folder_id: str) -> list[str]:
        """Create ``folder_id`` and any missing parent under ``projects/<p>/assets``; the folders made.

        Exports and uploads do not create missing folders: a task writing to a folder that does not
        exist fails ("Asset '…' does not exist or doesn't allow this operation."), so every folder
        is made first with ``ee.data.createFolder`` (https://developers.google.com/earth-engine/guides/asset_manager).
        """
        root, _, rest = folder_id.partition("/assets/")
        made: list[str] = []
        path = f"{root}/assets"
        for part in [p for p in rest.split("/") if p]:
            path = f"{path}/{part}"
            if self.get_asset(path) is None:
                self.create_folder(path)
                made.append(path)
        return made

    def delete_asset(self, asset_id: str) -> None:
        """Delete one asset (the --overwrite of a pilot or a rerun)."""
        self._call(f"deleting asset {asset_id}", ee.data.deleteAsset, asset_id)


def _image_export_task(config: dict) -> ee.batch.Task:
    """An unstarted ``ee.batch`` image export built from a gee-crop image export config."""
    kwargs = {
        "image": config["image"],
        "description": config["description"],
        "crs": config["crs"],
        "crsTransform": list(config["crs_transform"]),
        "dimensions": config["dimensions"],
        "maxPixels": int(config["max_pixels"]),
    }
    destination = config["destination"]
    if destination == "asset":
        return ee.batch.Export.image.toAsset(
            assetId=config["asset_id"],
            overwrite=bool(config.get("overwrite")),
            pyramidingPolicy=dict(config.get("pyramiding_policy") or {}),
            **kwargs,
        )
    geotiff = {
        "fileNamePrefix": config["file_prefix"],
        "fileFormat": "GeoTIFF",
        "formatOptions": {"cloudOptimized": True},
    }
    if destination == "gcs":
        return ee.batch.Export.image.toCloudStorage(bucket=config["bucket"], **geotiff, **kwargs)
    if destination == "drive":
        return ee.batch.Export.image.toDrive(folder=config.get("folder"), **geotiff, **kwargs)
    raise ValueError(f"unknown export destination {destination!r}")


def _export_task(config: dict) -> ee.batch.Task:
    """An unstarted ``ee.batch`` export built from a gee-crop export config (a table, or ``kind`` "image")."""
    if config.get("kind") == "image":
        return _image_export_task(config)
    kwargs = {"collection": config["collection"], "description": config["description"]}
    if "selectors" in config:
        kwargs["selectors"] = list(config["selectors"])
    destination = config["destination"]
    if destination == "drive":
        return ee.batch.Export.table.toDrive(
            folder=config.get("folder"),
            fileNamePrefix=config["file_prefix"],
            fileFormat=config.get("file_format", "CSV"),
            **kwargs,
        )
    if destination == "gcs":
        return ee.batch.Export.table.toCloudStorage(
            bucket=config["bucket"],
            fileNamePrefix=config["file_prefix"],
            fileFormat=config.get("file_format", "CSV"),
            **kwargs,
        )
    if destination == "asset":
        kwargs.pop("selectors", None)
        # overwrite=True replaces an asset left by an earlier run instead of failing the task with
        # "Cannot overwrite asset" (https://developers.google.com/earth-engine/apidocs/export-table-toasset)
        return ee.batch.Export.table.toAsset(
            assetId=config["asset_id"], overwrite=bool(config.get("overwrite")), **kwargs
        )
    raise ValueError(f"unknown export destination {destination!r}")


def get_client(
    project: str | None = None, *, service_account_key: str | os.PathLike | None = None
) -> EarthEngineClient:
    """The client the CLI uses (tests monkeypatch this to return a fake)."""
    return EarthEngineClient.initialize(project, service_account_key=service_account_key)


#: Earth Engine asset ids (https://developers.google.com/earth-engine/guides/manage_assets): cloud
#: project assets and legacy user assets.
ASSET_ID = re.compile(r"^(projects/[^/]+/assets/|users/)[\w\-./]+$")


def is_asset_id(ref: str | os.PathLike[str]) -> bool:
    """True when ``ref`` names an Earth Engine asset rather than a local file."""
    return not Path(ref).exists() and bool(ASSET_ID.match(str(ref)))
