"""`gee-crop check-parity`: compare the server's composites with the client's at ~100 points of a
region (the first thing to run on the real service). Parses options, calls one pipeline function, prints."""

from __future__ import annotations

import click

from gee_crop.cli import options

#: The season year checked when --year is not given (the paper's year).
DEFAULT_YEAR = 2023


@click.command("check-parity")
@options.region("GeoJSON polygon (WGS84) to check.", required=True)
@options.year
@options.count("--points", "Random points of the region where the two composites are compared.", default=100)
@options.cloud_band
@options.cloud_threshold
@options.project
@options.service_account_key
@options.seed
@options.out_file("the report as JSON (optional; the summary is printed either way).", required=False, dest="out")
@options.overwrite
def command(
    region, year, points, cloud_band, cloud_threshold, project, service_account_key, seed, out, overwrite
) -> None:
    """Do Earth Engine's composites equal those training makes from the raw series?

    Samples --points random points of the region, asks Earth Engine for its 5-day median composite
    there and for the raw Sentinel-2 series there, composites the series as training does, and
    reports the differences and their likely causes (same-day duplicate granules, even counts).

    \b
    Example:
      gee-crop check-parity --region aoi.geojson --year 2023 --project my-proj
    """
    from gee_crop.earthengine import client as ee_client
    from gee_crop.pipeline.check_parity import check_parity

    client = ee_client.get_client(project, service_account_key=service_account_key)
    report = check_parity(
        client,
        region,
        year=DEFAULT_YEAR if year is None else year,
        n_points=points,
        seed=seed,
        cloud_band=cloud_band,
        threshold=cloud_threshold,
        out=out,
        overwrite=overwrite,
    )
    click.echo(report.summary())
