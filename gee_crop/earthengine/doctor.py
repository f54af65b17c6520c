"""The checks of ``gee-crop doctor``, in the order a first real run meets them.

1. **credentials**: the kind stored on disk (:func:`~gee_crop.earthengine.client.find_credentials`) and the
   Cloud project; found offline, so a machine without credentials is refused before any request.
2. **project role**: one tiny request through the project. Without ``serviceusage.services.use`` (the
   Service Usage Consumer role, or Owner / Editor) Earth Engine answers HTTP 403 "Caller does not have
   required permission to use project …" (https://developers.google.com/earth-engine/guides/access_control,
   "Set up Earth Engine service usage"; the message as users met it:
   https://github.com/nasaharvest/street2sat/pull/51).
3. **asset root**: a folder created under ``projects/<project>/assets`` and deleted again (exports write
   there; https://developers.google.com/earth-engine/guides/asset_manager).
4. **sampling** and **map** requests, each profiled (``ee.data.profiling``; the profiler:
   https://developers.google.com/earth-engine/guides/computation_overview): EECU-seconds and seconds.
5. **parity**: ``check-parity`` on a few points.

Each check is a :class:`Check` with the fix for its failure; the table and ``doctor.json`` come from them.
This module runs the checks a caller hands it as functions (the graphs are built by
:mod:`gee_crop.mapping.doctor`), so it knows no mapping or sampling code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ee

from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.client import SERVICE_USAGE_MESSAGES, StoredCredentials
from gee_crop.errors import EarthEngineError, GeeCropError

PASS, FAIL, SKIPPED = "pass", "FAIL", "not run"


@dataclass
class Check:
    """One line of the doctor's table: ``status`` pass / FAIL / not run, what was seen, and the fix."""

    name: str
    status: str
    detail: str
    fix: str = ""
    measured: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict:
        return asdict(self)


def connect(
    project: str | None, service_account_key: Path | None
) -> tuple[ee_client.EarthEngineClient, StoredCredentials, str]:
    """(client, stored credentials, project): credentials read from disk FIRST (EarthEngineError in one line
    when none, before any socket), then the project resolved and Earth Engine initialised."""
    stored = ee_client.find_credentials(service_account_key)  # disk only: refuses before any socket
    resolved = ee_client.resolve_project(project, stored)
    if not resolved:
        raise EarthEngineError(
            "no Cloud project given for Earth Engine; pass --project MY-PROJECT, set EE_PROJECT, or save one "
            "with `earthengine set_project`"
        )
    return ee_client.get_client(resolved, service_account_key=service_account_key), stored, resolved


def credentials_check(stored: StoredCredentials, project: str | None) -> Check:
    """The credentials' kind and file, and the project requests go through (no request made)."""
    who = f" ({stored.email})" if stored.email else ""
    return Check(
        "credentials",
        PASS,
        f"{stored.kind}{who} from {stored.path}; project {project}",
        measured={"kind": stored.kind, "project": project},
    )


def role_fix(project: str | None) -> str:
    """How to give an account the Service Usage Consumer role on ``project``."""
    return (
        f"grant your account the Service Usage Consumer role (roles/serviceusage.serviceUsageConsumer) on project "
        f"{project} in the Cloud console (IAM), or pass --project of a project where you have it; then rerun"
    )


def is_service_usage_refusal(exc: BaseException) -> bool:
    """True when ``exc`` is Earth Engine's refusal of a project the caller may not use."""
    return any(m in str(exc).lower() for m in SERVICE_USAGE_MESSAGES)


def role_check(client, project: str | None) -> Check:
    """One ``value:compute`` of a constant through the project: refused with HTTP 403 without the role."""
    try:
        client.get_info(ee.Number(1))
    except EarthEngineError as exc:
        if is_service_usage_refusal(exc):
            return Check("project role", FAIL, str(exc), role_fix(project))
        return Check("project role", FAIL, str(exc), "fix what the message names, then rerun `gee-crop doctor`")
    return Check("project role", PASS, f"requests go through project {project} (serviceusage.services.use)")


