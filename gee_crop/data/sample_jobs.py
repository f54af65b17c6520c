"""A sampling request made into its job and its table, on the client: every input read and checked
before any request (:func:`plan_job`), the rows of each finished tile stored as a part
(:func:`store_part`), the parts assembled into the sample table (:func:`assemble`); and the two tables
that need no Earth Engine: a local stack's (:func:`local_table`) and exported CSVs' (:func:`exports_table`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from gee_crop.atomic import atomic_write
from gee_crop.classes import CLASSES, Legend, user_legend
from gee_crop.config import SAMPLES_PER_CELL_DEFAULT, Hemisphere, acquisition_window
from gee_crop.countries import country_of, country_region, country_spec, read_accuracy_table
from gee_crop.data import ee_rows
from gee_crop.data.emit_table import table_from_rows, write_emit_table
from gee_crop.data.regions import lonlat_extent
from gee_crop.data.sample_request import SamplingRequest
from gee_crop.data.sampling import check_inward_buffer, sample_from_files
from gee_crop.data.table import read_table, write_table
from gee_crop.data.vectors import VECTOR_SUFFIXES, class_counts, is_vector_file, read_label_features
from gee_crop.earthengine.client import is_asset_id
from gee_crop.earthengine.collections import check_cloud_band, check_threshold
from gee_crop.earthengine.emit import check_observed, season_months
from gee_crop.earthengine.labels import check_inline_size
from gee_crop.earthengine.sampling import OwnLabels, SamplingJob, read_export_csv
from gee_crop.errors import InputError, RegionError, SeasonError
from gee_crop.features.seasons import with_season_year, with_season_years
from gee_crop.ledger import RunLedger
from gee_crop.season import Season
from gee_crop.types import SampleSeries, concat

S2_SR_FIRST_DATE = dt.date(2017, 3, 28)  # first image of COPERNICUS/S2_SR_HARMONIZED
#: A class of a user's own legend needs at least this many samples: fewer cannot train nor score it.
MIN_CLASS_SAMPLES = 10
#: File names of the CSVs of a sampling export: gee-crop's tasks and ee_scripts/sample.js alike.
EXPORT_CSV = re.compile(r"^gee-crop_(?P<name>.+)_(?P<year>\d{4})_tile(?P<tile>\d{4})")


# ------------------------------------------------------------------ the plan


def plan_job(request: SamplingRequest, year: int | None, region=None) -> SamplingJob:
    """The SamplingJob of ``request`` for season ``year``; ``region`` is the geometry of
    ``request.region``, read once by the caller (None: no region). Validates every input (labels
    read, legend mapped, season and year checked) and sends nothing."""
    labelling = request.labelling
    legend = user_legend(labelling.legend, labelling.classes)
    season = request.season.override()
    if labelling.labels is None and request.country is None and region is None:
        raise InputError(
            "say where to sample: --country ISO3 (e.g. FRA), --region AOI.geojson, or --source STACK for local data"
        )
    if year is None:
        raise InputError("--labels without --region needs --year YEAR (or give --region AOI.geojson)")
    spec, own = None, None
    if labelling.labels is not None:
        name, geometry, own = _own_labels_place(request, region, legend)
    elif request.country is not None:
        spec = country_spec(request.country)
        outline = country_region(spec.code)
        geometry = outline if region is None else outline.intersection(region)
        if geometry.is_empty:
            raise RegionError(
                f"the region does not overlap {spec.code}'s labelled area {spec.extent}; "
                "give a region inside the country"
            )
        name = spec.code
    else:
        spec, geometry, name = country_of(region), region, Path(str(request.region)).stem
    rules = request.rules.sampling_rules(spec.per_cell if spec is not None else SAMPLES_PER_CELL_DEFAULT)
    job = SamplingJob(
        name=name,
        spec=spec,
        geometry=geometry,
        year=int(year),
        per_cell=int(rules.per_cell),
        cloud_band=request.rules.cloud_band.value,
        cloud_threshold=request.rules.cloud_threshold,
        buffer_m=rules.buffer_m,
        cell_deg=rules.cell_deg,
        spacing_m=rules.spacing_m,
        seed=rules.seed,
        tile_deg=request.tasks.tile_deg,
        tile_scale=request.tasks.tile_scale,
        project=request.connection.project,
        from_country=request.country is not None and region is None,
        own_labels=own,
        season=season,
        medians=request.rules.medians_sensor,
    )
    _check_job(job, request.rules.per_cell)
    if job.spec is not None and job.spec.accuracy_filter and not labelling.no_accuracy_filter:
        job.accuracy = read_accuracy_table(job.year, labelling.cdl_accuracy)
    return job


def _own_labels_place(request: SamplingRequest, region, legend: Legend | None) -> tuple[str, Any, OwnLabels]:
    """(name, area, labels) of a ``--labels`` job on Earth Engine: the user's region (or the labels'
    extent) anywhere."""
    if request.country is not None:
        raise InputError("--labels brings your own labels: give --region AOI.geojson instead of --country")
    labels = str(request.labelling.labels)
    own = own_labels(labels, request.labelling.label_field, legend, region)
    if region is not None:
        return Path(str(request.region)).stem, region, own
    if own.asset is not None:
        raise InputError(f"--labels {labels} is a table asset: give --region AOI.geojson (where to sample)")
    assert own.geometries is not None, "labels read from a file have geometries (an asset has none)"
    return Path(labels).stem, lonlat_extent(own.geometries, margin_deg=0.001), own


def _check_job(job: SamplingJob, per_cell: int | None) -> None:
    if per_cell is not None and per_cell < 1:
        raise InputError(f"--per-cell {per_cell} must be at least 1 (METHOD.md: 1 in USA, 5 elsewhere)")
    check_cloud_band(job.cloud_band)
    check_threshold(job.cloud_threshold)
    check_inward_buffer(job.buffer_m)
    ratio = job.tile_deg / job.cell_deg
    if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
        raise InputError(
            f"tile size {job.tile_deg} deg must be a multiple of the {job.cell_deg} deg "
            "cell so that no cell is split between tiles"
        )
    check_year(job.year, job.hemisphere, window=job.window if job.season is not None else None)
    if job.medians is not None:
        check_observed(job.medians, job.year, season_months(job.hemisphere))


def check_year(
    year: int, hemisphere: Hemisphere, today: dt.date | None = None, window: tuple[dt.date, dt.date] | None = None
) -> None:
    """SeasonError when Sentinel-2 SR has no data for the year's acquisition window (``window``: a
    user's own season)."""
    start, end = window or acquisition_window(year, hemisphere)
    today = today or dt.date.today()
    if end <= S2_SR_FIRST_DATE:
        raise SeasonError(
            f"--year {year} has no Sentinel-2 L2A data on Earth Engine ({hemisphere} window "
            f"{start}..{end}, data start {S2_SR_FIRST_DATE}); use --year "
            f"{2018 if hemisphere == 'south' else 2017} or later (the paper uses 2023)"
        )
    if start >= today:
        raise SeasonError(f"--year {year} is in the future (window starts {start}); use a past year, e.g. --year 2023")


