"""The one place that talks to Earth Engine: initialisation, retries with backoff, clear errors.

Every server call of gee-crop goes through :class:`EarthEngineClient` (graph builders in the other
modules of this package only return ``ee`` objects). Transient failures (HTTP 429 / 5xx, "Too many
concurrent aggregations", "Computation timed out") are retried with exponential backoff; "User memory
limit exceeded" and missing credentials become :class:`~gee_crop.errors.EarthEngineError` messages
that say what to do. Credentials and tokens are never printed or logged: error texts pass through
:func:`redact` first.

Tests replace :func:`get_client` with a fake that has the same methods (``tests/fakes/fake_ee.py``).
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import ee
import numpy as np

from gee_crop.errors import EarthEngineError

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying (rate limits and server-side failures).
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
#: Server messages worth retrying even when the status is lost (ee keeps only the message).
RETRYABLE_MESSAGES = ("too many concurrent aggregations", "computation timed out", "too many requests",
                      "rate limit", "service unavailable", "internal error", "backend error",
                      "deadline exceeded")
MEMORY_MESSAGE = "user memory limit exceeded"
CREDENTIAL_MESSAGES = ("please authorize access", "earthengine authenticate", "credentials",
                       "not signed up", "unauthenticated", "invalid_grant")
DEFAULT_PAGE_SIZE = 1000
PROJECT_ENV_VARS = ("EE_PROJECT", "GOOGLE_CLOUD_PROJECT")


def project_from_env(project: str | None = None) -> str | None:
    """``project`` if given, else the first of $EE_PROJECT / $GOOGLE_CLOUD_PROJECT that is set."""
    return project or next((os.environ[v] for v in PROJECT_ENV_VARS if os.environ.get(v)), None)

AUTH_HELP = ("authenticate once with `earthengine authenticate` (or `gcloud auth application-default "
             "login`), or pass --service-account-key KEY.json for a service account registered with "
             "Earth Engine; then retry")

_SECRET_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"(?i)((?:access_token|refresh_token|id_token|api_key|key|token|client_secret)"
               r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,}]+"),
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
        return [min(self.initial_s * self.multiplier ** k, self.max_s) for k in range(self.max_attempts - 1)]


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an ``ee.EEException`` (ee chains the googleapiclient HttpError)."""
    for cause in (exc, exc.__cause__, exc.__context__):
        resp = getattr(cause, "resp", None)
        status = getattr(resp, "status", None)
        if status is not None:
            return int(status)
    return None


def is_retryable(exc: BaseException) -> bool:
    """True for rate limits, 5xx and the transient server messages of :data:`RETRYABLE_MESSAGES`."""
    status = http_status(exc)
    if status in RETRYABLE_STATUS:
        return True
    message = str(exc).lower()
    return any(m in message for m in RETRYABLE_MESSAGES)


def translate_error(exc: BaseException, what: str) -> EarthEngineError:
    """A user-facing error for a failed Earth Engine request, with the fix, secrets redacted."""
    message = redact(str(exc)).strip() or type(exc).__name__
    lower = message.lower()
    if MEMORY_MESSAGE in lower:
        return EarthEngineError(
            f"Earth Engine ran out of memory for {what} ({message}); use smaller tiles "
            "(gee-crop sample: --tile-deg 0.5 or less, or --tile-scale 4, 8 or 16; gee-crop map: a "
            "smaller --tile-size) and retry")
    status = http_status(exc)
    if status in (401, 403) or any(m in lower for m in CREDENTIAL_MESSAGES):
        return EarthEngineError(
            f"Earth Engine refused {what}: {message}. Check that your account or service account is "
            f"registered for Earth Engine and may use the Cloud project; {AUTH_HELP}")
    if is_retryable(exc):
        return EarthEngineError(
            f"Earth Engine kept failing {what} after retries ({message}); wait a few minutes and rerun "
            "the same command (finished tiles are kept), or, for gee-crop sample, use --mode export for large regions")
    return EarthEngineError(f"Earth Engine could not run {what}: {message}")


