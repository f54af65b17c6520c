"""Defaults that let the card's commands run as written: ``gee-crop sample --country FRA`` and
``gee-crop map --region aoi.geojson`` (the season year and the output name)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from gee_crop.config import Hemisphere, hemisphere_of
from gee_crop.countries import country_spec
from gee_crop.season import Season

#: A season counts as complete this long after its last 5-day window closes: Sentinel-2 L2A scenes
#: reach Earth Engine within days, the margin leaves room for late scenes and reprocessing.
COMPLETE_AFTER_DAYS = 30


def latest_complete_season(hemisphere: Hemisphere, today: dt.date | None = None) -> int:
    """The most recent season year of ``hemisphere`` whose last window closed COMPLETE_AFTER_DAYS ago
    (north: May-Nov of the year; south: from Nov of the year before)."""
    today = today or dt.date.today()
    year = today.year + 1
    while Season().span(year, hemisphere).covered_end + dt.timedelta(days=COMPLETE_AFTER_DAYS) > today:
        year -= 1
    return year


def season_note(year: int, latitude: float, given: bool) -> str:
    """How the season was chosen, for a command's first output line."""
    hemisphere = hemisphere_of(latitude)
    span = Season().span(year, hemisphere)
    why = "--year" if given else f"the most recent complete {hemisphere}ern-hemisphere season; --year to change"
    return f"season {year}: {span.start} .. {span.end - dt.timedelta(days=1)} ({why})"


def default_season(year: int | None, latitude: float, today: dt.date | None = None) -> tuple[int, str]:
    """``(year, first output line)``: ``year`` as given, else the latest complete season at ``latitude``."""
    chosen = latest_complete_season(hemisphere_of(latitude), today) if year is None else int(year)
    return chosen, season_note(chosen, latitude, year is not None)


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
