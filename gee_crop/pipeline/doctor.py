"""`gee-crop doctor`: the first thing to run on a real account (the checks: :mod:`gee_crop.mapping.doctor`).

Credentials are looked up on disk first, so a machine without them is refused in one line before any
request. The table goes to the terminal, everything to ``OUT/doctor.json``. (Tests run the same checks
against the service double of :mod:`gee_crop.testing.doctor_double`, given as the connected client.)
"""

from __future__ import annotations

import os
from pathlib import Path

from gee_crop.atomic import write_json_atomic
from gee_crop.earthengine import doctor as checks
from gee_crop.mapping.doctor import DOCTOR_JSON, DoctorReport, DoctorRequest, run_checks
from gee_crop.outputs import claim_output
from gee_crop.pipeline.check_parity import check_parity

__all__ = ["DoctorRequest", "default_out", "doctor"]


def doctor(request: DoctorRequest) -> DoctorReport:
    """Connect, run the checks and write ``OUT/doctor.json``."""
    client, stored, project = checks.connect(request.project, request.service_account_key)
    with claim_output(request.out, folder=True, overwrite=request.overwrite, outputs=(DOCTOR_JSON,)):
        report = run_checks(client, stored, project, request, check_parity)
        write_json_atomic(request.out / DOCTOR_JSON, report.to_dict(), indent=2)
    return report


def default_out() -> Path:
    return Path(os.getcwd()) / "gee-crop-doctor"