class EarthEngineClient:
    """Thin adapter over ``ee.data``: get_info, compute_pixels, compute_features, exports, task status.

    ``sleep`` is injectable so tests run retries without waiting. earthengine-api retries inside
    googleapiclient too (with its own sleeps); :meth:`initialize` turns that off so the one
    :class:`RetryPolicy` here decides.
    """

    def __init__(self, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.requests = 0  # server requests made (including retries), for cost reports

    # ------------------------------------------------------------------ setup

    @classmethod
    def initialize(cls, project: str | None = None, *, service_account_key: str | os.PathLike | None = None,
                   **kwargs: Any) -> "EarthEngineClient":
        """Initialise ``ee`` for ``project`` with a service-account key file, else stored credentials.

        Stored credentials are those of ``earthengine authenticate`` or Application Default
        Credentials. Raises EarthEngineError naming how to authenticate when none are found.
        """
        project = project_from_env(project)
        if not project:
            raise EarthEngineError(
                "no Cloud project given for Earth Engine; pass --project MY-PROJECT (a project "
                "registered for Earth Engine) or set EE_PROJECT")
        import google.auth.exceptions

        # "persistent": the credentials of `earthengine authenticate`, else Application Default ones.
        credentials: Any = "persistent"
        if service_account_key is not None:
            credentials = _service_account_credentials(service_account_key)
        try:
            ee.Initialize(credentials, project=project)
        except (ee.EEException, google.auth.exceptions.GoogleAuthError) as exc:
            raise EarthEngineError(
                f"could not initialise Earth Engine for project {project!r}: "
                f"{redact(str(exc)).splitlines()[0] if str(exc) else 'no credentials'}; {AUTH_HELP}"
            ) from None
        ee.data.setMaxRetries(0)
        return cls(**kwargs)

    # -------------------------------------------------------------- requests

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        delays = self.retry.delays()
        for attempt in range(self.retry.max_attempts):
            self.requests += 1
            try:
                return fn(*args)
            except ee.EEException as exc:
                if not is_retryable(exc) or attempt == len(delays):
                    raise translate_error(exc, what) from None
                log.warning("Earth Engine %s failed (%s); retry %d/%d in %.1f s", what,
                            redact(str(exc)).splitlines()[0] if str(exc) else "error",
                            attempt + 1, len(delays), delays[attempt])
                self.sleep(delays[attempt])
        raise AssertionError("unreachable")

    def get_info(self, obj: ee.ComputedObject) -> Any:
        """The computed value of ``obj`` (one ``value:compute`` request)."""
        return self._call("a getInfo request", ee.data.computeValue, obj)

    def compute_pixels(self, expression: ee.Image, grid: dict, band_ids: list[str] | None = None) -> np.ndarray:
        """Pixels of ``expression`` on ``grid`` as a structured array (h, w), one field per band."""
        params: dict[str, Any] = {"expression": expression, "fileFormat": "NUMPY_NDARRAY", "grid": grid}
        if band_ids is not None:
            params["bandIds"] = list(band_ids)
        return self._call("a computePixels request", ee.data.computePixels, params)

    def compute_features(self, collection: ee.FeatureCollection,
                         page_size: int = DEFAULT_PAGE_SIZE) -> list[dict]:
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
        """Start a table export (see :func:`gee_crop.earthengine.sampling.export_config`); its task id.

        The request id is made once before the retries, so a retried start cannot create a
        second task.
        """
        task = _export_task(task_config)
        request_id = ee.data.newTaskId()[0]
        result = self._call(f"starting export {task_config.get('description', '')!r}",
                            ee.data.exportTable, request_id, task.config)
        from ee import _cloud_api_utils

        return _cloud_api_utils.convert_operation_name_to_task_id(result["name"])

    def task_status(self, task_id: str) -> dict:
        """``{"id", "state", "error_message"?, ...}``; state is READY, RUNNING, COMPLETED, FAILED,
        CANCELLED or UNKNOWN."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._call(f"status of task {task_id}", ee.data.getTaskStatus, task_id)[0]

    def get_asset(self, asset_id: str) -> dict | None:
        """Asset metadata, or None when the asset does not exist (or is not readable)."""
        try:
            return self._call(f"looking up asset {asset_id}", ee.data.getAsset, asset_id)
        except EarthEngineError as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                return None
            raise


def _service_account_credentials(key_file: str | os.PathLike) -> Any:
    try:
        with open(key_file, encoding="utf-8") as fh:
            email = json.load(fh)["client_email"]
    except (OSError, ValueError, KeyError):
        raise EarthEngineError(
            f"{key_file} is not a readable service-account key (JSON with client_email); download "
            "a key for the service account from the Cloud console (IAM > Service accounts > Keys)"
        ) from None
    return ee.ServiceAccountCredentials(email, str(key_file))


def _export_task(config: dict) -> ee.batch.Task:
    """An unstarted ``ee.batch`` table export built from a gee-crop export config."""
    kwargs = {"collection": config["collection"], "description": config["description"]}
    if "selectors" in config:
        kwargs["selectors"] = list(config["selectors"])
    destination = config["destination"]
    if destination == "drive":
        return ee.batch.Export.table.toDrive(folder=config.get("folder"),
                                             fileNamePrefix=config["file_prefix"],
                                             fileFormat=config.get("file_format", "CSV"), **kwargs)
    if destination == "gcs":
        return ee.batch.Export.table.toCloudStorage(bucket=config["bucket"],
                                                    fileNamePrefix=config["file_prefix"],
                                                    fileFormat=config.get("file_format", "CSV"), **kwargs)
    if destination == "asset":
        kwargs.pop("selectors", None)
        return ee.batch.Export.table.toAsset(assetId=config["asset_id"], **kwargs)
    raise ValueError(f"unknown export destination {destination!r}")


def get_client(project: str | None = None, *, service_account_key: str | None = None) -> EarthEngineClient:
    """The client the CLI uses (tests monkeypatch this to return a fake)."""
    return EarthEngineClient.initialize(project, service_account_key=service_account_key)