def own_labels(labels: str, label_field: str | None, legend: Legend | None, region_geometry=None) -> OwnLabels:
    """A user's labels for an Earth Engine job: a vector file (read, mapped, checked against the region
    and the request size) or a table asset id. InputError naming the fix for each bad input."""
    if not label_field:
        raise InputError(f"--labels {labels} needs --label-field NAME: the field that holds each feature's label")
    if legend is None:
        raise InputError(
            "own labels need a legend: --legend legend.csv (label value -> class name or 'exclude') "
            "or --classes a,b,c,other (label values that are class names)"
        )
    if is_asset_id(labels):
        return OwnLabels(str(labels), legend, label_field, asset=str(labels))
    if not is_vector_file(labels):
        raise InputError(
            f"--labels {labels} is neither a vector file ({', '.join(VECTOR_SUFFIXES)}) nor an Earth Engine "
            "table asset id (projects/PROJECT/assets/NAME)"
        )
    features = read_label_features(labels, label_field, legend, region=region_geometry)
    own = OwnLabels(str(labels), legend, label_field, features.geometries, features.classes)
    check_inline_size(own.geojson(), str(labels))
    check_point_classes(features)
    return own


def check_point_classes(features) -> None:
    """InputError when a class of labelled points only has fewer than MIN_CLASS_SAMPLES points: each
    point is one sample, so the class could never reach the minimum (caught before any request)."""
    points = features.subset(features.is_point)
    polygon_classes = set(features.classes[~features.is_point].tolist())
    few = {
        c: n
        for c, n in class_counts(points).items()
        if n < MIN_CLASS_SAMPLES and features.legend.classes.index(c) not in polygon_classes
    }
    if few:
        listed = ", ".join(f"{c} ({n})" for c, n in few.items())
        raise InputError(
            f"{features.source}: class(es) {listed} have fewer than {MIN_CLASS_SAMPLES} labelled points; "
            "label more, or map them to another class (or 'exclude') in the legend"
        )


def check_class_sizes(series: SampleSeries, source: str) -> None:
    """InputError when a class of a user's own class list got fewer than MIN_CLASS_SAMPLES samples (such
    a class can neither be trained nor scored); nothing is written."""
    if series.classes == CLASSES:
        return
    counts = {c: int((series.crop_class == c).sum()) for c in series.classes}
    few = {c: n for c, n in counts.items() if n < MIN_CLASS_SAMPLES}
    if few:
        listed = ", ".join(f"{c} ({n})" for c, n in few.items())
        raise InputError(
            f"{source}: class(es) {listed} got fewer than {MIN_CLASS_SAMPLES} samples; merge them into "
            "another class (or 'exclude') in the legend, label more fields, or raise --per-cell / "
            "lower --spacing-m and --buffer-m"
        )


# ------------------------------------------------------------------ the table


