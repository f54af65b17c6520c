"""`gee-crop sample --pilot N` and `--dry-run`: the job of the same request as the full run
(:func:`gee_crop.pipeline.sample.plan`), measured on N tiles or described; the arithmetic is
:mod:`gee_crop.earthengine.pilot`'s."""

from __future__ import annotations

from gee_crop.data.sample_jobs import store_part
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.earthengine.pilot import dry_run_lines, pilot_file, run_pilot
from gee_crop.outputs import claim_output
from gee_crop.pipeline.sample import connect, out_table, plan

__all__ = ["dry_run", "pilot"]


def pilot(request: SamplingRequest) -> str:
    """`gee-crop sample --pilot N`: the estimate, printed; the job itself is not run."""
    assert request.run.pilot is not None  # only called for --pilot N
    planned = plan(request)
    # OUT.pilot/ is OUT's: the table's lock keeps a full run and a pilot of it apart
    with claim_output(out_table(planned.out), folder=False, resumes=True):
        result = run_pilot(
            connect(request, planned.job),
            planned.job,
            planned.out,
            request.run.pilot,
            store_part,
            target=request.tasks.target,
            overwrite=request.run.overwrite,
        )
    return "\n".join(
        [
            *result.lines(),
            f"numbers saved to {pilot_file(planned.out)}; run the same command without --pilot to sample the whole job",
        ]
    )


def dry_run(request: SamplingRequest) -> str:
    """`gee-crop sample --dry-run`: the job's tiles and tasks, priced at a pilot's rates when one ran;
    no server call, no credentials, nothing written."""
    planned = plan(request)
    return "\n".join(dry_run_lines(planned.job, planned.out, request.tasks.mode))
