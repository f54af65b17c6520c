"""Single source of truth for the method's constants (the paper's method, summarised in the project's METHOD.md).

The bands of each sensor live in :mod:`gee_crop.sensors` (``SENTINEL2.bands``, ``EMIT.bands``); ``BANDS`` here
is a deprecated alias of ``SENTINEL2.bands``. Band-name helpers (Sentinel-2 two-digit names, composite band
names) are here; never repeat a band list elsewhere. The classes live in :mod:`gee_crop.classes`, the
season (its start, length, window and hemisphere rule) in :mod:`gee_crop.season`.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Literal

from gee_crop.sensors import CLOUD_SCORE_PLUS_COLLECTION as CLOUD_SCORE_PLUS_COLLECTION
from gee_crop.sensors import EMIT, SENTINEL2


class StrChoiceEnum(str, Enum):
    """A str Enum whose values are the choices of a command-line option (``click.Choice(list(E))``
    shows and accepts the values); members compare equal to their string value."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)


class FeatureKind(StrChoiceEnum):
    """The model inputs of METHOD.md "Features"."""

    MEDIAN2D = "median2d"
    MEDIAN1D = "median1d"
    HARMONIC = "harmonic"


#: The paper's EMIT feature sets (CropGlobe_subset, METHOD.md "Hyperspectral"): ``gee-crop train --features``
#: name -> the months whose medians are concatenated, month-major (June, August, June+August).
EMIT_FEATURE_MONTHS: dict[str, tuple[int, ...]] = {"emit_june": (6,), "emit_august": (8,), "emit_june_august": (6, 8)}
#: Sentinel-2 and EMIT together (``gee-crop train S2_TABLE --emit-table EMIT_TABLE --features``): the S2 1D
#: medians of the season, then the EMIT medians of these months, for samples present in both (docs/emit.md).
S2_EMIT_FEATURE_MONTHS: dict[str, tuple[int, ...]] = {f"s2_{name}": m for name, m in EMIT_FEATURE_MONTHS.items()}


class Arch(StrChoiceEnum):
    """Registered architectures (models/registry.py builds each)."""

    CROPNET2D = "cropnet2d"
    CROPNET1D = "cropnet1d"
    RANDOM_FOREST = "random_forest"
    RESNET50 = "resnet50"
    EFFICIENTNET_V2_S = "efficientnet_v2_s"
    CONVNEXT_TINY = "convnext_tiny"
    TEMPCNN = "tempcnn"
    LINEAR = "linear"


#: ``gee-crop train --arch auto``: choose the architecture by spatial cross-validation (training/selection.py).
AUTO_ARCH = "auto"


class CloudBand(StrChoiceEnum):
    """Cloud Score+ bands (METHOD.md "Satellite data"): ``cs`` is the default."""

    CS = "cs"
    CS_CDF = "cs_cdf"


class Precision(StrChoiceEnum):
    """Arithmetic of the torch back end of ``map``."""

    FP32 = "fp32"
    BF16 = "bf16"


class Encoding(StrChoiceEnum):
    """How the composite's values travel from Earth Engine (``gee-crop map --encoding``; the transform
    is ``gee_crop.earthengine.composite.encode_image``)."""

    SQRT8 = "sqrt8"  # code = 1 + round(254 sqrt(reflectance / SQRT8_MAX)): 1 B per value
    UINT16 = "uint16"  # DN = max(1, round(reflectance x 10,000)) (0: nodata): 2 B per value, exact to half a DN


class SourceKind(StrChoiceEnum):
    """Where ``gee-crop map`` composites: a local raw S2 stack, or Earth Engine."""

    LOCAL = "local"
    EARTHENGINE = "earthengine"


class Scheduler(StrChoiceEnum):
    """The Dask schedulers that run in this process (``gee-crop map --scheduler``); anything else given
    there is the address of a running Dask scheduler."""

    LOCAL = "local"
    THREADS = "threads"
    SYNCHRONOUS = "synchronous"


#: input_scaling "log": log1p(LOG_GAIN * max(reflectance, 0)). A gain of 100 keeps dark reflectance
#: (water, shadow: ~0.01) near-linear instead of sending it to -inf; above ~0.05 it is a plain log, so a
#: multiplicative difference between sensors or years becomes an offset that the standardisation absorbs.
LOG_GAIN = 100.0
#: input_scaling "smooth": the moving-mean window over time in 5-day bins (25 days, centred; the
#: edges repeat the first and last bin). Raw 5-day observations then vary over time about as
#: smoothly as the dekadal and monthly composites of the training domains (docs/transfer.md).
SMOOTH_BINS = 5


class InputScaling(StrChoiceEnum):
    """How a model rescales its reflectance input before the per-band standardisation fitted on its
    training data (``gee-crop train --input-scaling``; stored in the model contract, applied inside the
    model, so callers always feed reflectance)."""

    STANDARD = "standard"  # (x - mean) / std: the paper's
    LOG = "log"  # log1p(100 max(x, 0)), then (. - mean) / std: gains become offsets
    SMOOTH = "smooth"  # a centred SMOOTH_BINS-bin moving mean over time (2D medians), then (. - mean) / std


class SamplingMode(StrChoiceEnum):
    """How an Earth Engine sampling job runs its tiles (``gee-crop sample --mode``)."""

    AUTO = "auto"  # interactive for small jobs, export for large ones
    INTERACTIVE = "interactive"  # each tile streamed with paged computeFeatures requests
    EXPORT = "export"  # each tile a batch table-export task


