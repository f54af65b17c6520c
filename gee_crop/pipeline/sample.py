"""The one library function behind `gee-crop sample`: local stacks, or Earth Engine jobs."""
from __future__ import annotations

from pathlib import Path

from gee_crop.config import SAMPLES_PER_CELL_DEFAULT
from gee_crop.errors import InputError, OutputExistsError


def sample(*, country: str | None, region: str | None, source: str | None, labels: str | None,
           year: int, per_cell: int | None, out: str, overwrite: bool, project: str | None = None,
           service_account_key: str | None = None, mode: str = "auto", export_to: str = "drive",
           bucket: str | None = None, exports_dir: str | None = None, cdl_accuracy: str | None = None,
           accuracy_filter: bool = True, wait: bool = True, **options) -> str:
    """Run the sampling the options describe; a one-paragraph summary for the terminal."""
    if source is not None:
        if country or region:
            raise InputError("--source samples local data; drop --country/--region, or drop --source "
                             "to sample on Earth Engine")
        from gee_crop.data.sampling import sample_from_files
        from gee_crop.data.table import write_table

        if Path(out).exists() and not overwrite:
            raise OutputExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
        series = sample_from_files(source, labels, buffer_m=options["buffer_m"], cell_deg=options["cell_deg"],
                                   spacing_m=options["spacing_m"], per_cell=per_cell or SAMPLES_PER_CELL_DEFAULT,
                                   region=Path(source).name, seed=options["seed"])
        write_table(series, out)
        return f"wrote {len(series)} samples from {source} to {out}"
    if labels is not None:
        raise InputError("--labels goes with --source (local stacks); Earth Engine jobs use the "
                         "registered reference labels of the country")
    from gee_crop.earthengine import client as ee_client
    from gee_crop.pipeline import sample_jobs as jobs
    from gee_crop.earthengine.labels import read_accuracy_table

    job = jobs.plan_job(country=country, region=region, year=year, per_cell=per_cell, project=project,
                        cloud_band=options["cloud_band"], threshold=options["threshold"],
                        buffer_m=options["buffer_m"], seed=options["seed"], tile_deg=options["tile_deg"],
                        tile_scale=options["tile_scale"], cell_deg=options["cell_deg"],
                        spacing_m=options["spacing_m"])
    if job.spec.accuracy_filter and accuracy_filter:
        job.accuracy = read_accuracy_table(job.year, cdl_accuracy)
    client = ee_client.get_client(project=project, service_account_key=service_account_key)
    result = jobs.run_sampling(client, job, out, mode=mode, export_to=export_to, bucket=bucket,
                               exports_dir=exports_dir, overwrite=overwrite, wait=wait)
    head = (f"{job.name} {job.year} ({job.hemisphere}, window {job.window[0]}..{job.window[1]}): "
            f"{result.tiles_done}/{result.n_tiles} tiles done in {result.mode} mode, "
            f"{result.requests} Earth Engine requests")
    if result.out is None:
        return f"{head}; {result.message}"
    return f"{head}; wrote {result.n_samples} samples to {result.out}"
