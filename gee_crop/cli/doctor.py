"""``gee-crop doctor``: check an Earth Engine account end to end before a real run (pass/fail table)."""

from __future__ import annotations

from pathlib import Path

import click

from gee_crop.cli import options


@click.command("doctor")
@options.out_dir("doctor.json (every check, what it measured, the fixes).", required=False)
@options.project
@options.service_account_key
@options.count("--points", "Points of the parity check.", default=20)
@options.overwrite
def command(out_dir, project, service_account_key, points, overwrite) -> None:
    """Check your Earth Engine setup, in the order a first run meets it.

    Credentials and project, the Service Usage Consumer role, a folder created and deleted under the asset
    root, one tiny sampling request and one 64 x 64 map request (each profiled: EECU and seconds), and
    check-parity on 20 points. Prints a pass/fail table with the fix for each failure, writes
    OUT/doctor.json, and saves the measured rates for `map --dry-run` and `sample --dry-run`.

    \b
    Example:
      gee-crop doctor --project my-proj
    """
    from gee_crop.pipeline.doctor import DoctorRequest, default_out, doctor

    request = DoctorRequest(
        out=Path(out_dir) if out_dir else default_out(),
        project=project,
        service_account_key=Path(service_account_key) if service_account_key else None,
        points=points,
        overwrite=overwrite,
    )
    report = doctor(request)
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)