def store_part(job: SamplingJob, ledger: RunLedger, unit: str, rows: pd.DataFrame) -> None:
    """The rows of tile ``unit`` as its part ``tile_XXXX.parquet`` in the ledger's folder (none for no
    samples), and the unit finished (``earthengine.tasks.StoreRows``)."""
    series = ee_rows.rows_to_series(rows, region=job.name, cloud_band=job.cloud_band, classes=job.classes)
    if not len(series):
        ledger.finish(unit, samples=0)
        return
    path = write_table(series, ledger.folder / f"tile_{int(unit):04d}.parquet")
    ledger.finish(unit, path, samples=len(series))


def assemble(
    ledger: RunLedger, units: list[str], out: Path, season: Season | None = None, year: int | None = None
) -> int:
    """Concatenate the finished parts into the sample table at ``out`` (with the job's own ``season``,
    and ``year`` as every sample's ``season_year``); the number of samples."""
    parts = [read_table(path) for path in map(ledger.output_path, units) if path is not None]
    if not parts or sum(len(p) for p in parts) == 0:
        raise SeasonError(
            "Earth Engine returned no samples: no labelled pixel with a cloud-free acquisition in the "
            "region and year; check --year (labels and Sentinel-2 must both exist) and the region"
        )
    table = concat(parts)
    table.season = season
    with_season_year(table, year)
    check_class_sizes(table, f"the samples of {out}")
    write_table(table, out)
    return len(table)


def store_emit_part(job: SamplingJob, ledger: RunLedger, unit: str, rows: pd.DataFrame) -> None:
    """The monthly-median rows of tile ``unit`` (``sample --emit`` / ``--medians``) as its part
    ``tile_XXXX.parquet`` (none for no row), and the unit finished (``earthengine.tasks.StoreRows``)."""
    if not len(rows):
        ledger.finish(unit, samples=0)
        return
    path = ledger.folder / f"tile_{int(unit):04d}.parquet"
    atomic_write(path, lambda tmp: rows.to_parquet(tmp, index=False))
    ledger.finish(unit, path, samples=len(rows))


def assemble_emit(ledger: RunLedger, units: list[str], out: Path, job: SamplingJob) -> int:
    """Concatenate the finished monthly-median parts of the job's medians sensor into its table at ``out``
    (``data.emit_table``'s format); the number of samples (0: no sample was clear in every month, and nothing
    is written)."""
    assert job.medians is not None, "a job with monthly medians"
    parts = [pd.read_parquet(path) for path in map(ledger.output_path, units) if path is not None]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if not len(frame):
        return 0
    write_emit_table(table_from_rows(frame, season_months(job.hemisphere), job.classes, job.medians), out)
    return len(frame)


def local_table(request: SamplingRequest) -> SampleSeries:
    """The sample table of ``request.source``, a local stack (its own labels, or the request's ``labels``),
    with the request's legend and season; checked, not written."""
    assert request.source is not None, "local_table samples a local stack: request.source is set"
    labelling = request.labelling
    legend = user_legend(labelling.legend, labelling.classes)
    season = request.season.override()
    if request.country or request.region:
        raise InputError(
            "--source samples local data; drop --country/--region, or drop --source to sample on Earth Engine"
        )
    series = sample_from_files(
        request.source,
        labelling.labels,
        request.rules.sampling_rules(SAMPLES_PER_CELL_DEFAULT),
        region=Path(request.source).name,
        legend=legend,
        label_field=labelling.label_field,
    )
    if season is not None:  # each sample's season year, inferred again in the table's own season
        series.season, series.season_year = season, None
        with_season_years(series)
    check_class_sizes(series, f"the samples of {request.source}")
    return series


def exports_table(folder: str | os.PathLike, cloud_band: str = "cs") -> tuple[SampleSeries, int]:
    """The sample table of CSVs already exported (e.g. by ``ee_scripts/sample.js`` in the Code
    Editor) into ``folder``, and how many files it read. The region name of the samples is the
    ``name`` part of the files' ``gee-crop_<name>_<year>_tileNNNN`` prefix, their season year the
    ``year`` part."""
    found = {p: m for p in sorted(Path(folder).glob("*.csv")) if (m := EXPORT_CSV.match(p.name)) is not None}
    if not found:
        raise InputError(
            f"{folder} holds no exported sample CSV (gee-crop_<name>_<year>_tileNNNN*.csv); "
            "download the files the Code Editor script exported to Drive into it"
        )
    by_name: dict[str, list[Path]] = {}
    for path, match in found.items():
        by_name.setdefault(match["name"], []).append(path)
    parts = []
    for name, paths in sorted(by_name.items()):
        part = ee_rows.rows_to_series(read_export_csv(paths), region=name, cloud_band=cloud_band)
        years = {int(found[p]["year"]) for p in paths}
        if len(years) == 1:  # the export's --year, in its file names (one per name), else inferred
            with_season_year(part, years.pop())
        else:
            with_season_years(part)
        parts.append(part)
    return concat(parts), len(found)
