"""The domain guard: does a target (samples, a region) lie where a model has been trained?

A model's :class:`TrainingFootprint` is where its training samples lay: their Köppen-Geiger climate zones
(:mod:`gee_crop.models.climate`) with sample counts, and their lon/lat extent. :func:`guard` compares a
target's points with it and says, in one line, whether the model can be trusted there. It fires when at
least ``FIRE_SHARE`` of the target's points lie in climate zones the model never trained in (or holds
fewer than ``RARE_SHARE`` of its samples in), or farther than ``EXTENT_MARGIN_DEG`` from its training
extent. Thresholds and their validation on real locations: docs/transfer.md ("When gee-crop says a model
should not be trusted"). Pure functions: the layer is read by the caller's first lookup, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from gee_crop.models.climate import OCEAN, ClimateLayer, climate_layer, zone_name

#: the model-file metadata entry holding a model's footprint (TrainingFootprint.to_dict).
FOOTPRINT_KEY = "training_footprint"
#: a zone holding fewer than this share of the training samples counts as never trained in.
RARE_SHARE = 0.02
#: the guard fires when at least this share of the target lies in unseen zones (or beyond the extent).
FIRE_SHARE = 0.20
#: degrees (lon and lat) around the training samples' box that still count as the training area.
EXTENT_MARGIN_DEG = 5.0
#: at most this many points of a region's polygon are looked up (a regular grid).
REGION_POINTS = 400


@dataclass(frozen=True)
class TrainingFootprint:
    """Where a model's training samples lay."""

    zone_counts: dict[str, int]
    """Climate zone code -> training samples in it (samples in ocean cells are left out)."""
    bbox: tuple[float, float, float, float]
    """lon_min, lat_min, lon_max, lat_max of the samples (degrees, WGS84)."""
    n_samples: int
    """Samples the footprint was made from."""

    def share(self, zone: str) -> float:
        """Share of the located training samples in ``zone``."""
        total = sum(self.zone_counts.values())
        return self.zone_counts.get(zone, 0) / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"zone_counts": dict(self.zone_counts), "bbox": list(self.bbox), "n_samples": self.n_samples}

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> TrainingFootprint:
        lon_min, lat_min, lon_max, lat_max = (float(v) for v in entry["bbox"])
        counts = {str(k): int(v) for k, v in dict(entry["zone_counts"]).items()}
        return cls(counts, (lon_min, lat_min, lon_max, lat_max), int(entry["n_samples"]))

    def describe(self) -> str:
        """``Cfb 42 %, Csa 37 %``: the zones, commonest first."""
        return ", ".join(f"{z} {100 * self.share(z):.0f} %" for z in sorted(self.zone_counts, key=self.share)[::-1])


