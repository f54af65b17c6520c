"""`gee-crop doctor`: the first thing to run on a real account (the checks: :mod:`gee_crop.mapping.doctor`).

Credentials are looked up on disk first, so a machine without them is refused in one line before any
request. ``--offline`` runs the same checks against the service double backed by the shipped patch
(:mod:`gee_crop.testing.doctor_double`): the one product path that uses gee_crop.testing, and only when asked.
The table goes to the terminal, everything to ``OUT/doctor.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

from gee_crop.atomic import write_json_atomic
from gee_crop.earthengine import doctor as checks
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.doctor import DOCTOR_JSON, DoctorReport, DoctorRequest, probe_season, run_checks
from gee_crop.outputs import claim_output
from gee_crop.pipeline.check_parity import check_parity
from gee_crop.testing.doctor_double import offline_double

__all__ = ["DoctorRequest", "default_out", "doctor"]


def doctor(request: DoctorRequest) -> DoctorReport:
    """Connect (the double when offline), run the checks and write ``OUT/doctor.json``."""
    client: object
    if request.offline:
        spec, stored, project = FeatureSpec(), None, request.project or "gee-crop-offline"
        client = offline_double(spec, probe_season(spec), project)
    else:
        client, stored, project = checks.connect(request.project, request.service_account_key)
    with claim_output(request.out, folder=True, overwrite=request.overwrite, outputs=(DOCTOR_JSON,)):
        report = run_checks(client, stored, project, request, check_parity)
        write_json_atomic(request.out / DOCTOR_JSON, report.to_dict(), indent=2)
    return report


def default_out() -> Path:
    return Path(os.getcwd()) / "gee-crop-doctor"
