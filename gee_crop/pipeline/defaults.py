"""Defaults that let the card's commands run as written: ``gee-crop sample --country FRA`` and
``gee-crop map --region aoi.geojson`` (the output name and the place; the season year comes from
:func:`gee_crop.features.seasons.default_season`)."""

from __future__ import annotations

import os
from pathlib import Path

from gee_crop.countries import country_spec


def sample_out_name(name: str, year: int) -> str:
    """``gee-crop sample``'s default --out: ``FRA_2025.parquet``, ``aoi_2025.parquet``."""
    return f"{name}_{year}.parquet"


def map_out_name(region: str | os.PathLike | None, source: str | os.PathLike | None) -> str:
    """``gee-crop map``'s default --out: ``aoi_map`` for aoi.geojson, ``<stack>_map`` for a local
    stack, else ``bbox_map``."""
    if region is not None:
        return f"{Path(region).stem}_map"
    if source is not None:
        return f"{Path(source).name.split('.')[0] or 'source'}_map"
    return "bbox_map"


def sampling_place(country: str | None, region: str | os.PathLike | None, geometry=None) -> tuple[str, float]:
    """``(name, latitude)`` of what ``gee-crop sample`` samples: the country code and the middle of its
    labelled extent, or the ``region`` file's stem and the latitude of the centroid of its
    ``geometry`` (read by the caller: a region file is read once per command)."""
    if country is not None:
        spec = country_spec(country)
        return spec.code, (spec.extent[1] + spec.extent[3]) / 2
    assert region is not None  # callers give a country or a region
    return Path(region).stem, geometry.centroid.y
