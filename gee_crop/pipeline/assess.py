"""``gee-crop assess design`` and ``gee-crop assess``: a stratified reference sample of a map, then
unbiased accuracy and area estimates with 95 % confidence intervals (Olofsson et al. 2014).

MAP is a local gee-crop COG, or an Earth Engine image asset (``projects/…/assets/…``, ``users/…``):
there, stratum areas come from ``ee.Image.pixelArea()`` summed per class on the server and the
design from ``stratifiedSample``, so the map never leaves Earth Engine.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from gee_crop.assessment.design import Allocation, allocate, draw_points, sample_size
from gee_crop.assessment.estimators import StratifiedEstimates, stratified_estimates
from gee_crop.assessment.points import (
    classes_at_points,
    design_rows,
    error_counts,
    read_class_map,
    read_points,
    write_points,
)
from gee_crop.assessment.report import write_assessment
from gee_crop.classes import CLASSES, NO_CLASS
from gee_crop.data.regions import read_region
from gee_crop.earthengine import assessment as ee_assessment
from gee_crop.errors import InputError, OutputExistsError

#: Earth Engine asset ids (https://developers.google.com/earth-engine/guides/manage_assets): cloud
#: project assets and legacy user assets.
ASSET_ID = re.compile(r"^(projects/[^/]+/assets/|users/)[\w\-./]+$")
DEFAULT_TARGET_SE = 0.01
DEFAULT_EXPECTED_UA = 0.8
DEFAULT_MIN_PER_CLASS = 50


def is_asset_id(map_ref: str) -> bool:
    """True when ``map_ref`` names an Earth Engine asset rather than a local file."""
    return not Path(map_ref).exists() and bool(ASSET_ID.match(map_ref))


@dataclass(frozen=True)
class DesignResult:
    """What ``assess design`` wrote: the points file, the points per stratum and how n was chosen."""

    path: Path
    classes: tuple[str, ...]
    stratum_weights: np.ndarray
    points_per_stratum: np.ndarray
    n_target: int


def expected_accuracies(value: str | float | None, classes: tuple[str, ...]) -> np.ndarray:
    """Anticipated user's accuracies: one number for every class, or ``corn=0.9,other=0.7`` overrides
    over the default 0.8."""
    ua = np.full(len(classes), DEFAULT_EXPECTED_UA)
    if value is None or value == "":
        return ua
    text = str(value)
    if "=" not in text:
        try:
            return np.full(len(classes), float(text))
        except ValueError:
            raise InputError(
                f"--expected-ua {text!r}: give a number (0.8) or class=value pairs (corn=0.9,other=0.7)"
            ) from None
    for item in text.split(","):
        name, _, number = item.partition("=")
        if name.strip() not in classes:
            raise InputError(
                f"--expected-ua names class {name.strip()!r}, not in the map's legend ({', '.join(classes)})"
            )
        try:
            ua[classes.index(name.strip())] = float(number)
        except ValueError:
            raise InputError(f"--expected-ua {item!r}: the value must be a number, e.g. corn=0.9") from None
    return ua


def _points_per_stratum(
    stratum_sizes: np.ndarray,
    classes: tuple[str, ...],
    *,
    n: int | None,
    target_se: float,
    expected_ua: str | float | None,
    allocation: str,
    min_per_class: int,
    available: np.ndarray,
) -> tuple[np.ndarray, int]:
    weights = stratum_sizes / stratum_sizes.sum()
    ua = expected_accuracies(expected_ua, classes)
    total = int(n) if n is not None else sample_size(weights, ua, target_se)
    counts = allocate(total, available, allocation, expected_ua=ua, min_per_class=min_per_class)
    return counts, total


def _check_out(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; give another --out or --overwrite to replace it")


def design(
    map_ref: str,
    out: str | os.PathLike,
    *,
    n: int | None = None,
    target_se: float = DEFAULT_TARGET_SE,
    expected_ua: str | float | None = None,
    allocation: str = Allocation.PROPORTIONAL,
    min_per_class: int = DEFAULT_MIN_PER_CLASS,
    seed: int = 0,
    overwrite: bool = False,
    client=None,
    region: str | os.PathLike | None = None,
    scale: float = 10.0,
    classes: tuple[str, ...] = CLASSES,
) -> DesignResult:
    """Draw a stratified random sample of the map's pixels and write it for labelling."""
    out = Path(out)
    _check_out(out, overwrite)
    if is_asset_id(map_ref):
        return _design_earthengine(
            map_ref,
            out,
            client=client,
            region=region,
            scale=scale,
            classes=classes,
            n=n,
            target_se=target_se,
            expected_ua=expected_ua,
            allocation=allocation,
            min_per_class=min_per_class,
            seed=seed,
        )
    class_map = read_class_map(map_ref)
    pixels = class_map.stratum_pixels
    counts, total = _points_per_stratum(
        pixels.astype(float),
        class_map.names,
        n=n,
        target_se=target_se,
        expected_ua=expected_ua,
        allocation=allocation,
        min_per_class=min_per_class,
        available=pixels,
    )
    rows, cols = draw_points(class_map.classes, counts, seed)
    path = write_points(design_rows(class_map, rows, cols), out, class_map.crs)
    return DesignResult(path, class_map.names, pixels / pixels.sum(), counts, total)


