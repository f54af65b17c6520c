"""`gee-crop check-parity`: do the server's composites equal the ones training makes from raw series?
The comparison is :func:`gee_crop.data.parity.compare_composites`. It is how a user checks on the real
service what no offline test can: that the server behaves as the graphs assume.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import asdict

from gee_crop.atomic import write_json_atomic
from gee_crop.config import CLEAR_THRESHOLD, MAX_GAP_BINS
from gee_crop.data.parity import compare_composites
from gee_crop.features.parity import ParityReport
from gee_crop.outputs import claim_output

DEFAULT_POINTS = 100


def check_parity(
    client,
    region: str | os.PathLike,
    *,
    year: int,
    n_points: int = DEFAULT_POINTS,
    seed: int = 0,
    cloud_band: str = "cs",
    threshold: float = CLEAR_THRESHOLD,
    max_gap_bins: int = MAX_GAP_BINS,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> ParityReport:
    """Compare server and client composites at ``n_points`` random points of ``region``
    (:mod:`gee_crop.data.parity`); write the report to ``out`` when given (locked; an existing one is refused
    without ``overwrite``)."""
    with claim_output(out, folder=False, overwrite=overwrite) if out is not None else nullcontext():
        report = compare_composites(client, region, year, n_points, seed, cloud_band, threshold, max_gap_bins)
        if out is not None:
            write_json_atomic(out, {**asdict(report), "agree": report.agree}, indent=2)
        return report
