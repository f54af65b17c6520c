"""`gee-crop sample`'s options as one frozen request, built once by the command and handed whole to
every path (the run, ``--pilot``, ``--dry-run``, ``--source``, ``--from-exports``), so no path can drop
an option. Fields are named as the options; ``None`` means the option was not given (the plan then
chooses, e.g. the latest complete season for ``year``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gee_crop.config import (
    CLEAR_THRESHOLD,
    INWARD_BUFFER_M,
    SAMPLE_SPACING_M,
    CloudBand,
    ExportDestination,
    SamplingMode,
)
from gee_crop.earthengine.sampling import DEFAULT_TILE_DEG
from gee_crop.earthengine.tasks import ExportTarget


@dataclass(frozen=True)
class SamplingRequest:
    """Every option of `gee-crop sample` (the command's help says what each does)."""

    country: str | None = None
    """ISO3 code of a country with registered labels (``--country``)."""
    region: str | None = None
    """GeoJSON polygon file (WGS84) to sample; read once, by the plan."""
    source: str | None = None
    """A local raw stack to sample instead of Earth Engine."""
    labels: str | None = None
    """The user's own labels: a vector file or an Earth Engine table asset id (or, with ``source``, a label raster)."""
    label_field: str | None = None
    """Field of ``labels`` holding each feature's label value."""
    legend: str | None = None
    """CSV legend: label value -> class name or 'exclude'."""
    classes: str | None = None
    """The user's class list, "a,b,...,other"."""
    season_start: str | None = None
    """The season's first day, MM-DD (None: the paper's season)."""
    season_days: int | None = None
    """The season's length in days."""
    window_days: int | None = None
    """Composite window in days."""
    year: int | None = None
    """Season year (None: the latest complete season at the place; a local stack keeps every date)."""
    per_cell: int | None = None
    """Samples per 0.1 deg cell (None: the country's, else SAMPLES_PER_CELL_DEFAULT)."""
    spacing_m: float = SAMPLE_SPACING_M
    """Least distance between two samples, metres."""
    buffer_m: float = INWARD_BUFFER_M
    """Inward buffer of the labels, metres."""
    cloud_band: CloudBand = CloudBand.CS
    """Cloud Score+ band of the clear-sky mask."""
    cloud_threshold: float = CLEAR_THRESHOLD
    """Clear-sky threshold on the cloud score, in (0, 1]."""
    mode: SamplingMode = SamplingMode.AUTO
    """Streamed requests or batch export tasks (a pilot always exports)."""
    export_to: ExportDestination = ExportDestination.ASSET
    """Where export tasks write their parts."""
    bucket: str | None = None
    """Cloud Storage bucket for ``export_to`` gcs."""
    exports_dir: str | None = None
    """Local folder holding the exported CSVs (Drive / Cloud Storage sync)."""
    project: str | None = None
    """Google Cloud project registered for Earth Engine (None: the environment's, then the credentials')."""
    service_account_key: str | None = None
    """Service-account key JSON (None: the user's stored credentials)."""
    tile_deg: float = DEFAULT_TILE_DEG
    """Tile size of the job, degrees (a multiple of the 0.1 deg cell)."""
    tile_scale: float = 1.0
    """Earth Engine tileScale."""
    cdl_accuracy: str | None = None
    """Per-state CDL accuracy CSV (USA; None: the shipped table)."""
    no_accuracy_filter: bool = False
    """USA: skip the per-state CDL accuracy filter."""
    seed: int = 0
    """Random seed of the sampling."""
    no_wait: bool = False
    """Export mode: start and poll the tasks once, then return (a pilot always waits)."""
    pilot: int | None = None
    """Run this many tiles as a measured pilot and stop (None: no pilot)."""
    dry_run: bool = False
    """Print the job's plan and estimate; no Earth Engine call, nothing written."""
    from_exports: str | None = None
    """Folder of CSVs already exported: build the table from them, no Earth Engine."""
    out: str | None = None
    """The sample table (.parquet; None: COUNTRY_YEAR.parquet or REGION_YEAR.parquet)."""
    overwrite: bool = False
    """Replace an existing table (and its resume state)."""

    def __post_init__(self) -> None:
        # the command line hands choices over as text: each becomes its Enum member (a bad one raises)
        for name, enum in (("cloud_band", CloudBand), ("mode", SamplingMode), ("export_to", ExportDestination)):
            object.__setattr__(self, name, enum(getattr(self, name)))

    @property
    def export_target(self) -> ExportTarget:
        """Where this request's export tasks write and are collected (the run's and the pilot's)."""
        return ExportTarget(
            self.export_to, bucket=self.bucket, exports_dir=Path(self.exports_dir) if self.exports_dir else None
        )