def asset_root_check(client, project: str | None, stamp: str | None = None) -> Check:
    """Create ``projects/<project>/assets/gee-crop-doctor-<stamp>`` and delete it again."""
    folder = f"projects/{project}/assets/gee-crop-doctor-{stamp or time.strftime('%Y%m%dT%H%M%S')}"
    fix = (
        f"give your account an Earth Engine role that may write assets (Earth Engine Resource Writer or Admin) on "
        f"project {project}, or pass --project of a project you may write to"
    )
    try:
        client.create_folder(folder)
    except EarthEngineError as exc:
        return Check("asset root", FAIL, f"could not create {folder}: {exc}", fix)
    try:
        made = client.get_asset(folder)
    finally:
        client.delete_asset(folder)
    if made is None:
        return Check("asset root", FAIL, f"{folder} was created but cannot be read back", fix)
    return Check("asset root", PASS, f"created and deleted {folder}", measured={"folder": folder})


def probe(client, name: str, request: Callable[[], dict], fix: str) -> Check:
    """Run ``request`` (one server request; it returns what it measured, e.g. rows or bytes) under the
    profiler: the check holds its EECU-seconds and seconds."""
    try:
        with client.profiling() as profile:
            measured = request()
    except GeeCropError as exc:
        return Check(name, FAIL, str(exc), fix)
    measured = {**measured, "eecu_seconds": profile.eecu_seconds, "seconds": profile.seconds}
    eecu = "EECU-seconds unknown (no profile)" if profile.eecu_seconds is None else f"{profile.eecu_seconds:.3f} EECU-s"
    what = ", ".join(f"{v:,} {k}" for k, v in measured.items() if k in ("rows", "bytes", "pixels"))
    return Check(name, PASS, f"{what}; {eecu} in {profile.seconds:.2f} s", measured=measured)


def skipped(name: str, why: str) -> Check:
    return Check(name, SKIPPED, why)


def table(checks: list[Check]) -> list[str]:
    """The pass/fail table: one row per check, then the fix of each failure."""
    width = max(len(c.name) for c in checks)
    rows = [f"{c.name:<{width}}  {c.status:<7}  {c.detail}" for c in checks]
    fixes = [f"fix {c.name}: {c.fix}" for c in checks if c.status == FAIL and c.fix]
    verdict = "all checks passed" if all(c.ok for c in checks) else f"{sum(not c.ok for c in checks)} check(s) failed"
    return [*rows, *fixes, verdict]


def measured_rates(checks: list[Check], map_pixels: int) -> dict[str, float]:
    """The rates the dry runs read from the pilot file, from the probes that passed: the map request's
    seconds, bytes per second and EECU-seconds per pixel; the sampling request's seconds and EECU-seconds."""
    by_name = {c.name: c for c in checks if c.ok}
    rates: dict[str, float] = {}
    mapped = by_name.get("map request")
    if mapped is not None:
        seconds = float(mapped.measured["seconds"])
        rates["seconds_per_request"] = seconds
        rates["bytes_per_second"] = float(mapped.measured["bytes"]) / max(seconds, 1e-9)
        if mapped.measured.get("eecu_seconds") is not None:
            rates["eecu_seconds_per_pixel"] = float(mapped.measured["eecu_seconds"]) / map_pixels
    sampled = by_name.get("sampling request")
    if sampled is not None:
        rates["sampling_seconds_per_request"] = float(sampled.measured["seconds"])
        if sampled.measured.get("km2"):
            # a tiny request's fixed overhead makes this rate high: the interactive choice errs towards batch
            rates["sampling_seconds_per_km2"] = float(sampled.measured["seconds"]) / float(sampled.measured["km2"])
        if sampled.measured.get("eecu_seconds") is not None:
            rates["sampling_eecu_seconds_per_request"] = float(sampled.measured["eecu_seconds"])
    return rates