def footprint_of(lon: np.ndarray, lat: np.ndarray, layer: ClimateLayer | None = None) -> TrainingFootprint | None:
    """The footprint of training samples at ``lon``/``lat`` (degrees, (n,); NaN: unknown), None when no
    sample has a location; ``layer``: the shipped one."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    located = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[located], lat[located]
    if not len(lon):
        return None
    zones, counts = np.unique((layer or climate_layer()).zones(lon, lat), return_counts=True)
    zone_counts = {str(z): int(k) for z, k in zip(zones, counts) if z != OCEAN}
    bbox = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    return TrainingFootprint(zone_counts, bbox, len(lon))


def stored_footprint(meta: Mapping[str, Any]) -> TrainingFootprint | None:
    """The footprint a model file's metadata records, else None (older files, or a damaged entry)."""
    entry = meta.get(FOOTPRINT_KEY)
    if not isinstance(entry, Mapping):
        return None
    try:
        return TrainingFootprint.from_dict(entry)
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class DomainReport:
    """What the guard found for one target: the shares it judged by and one line to print."""

    model_name: str
    judged: bool
    """False when the model records no footprint (nothing else is filled in then)."""
    fires: bool = False
    n_points: int = 0
    target_zones: dict[str, float] = field(default_factory=dict)
    """Target zone -> share of the target's located points (ocean cells left out), commonest first."""
    unseen_zones: tuple[str, ...] = ()
    """Target zones absent or rare (< RARE_SHARE) in the footprint, commonest first."""
    unseen_share: float | None = None
    """Share of the target's located points in ``unseen_zones``."""
    outside_share: float | None = None
    """Share of the target's points farther than EXTENT_MARGIN_DEG from the training extent."""
    message: str = ""
    """One line: the warning when it fires, else what it checked."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "judged": self.judged,
            "fires": self.fires,
            "n_points": self.n_points,
            "target_zones": dict(self.target_zones),
            "unseen_zones": list(self.unseen_zones),
            "unseen_share": self.unseen_share,
            "outside_share": self.outside_share,
            "message": self.message,
            "thresholds": {"fire_share": FIRE_SHARE, "rare_share": RARE_SHARE, "extent_margin_deg": EXTENT_MARGIN_DEG},
        }

    @property
    def line(self) -> str:
        """The line to print: ``warning: ...`` when the guard fires, else what it checked."""
        return f"warning: {self.message}" if self.fires else self.message


def _what_to_do(model_name: str) -> str:
    return (
        f"fine-tune it on local labels (`gee-crop train TABLE --init-from {model_name}`) or train your own "
        "(`gee-crop train TABLE --arch auto`), and check its accuracy with `gee-crop evaluate`"
    )


def guard(
    footprint: TrainingFootprint | None,
    lon: np.ndarray,
    lat: np.ndarray,
    model_name: str,
    *,
    what: str = "these samples",
    layer: ClimateLayer | None = None,
) -> DomainReport:
    """Judge the target points ``lon``/``lat`` (degrees, (n,)) against ``footprint`` (None: the model
    records none, so the report says it cannot judge). ``what`` names the target in the message."""
    if footprint is None:
        return DomainReport(
            model_name,
            judged=False,
            message=f"domain guard: {model_name} records no training footprint (trained before gee-crop stored "
            "one), so whether its climate zones fit cannot be judged; retrain it to record one",
        )
    lon, lat = np.asarray(lon, dtype=np.float64).ravel(), np.asarray(lat, dtype=np.float64).ravel()
    located = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[located], lat[located]
    zones = (layer or climate_layer()).zones(lon, lat)
    on_land = zones[zones != OCEAN]
    names, counts = np.unique(on_land, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    target = {str(names[i]): float(counts[i] / len(on_land)) for i in order}
    unseen = tuple(z for z in target if footprint.share(z) < RARE_SHARE)
    unseen_share = float(sum(target[z] for z in unseen)) if len(on_land) else None
    x0, y0, x1, y1 = footprint.bbox
    margin = EXTENT_MARGIN_DEG
    beyond = (lon < x0 - margin) | (lon > x1 + margin) | (lat < y0 - margin) | (lat > y1 + margin)
    outside_share = float(beyond.mean()) if len(lon) else None
    unseen_pct, outside_pct = 100 * (unseen_share or 0.0), 100 * (outside_share or 0.0)
    climate_fires = unseen_share is not None and unseen_share >= FIRE_SHARE
    extent_fires = outside_share is not None and outside_share >= FIRE_SHARE
    if climate_fires:
        listed = ", ".join(zone_name(z) for z in unseen)
        extent = f" and {outside_pct:.0f} % lie outside its training area" if extent_fires else ""
        message = (
            f"{model_name} never trained in {listed}, where {unseen_pct:.0f} % of {what} lie{extent} "
            f"(it trained in {footprint.describe()}); {_what_to_do(model_name)}"
        )
    elif extent_fires:
        message = (
            f"{outside_pct:.0f} % of {what} lie more than {margin:g} degrees outside {model_name}'s training "
            f"area (lon/lat {[round(v, 2) for v in footprint.bbox]}); "
            f"{_what_to_do(model_name)}"
        )
    elif not len(lon):
        message = (
            f"domain guard: {what} carry no lon/lat, so whether {model_name} trained in their climate is not judged"
        )
    elif unseen_share is None:
        message = f"domain guard: {what} lie in no land climate zone (ocean cells), so {model_name}'s fit is not judged"
    else:
        seen = ", ".join(f"{z} {100 * s:.0f} %" for z, s in target.items())
        message = f"domain guard: {what} lie in climate zones {model_name} trained in ({seen})"
    return DomainReport(
        model_name,
        judged=True,
        fires=climate_fires or extent_fires,
        n_points=len(lon),
        target_zones=target,
        unseen_zones=unseen,
        unseen_share=unseen_share,
        outside_share=outside_share,
        message=message,
    )


def region_points(region: shapely.Geometry, n: int = REGION_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """About ``n`` points of a regular grid inside ``region`` (WGS84), as (lon, lat); its representative
    point when the grid misses a small or thin polygon."""
    x0, y0, x1, y1 = region.bounds
    side = max(int(np.sqrt(n)), 1)
    xs, ys = np.meshgrid(np.linspace(x0, x1, side + 2)[1:-1], np.linspace(y0, y1, side + 2)[1:-1])
    inside = shapely.contains_xy(region, xs.ravel(), ys.ravel())
    if not inside.any():
        point = region.representative_point()
        return np.array([point.x]), np.array([point.y])
    return xs.ravel()[inside], ys.ravel()[inside]