class ExportDestination(StrChoiceEnum):
    """Where a sampling job's export tasks write their parts (``gee-crop sample --export-to``)."""

    ASSET = "asset"  # the default: table assets gee-crop reads back itself, whatever the credentials
    DRIVE = "drive"  # CSVs on Google Drive (synced by the user)
    GCS = "gcs"  # CSVs on Cloud Storage (synced by the user)


#: Deprecated alias of ``SENTINEL2.bands`` (gee_crop.sensors): the 10 Sentinel-2 bands kept, in model order.
#: New code takes the bands from its sensor (``spec.sensor.bands``); this name stays for code written before.
BANDS: tuple[str, ...] = SENTINEL2.bands
BAND_INDEX: dict[str, int] = {name: i for i, name in enumerate(BANDS)}
#: Sentinel-2 two-digit band names (ESA products, NetCDF patches, WorldCereal: B02 ...) -> BANDS names.
S2_BAND_NAMES: dict[str, str] = {
    "B02": "B2",
    "B03": "B3",
    "B04": "B4",
    "B08": "B8",
    "B05": "B5",
    "B06": "B6",
    "B07": "B7",
    "B8A": "B8A",
    "B11": "B11",
    "B12": "B12",
}

#: Reflectance is stored as digital numbers: reflectance = DN / REFLECTANCE_SCALE; DN 0 = no data.
REFLECTANCE_SCALE = 10_000.0
NODATA_DN = 0
#: Largest DN a reader accepts. 65535 is the uint16 saturation / no-data marker (and where a cast wraps a
#: negative DN to); it is refused on read (gee_crop.data.dn.checked_dn) with negatives and NaN instead
#: of skewing the medians. Real composites do reach ~61,000 (WorldCereal monthly extractions, Flanders 2021).
MAX_VALID_DN = 65_534

#: Cloud indicators a sample table may carry, and how each is read as "clear".
#:   cs / cs_cdf: Cloud Score+ (0..1, 1 = clear); clear when score >= threshold.
#:   scl: Sen2Cor scene classification; clear when the class is in SCL_CLEAR_CLASSES.
#:   cloud_probability: s2cloudless-style probability 0..100 (%); clear when
#:       1 - probability / 100 >= threshold.
#:   none: no indicator (inputs that are already cloud-free composites); only DN 0 is masked.
CloudKind = Literal["cs", "cs_cdf", "scl", "cloud_probability", "none"]
CLOUD_KINDS: tuple[str, ...] = ("cs", "cs_cdf", "scl", "cloud_probability", "none")
CLEAR_THRESHOLD = 0.75
SCL_CLEAR_CLASSES: tuple[int, ...] = (4, 5)  # vegetation, bare soil

#: Earth Engine collections.
S2_COLLECTION = SENTINEL2.collection
EMIT_COLLECTION = EMIT.collection
WORLDCOVER_IMAGE = "ESA/WorldCover/v200"
CDL_COLLECTION = "USDA/NASS/CDL"

#: Sampling (METHOD.md "Sampling").
INWARD_BUFFER_M = 60.0
#: Side of a composite cube block (pixels): one Zarr chunk, the unit a cube build resumes by, a loader reads
#: and the spatial validation split of `gee-crop train CUBE` holds out whole.
CUBE_BLOCK_PX = 64
#: Widest inward buffer (m, ~8x the paper's): wider erodes all but the largest fields, and its disk's cost
#: grows with its area (a 100 km buffer needs a 20,001-pixel-wide disk per pixel).
MAX_INWARD_BUFFER_M = 500.0
#: Widest inward buffer in pixels of the label raster (the disk the erosion slides is (2r+1)^2 pixels).
MAX_BUFFER_PIXELS = 50
GRID_CELL_DEG = 0.1
SAMPLE_SPACING_M = 60.0
SAMPLES_PER_CELL_DEFAULT = 5

#: A sample whose longest run of empty 5-day bins (after cloud masking) exceeds this is discarded
#: (METHOD.md: "too many gaps to interpolate reliably"; the threshold is an option). 10 bins = 50 days:
#: on the shipped Flanders 2019 patch 8 bins drops 42 % of pixels (a 45-day cloudy spell in
#: September), 10 keeps 4092 of 4096.
MAX_GAP_BINS = 10

#: Training defaults (METHOD.md "CropNet").
LEARNING_RATE = 1e-4
BATCH_SIZE = 256
EPOCHS = 50
CROPNET_WIDTHS: tuple[int, ...] = (64, 128, 256, 512)

Hemisphere = Literal["north", "south"]


def band_name(name: str) -> str:
    """The BANDS name of a Sentinel-2 band name: B02 -> B2 (B2, B8A and non-band names unchanged)."""
    return S2_BAND_NAMES.get(name, name)


def two_digit_band(band: str) -> str:
    """The Sentinel-2 two-digit name of a BANDS name: B2 -> B02, B8A -> B8A."""
    return next(two for two, ee_name in S2_BAND_NAMES.items() if ee_name == band)


def composite_band(band: str, bin_index: int) -> str:
    """Name of ``band`` in window ``bin_index`` of a 5-day median composite (e.g. ``B4_t12``)."""
    return f"{band}_t{int(bin_index):02d}"


def hemisphere_of(latitude: float) -> Hemisphere:
    """'south' for latitudes below the equator, else 'north'."""
    return "south" if latitude < 0 else "north"


def acquisition_window(year: int, hemisphere: Hemisphere = "north") -> tuple[dt.date, dt.date]:
    """Raw acquisition window [start, end) of a year: Jan 1..Dec 31, or Jul 1 (year-1)..Jun 30 south."""
    if hemisphere == "south":
        return dt.date(year - 1, 7, 1), dt.date(year, 7, 1)
    return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