def _image(map_ref: str):
    import ee  # the Earth Engine path only; the local path never imports ee

    return ee.Image(map_ref)


def _region_geometry(region: str | os.PathLike | None, image):
    import ee

    if region is None:
        return image.geometry()
    return ee.Geometry(read_region(Path(region)).__geo_interface__)


def _areas_m2(client, image, geometry, scale: float, k: int) -> np.ndarray:
    groups = client.get_info(ee_assessment.stratum_areas(image, geometry, scale)).get("groups", [])
    areas = np.zeros(k)
    for group in groups:
        index = int(group[ee_assessment.AREA_GROUP])
        if 0 <= index < k:
            areas[index] = float(group["sum"])
    if areas.sum() <= 0:
        raise InputError(
            "the map has no classified pixel in the region; check the asset id, its class band and the region"
        )
    return areas


def _design_earthengine(
    map_ref: str,
    out: Path,
    *,
    client,
    region,
    scale: float,
    classes: tuple[str, ...],
    n,
    target_se,
    expected_ua,
    allocation,
    min_per_class,
    seed,
) -> DesignResult:
    image = _image(map_ref)
    geometry = _region_geometry(region, image)
    areas = _areas_m2(client, image, geometry, scale, len(classes))
    available = np.ceil(areas / scale**2).astype(np.int64)
    counts, total = _points_per_stratum(
        areas,
        classes,
        n=n,
        target_se=target_se,
        expected_ua=expected_ua,
        allocation=allocation,
        min_per_class=min_per_class,
        available=available,
    )
    values = [int(k) for k in np.flatnonzero(counts)]
    features = client.compute_features(
        ee_assessment.stratified_design(image, geometry, values, [int(counts[k]) for k in values], scale, seed=seed)
    )
    points = []
    for i, feature in enumerate(features, start=1):
        lon, lat = feature["geometry"]["coordinates"]
        name = classes[int(feature["properties"][ee_assessment.CLASS_BAND])]
        points.append(
            {
                "point_id": i,
                "x": lon,
                "y": lat,
                "lon": lon,
                "lat": lat,
                "stratum": name,
                "map_class": name,
                "reference": "",
            }
        )
    path = write_points(points, out, "EPSG:4326")
    return DesignResult(path, classes, areas / areas.sum(), counts, total)


def _labels_from_raster(points: list[dict], raster: str | os.PathLike, names: tuple[str, ...], crs: str) -> list[dict]:
    """Points whose ``reference`` is read from a label raster of class indices into ``names``
    (NO_CLASS = unlabelled); points on unlabelled cells are dropped."""
    path = Path(raster)
    if not path.is_file():
        raise InputError(f"reference raster {path} does not exist")
    with rasterio.open(path) as src:
        if src.crs is None or rasterio.crs.CRS.from_user_input(crs) != src.crs:
            raise InputError(f"reference raster {path} must be in the map's CRS ({crs}); reproject it first")
        xy = [(float(p["x"]), float(p["y"])) for p in points]
        values = np.array([v[0] for v in src.sample(xy)], dtype=np.int64)
    kept = []
    for point, value in zip(points, values):
        if value != NO_CLASS and 0 <= value < len(names):
            kept.append({**point, "reference": names[value]})
    return kept


def assess(
    map_ref: str,
    out_dir: str | os.PathLike,
    *,
    reference: str | os.PathLike,
    reference_raster: str | os.PathLike | None = None,
    overwrite: bool = False,
    client=None,
    region: str | os.PathLike | None = None,
    scale: float = 10.0,
    classes: tuple[str, ...] = CLASSES,
) -> tuple[StratifiedEstimates, dict]:
    """Estimate accuracy and areas of the map from labelled reference points; write the results."""
    out_dir = Path(out_dir)
    _check_out(out_dir / "assessment.json", overwrite)
    points = read_points(reference)
    warnings: list[str] = []
    if is_asset_id(map_ref):
        names, crs, pixel_area_ha = classes, "EPSG:4326", 1e-4  # stratum sizes in m²
        image = _image(map_ref)
        sizes = _areas_m2(client, image, _region_geometry(region, image), scale, len(classes))
        if reference_raster is not None:
            raise InputError("--reference-raster works with a local map; on Earth Engine give labelled points")
        mapped = _classes_at_points_earthengine(client, image, points, scale)
    else:
        class_map = read_class_map(map_ref)
        names, crs, pixel_area_ha, sizes = (
            class_map.names,
            class_map.crs,
            class_map.pixel_area_ha,
            class_map.stratum_pixels,
        )
        if reference_raster is not None:
            labelled = _labels_from_raster(points, reference_raster, names, crs)
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


def _classes_at_points_earthengine(client, image, points: list[dict], scale: float) -> np.ndarray:
    """The map class under each point, read on the server; NO_CLASS where the map is masked."""
    features = client.compute_features(ee_assessment.map_classes_at(image, points, scale))
    by_id = {
        str(f["properties"][ee_assessment.POINT_ID]): int(f["properties"][ee_assessment.CLASS_BAND]) for f in features
    }
    return np.array([by_id.get(str(p["point_id"]), NO_CLASS) for p in points], dtype=np.int64)
