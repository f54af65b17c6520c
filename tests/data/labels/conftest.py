"""Own labels, legend and season: the Flanders 2019 patch's own parcel raster turned into polygons with the
product's finer classes (real WorldCereal legacy codes, Flanders LPIS), written as a GeoPackage."""
from __future__ import annotations

import numpy as np
import pyogrio.raw
import pytest
import shapely
from rasterio import Affine
from rasterio.features import shapes
from shapely import geometry as sg

from gee_crop.data.patch import read_patch

#: The patch's WorldCereal legacy codes -> the finer classes of the product (barley and potatoes have
#: too few pixels for a class of their own on a 64 x 64 px patch: "other"; code 0 is no information).
FLANDERS_LEGEND = ("code,class\n"
                   "# WorldCereal legacy crop-type codes of the Flanders 2019 parcel register\n"
                   "1110,Winter wheat\n1200,Maize\n1510,Winter barley\n8100,Sugar beet\n9120,Grassland\n"
                   "1500,other\n5100,other\n0,exclude\n")
FLANDERS_CLASSES = ("winter_wheat", "maize", "winter_barley", "sugar_beet", "grassland", "other")


@pytest.fixture(scope="session")
def flanders_patch(patch_dir):
    return read_patch(patch_dir, with_labels=True)


@pytest.fixture(scope="session")
def flanders_fields(tmp_path_factory, flanders_patch):
    """(GeoPackage of the patch's parcels in EPSG:32631 with field ``ct``, legend CSV)."""
    folder = tmp_path_factory.mktemp("flanders_labels")
    patch = flanders_patch
    polygons = [(sg.shape(g), int(v)) for g, v in shapes(patch.labels.astype(np.int32),
                                                          transform=Affine(*patch.transform)) if v != 0]
    gpkg = folder / "fields.gpkg"
    pyogrio.raw.write(gpkg, shapely.to_wkb(np.array([g for g, _ in polygons], dtype=object)),
                      [np.array([v for _, v in polygons], dtype=np.int32)], ["ct"], layer="labels", driver="GPKG",
                      geometry_type="Polygon", crs="EPSG:32631")
    legend = folder / "legend.csv"
    legend.write_text(FLANDERS_LEGEND)
    return gpkg, legend
