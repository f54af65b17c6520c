"""``gee-crop assess design`` and ``gee-crop assess``: a stratified reference sample of a map, then
unbiased accuracy and area estimates with 95 % confidence intervals (Olofsson et al. 2014).

MAP is a local gee-crop COG, or an Earth Engine image asset (``projects/…/assets/…``, ``users/…``):
there, stratum areas come from ``ee.Image.pixelArea()`` summed per class on the server and the
design from ``stratifiedSample``, so the map never leaves Earth Engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gee_crop.assessment.design import (
    DEFAULT_MIN_PER_CLASS,
    DEFAULT_TARGET_SE,
    Allocation,
    SampleDesign,
    draw_points,
    points_per_stratum,
)
from gee_crop.assessment.estimators import StratifiedEstimates, stratified_estimates
from gee_crop.assessment.parcels import parcel_accuracy, parcel_area_estimates, parcel_summary, read_parcel_sample
from gee_crop.assessment.points import (
    check_drawn_on,
    check_no_labels,
    classes_at_points,
    design_rows,
    error_counts,
    labels_from_raster,
    read_class_map,
    read_points,
    write_points,
)
from gee_crop.assessment.report import write_assessment, write_parcel_assessment
from gee_crop.classes import CLASSES, Legend
from gee_crop.data.regions import read_region
from gee_crop.earthengine import assessment as ee_assessment
from gee_crop.earthengine.client import is_asset_id
from gee_crop.errors import InputError
from gee_crop.outputs import claim_output


@dataclass(frozen=True)
class DesignResult:
    """What ``assess design`` wrote: the points file, the points per stratum and how n was chosen."""

    path: Path
    classes: tuple[str, ...]
    stratum_weights: np.ndarray
    points_per_stratum: np.ndarray
    n_target: int


#: the files of an assessment folder: one of them there means an earlier assessment (--overwrite replaces it).
ASSESSMENT_FILES = ("assessment.json", "assessment.csv", "areas.png", "areas.svg", "assessment.html")


def design(map_ref: str, out: str | os.PathLike, *, overwrite: bool = False, **options: Any) -> DesignResult:
    """Draw a stratified random sample of the map's pixels and write it for labelling (``options``: those
    of :func:`_design`); ``out`` is locked (``gee_crop.outputs``) and refused if it exists without ``overwrite``."""
    with claim_output(out, folder=False, overwrite=overwrite):
        return _design(map_ref, Path(out), **options)


def _design(
    map_ref: str,
    out: Path,
    *,
    n: int | None = None,
    target_se: float = DEFAULT_TARGET_SE,
    expected_ua: str | float | None = None,
    allocation: str = Allocation.PROPORTIONAL,
    min_per_class: int = DEFAULT_MIN_PER_CLASS,
    seed: int = 0,
    client=None,
    region: str | os.PathLike | None = None,
    scale: float = 10.0,
    classes: tuple[str, ...] = CLASSES,
) -> DesignResult:
    sample = SampleDesign(n, target_se, expected_ua, allocation, min_per_class)
    if is_asset_id(map_ref):
        return _design_earthengine(
            map_ref, out, sample, seed, client=client, region=region, scale=scale, classes=classes
        )
    class_map = read_class_map(map_ref)
    pixels = class_map.stratum_pixels
    counts, total = points_per_stratum(pixels.astype(float), class_map.names, sample, available=pixels)
    rows, cols = draw_points(class_map.classes, counts, seed)
    path = write_points(design_rows(class_map, rows, cols), out, class_map.crs)
    return DesignResult(path, class_map.names, pixels / pixels.sum(), counts, total)


def _region_json(region: str | os.PathLike | None) -> dict | None:
    return None if region is None else read_region(Path(region)).__geo_interface__


def _map_on_earthengine(client, map_ref: str, region, scale: float):
    """The map image on Earth Engine (one image asset, or the image collection of an on-server map), the
    region assessed, and whether its reductions run as batch exports (more pixels than an interactive request)."""
    image, geometry = ee_assessment.map_and_region(
        map_ref, _region_json(region), collection=ee_assessment.is_map_collection(client, map_ref)
    )
    return (
        image,
        geometry,
        ee_assessment.use_batch(ee_assessment.region_pixels(client, map_ref, _region_json(region), scale)),
    )


def _design_earthengine(
    map_ref: str,
    out: Path,
    sample: SampleDesign,
    seed: int,
    *,
    client,
    region,
    scale: float,
    classes: tuple[str, ...],
) -> DesignResult:
    image, geometry, batch = _map_on_earthengine(client, map_ref, region, scale)
    areas = ee_assessment.stratum_areas_m2(client, image, geometry, scale, len(classes), batch=batch)
    available = np.ceil(areas / scale**2).astype(np.int64)
    counts, total = points_per_stratum(areas, classes, sample, available=available)
    values = [int(k) for k in np.flatnonzero(counts)]
    drawn = ee_assessment.stratified_design(image, geometry, values, [int(counts[k]) for k in values], scale, seed=seed)
    features = ee_assessment.exported_rows(client, drawn, "design") if batch else client.compute_features(drawn)
    points = ee_assessment.design_points(features, classes)
    path = write_points(points, out, "EPSG:4326")
    return DesignResult(path, classes, areas / areas.sum(), counts, total)


def assess(
    map_ref: str, out_dir: str | os.PathLike, *, overwrite: bool = False, **options: Any
) -> tuple[StratifiedEstimates, dict]:
    """Estimate accuracy and areas of the map from labelled reference points (``options``: those of
    :func:`_assess`) into ``out_dir``, locked; an earlier assessment there is refused without ``overwrite``."""
    with claim_output(out_dir, folder=True, overwrite=overwrite, outputs=ASSESSMENT_FILES):
        return _assess(map_ref, Path(out_dir), **options)


def _assess(
    map_ref: str,
    out_dir: Path,
    *,
    reference: str | os.PathLike,
    reference_raster: str | os.PathLike | None = None,
    client=None,
    region: str | os.PathLike | None = None,
    scale: float = 10.0,
    classes: tuple[str, ...] = CLASSES,
) -> tuple[StratifiedEstimates, dict]:
    """Estimate accuracy and areas of the map from labelled reference points; write the results."""
    points = read_points(reference)
    warnings: list[str] = []
    source = Path(reference).name
    if reference_raster is not None:
        check_no_labels(points, source)
    if is_asset_id(map_ref):
        if reference_raster is not None:
            raise InputError("--reference-raster works with a local map; on Earth Engine give labelled points")
        names, crs, pixel_area_ha = classes, "EPSG:4326", 1e-4  # stratum sizes in m²
        image, geometry, batch = _map_on_earthengine(client, map_ref, region, scale)
        sizes = ee_assessment.stratum_areas_m2(client, image, geometry, scale, len(classes), batch=batch)
        mapped = ee_assessment.map_classes_at_points(client, image, points, scale)
    else:
        class_map = read_class_map(map_ref)
        names, crs, pixel_area_ha, sizes = (
            class_map.names,
            class_map.crs,
            class_map.pixel_area_ha,
            class_map.stratum_pixels,
        )
        warnings += check_drawn_on(class_map, points, source)
        if reference_raster is not None:
            labelled = labels_from_raster(points, reference_raster, names, crs)
            if len(labelled) < len(points):
                warnings.append(
                    f"{len(points) - len(labelled)} of {len(points)} points fall on unlabelled cells of "
                    f"{Path(reference_raster).name} and were left out"
                )
            points = labelled
        mapped = classes_at_points(class_map, points, source=str(reference))
    counts, count_warnings = error_counts(names, mapped, points, sizes, source=str(reference))
    estimates = stratified_estimates(counts, sizes, pixel_area_ha, names)
    summary = {
        "map": str(map_ref),
        "reference": str(reference),
        "n_points": len(points),
        "pixel_area_ha": pixel_area_ha,
        "warnings": warnings + count_warnings,
        "method": "stratified estimators of Olofsson et al. (2014), strata = map classes, 95 % CI = ±1.96 SE",
        **estimates.to_dict(),
    }
    write_assessment(estimates, summary, out_dir)
    return estimates, summary


#: the files of a parcel-level assessment (beside those of the pixel-level one, in the same folder)
PARCEL_ASSESSMENT_FILES = ("parcel_assessment.json", "parcel_assessment.csv")


def assess_parcels(
    table: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    reference_field: str,
    map_ref: str | None = None,
    legend: str | os.PathLike | None = None,
    include_flagged: bool = False,
    overwrite: bool = False,
) -> dict:
    """Parcel-level accuracy (and Olofsson areas, when the table has polygons) of the parcel table of
    ``gee-crop map --parcels`` against its ``reference_field``, written into ``out_dir``; the class list is
    the local ``map_ref``'s (else the table's). Returns the summary."""
    with claim_output(out_dir, folder=True, overwrite=overwrite, outputs=PARCEL_ASSESSMENT_FILES):
        names = read_class_map(map_ref).names if map_ref and not is_asset_id(map_ref) else None
        user_legend = None if legend is None else Legend.read_user(legend, names)
        sample = read_parcel_sample(table, reference_field, names, user_legend)
        estimates, warnings = parcel_area_estimates(sample, include_flagged)
        summary = parcel_summary(
            parcel_accuracy(sample, include_flagged), estimates, warnings, str(table), reference_field
        )
        write_parcel_assessment(summary, out_dir)
        return summary
