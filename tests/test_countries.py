"""The country registry, the shipped outlines and the CDL accuracy table: plain data, read offline."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from shapely.geometry import Point, box

from gee_crop import countries
from gee_crop.classes import CLASS_INDEX, EXCLUDE, Legend
from gee_crop.errors import InputError, RegionError

REGISTERED = {"USA", "FRA", "BEL", "NLD", "GBR", "AUS", "ARG", "CHN"}


def test_registry_and_mapping_tables():
    reg = countries.registry()
    assert set(reg) == REGISTERED
    assert reg["USA"].per_cell == 1 and all(s.per_cell == 5 for c, s in reg.items() if c != "USA")
    assert {c for c, s in reg.items() if s.worldcover_other} == {"ARG", "AUS", "CHN"}
    for spec in reg.values():
        mapping = spec.legend()
        assert set(mapping.values()) <= set(CLASS_INDEX) | {EXCLUDE}
    assert Legend.shipped("FRA_rpg.csv")["SOJ"] == "soybeans"
    with pytest.raises(RegionError, match="ESP"):
        countries.country_spec("ESP")
    with pytest.raises(InputError, match="--project"):
        reg["FRA"].asset_id(2023, None)


def test_outlines_of_every_registered_country_ship_with_the_package():
    shipped = Path(str(resources.files("gee_crop.resources").joinpath(countries.OUTLINES)))
    assert shipped.is_file() and shipped.stat().st_size < 300_000  # small, and no ../shared needed
    assert (shipped.parent / "PROVENANCE.md").is_file()
    outlines = countries.country_outlines()
    assert set(outlines) == REGISTERED == set(countries.registry())
    for code, outline in outlines.items():
        assert outline.is_valid and outline.geom_type in ("Polygon", "MultiPolygon"), code
        west, south, east, north = countries.registry()[code].extent
        assert outline.intersects(box(west, south, east, north)), code  # the labelled extent is inside


def test_country_geometry_of_france():
    fra = countries.country_geometry("fra")  # ISO_A3 is -99 for France in Natural Earth: ADM0_A3 used
    assert fra.contains(Point(2.35, 48.85))  # Paris
    metropolitan = fra.intersection(box(*countries.country_spec("FRA").extent))
    west, south, east, north = metropolitan.bounds
    assert -5.2 <= west < -4.5 and 41.3 <= south < 41.5 and 9.4 < east <= 9.6 and 51.0 < north <= 51.1
    assert 53 < metropolitan.area < 70  # square degrees (about 550,000 km2 at 46 N)
    assert fra.bounds[0] < -60  # the overseas departments are part of the outline (French Guiana ...)
    with pytest.raises(RegionError, match="ISO 3166-1 alpha-3"):
        countries.country_geometry("FRANCE")


def test_country_of_a_region():
    assert countries.country_of(box(4.0, 50.7, 4.1, 50.8)).code == "BEL"
    assert countries.country_of(box(2.3, 48.8, 2.4, 48.9)).code == "FRA"
    with pytest.raises(RegionError, match="not inside a country with registered reference labels"):
        countries.country_of(box(14.4, 46.0, 14.6, 46.1))  # Slovenia


def test_cdl_accuracy_table_keeps_accurate_codes_per_state(tmp_path):
    table = tmp_path / "accuracy.csv"
    table.write_text("year,state_fips,state,code,producer_accuracy,user_accuracy\n"
                     "2023,19,Iowa,1,97.0,96.5\n"        # corn in Iowa: kept (> 85 %)
                     "2023,17,Illinois,1,84.0,96.0\n"    # corn in Illinois: producer's 84 % is too low
                     "2023,19,Iowa,4,82.0,81.0\n"        # sorghum ("other", the default) only needs > 80 %
                     "2022,17,Illinois,5,99.0,99.0\n")   # another year
    assert countries.read_accuracy_table(2023, table) == {1: {19}, 4: {19}}
    with pytest.raises(InputError, match="--no-accuracy-filter"):
        countries.read_accuracy_table(1999)
