"""`gee-crop sample`'s options as one frozen request, built once by the command
(:meth:`SamplingRequest.from_options`) and handed whole to every path (the run, ``--pilot``, ``--dry-run``,
``--source``, ``--from-exports``), so no path can drop an option. The request names the place and holds
one small type per idea: the labels, the season, the sampling rules, the Earth Engine connection, the
tasks and the run's control. Fields are named as the options; ``None`` means the option was not given
(the plan then chooses, e.g. the latest complete season for ``year``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gee_crop.config import (
    CLEAR_THRESHOLD,
    GRID_CELL_DEG,
    INWARD_BUFFER_M,
    SAMPLE_SPACING_M,
    CloudBand,
    ExportDestination,
    SamplingMode,
)
from gee_crop.earthengine.sampling import DEFAULT_TILE_DEG
from gee_crop.earthengine.tasks import ExportTarget
from gee_crop.errors import InputError
from gee_crop.season import Season
from gee_crop.sensors import EMIT, Sensor, medians_sensor_names, sensor_named
from gee_crop.types import SamplingRules


@dataclass(frozen=True)
class LabelOptions:
    """Which labels become samples: the user's own (with their legend or class list) instead of a
    country's registered ones, and the USA's per-state CDL accuracy filter of the registered ones."""

    labels: str | None = None
    """The user's own labels: a vector file or an Earth Engine table asset id (or, with ``source``, a label raster)."""
    label_field: str | None = None
    """Field of ``labels`` holding each feature's label value."""
    legend: str | None = None
    """CSV legend: label value -> class name or 'exclude'."""
    classes: str | None = None
    """The user's class list, "a,b,...,other"."""
    cdl_accuracy: str | None = None
    """Per-state CDL accuracy CSV (USA; None: the shipped table)."""
    no_accuracy_filter: bool = False
    """USA: skip the per-state CDL accuracy filter."""


@dataclass(frozen=True)
class SeasonOptions:
    """When to sample: the season's year and the user's own season, each None where not given."""

    year: int | None = None
    """Season year (None: the latest complete season at the place; a local stack keeps every date)."""
    season_start: str | None = None
    """The season's first day, MM-DD (None: the paper's season)."""
    season_days: int | None = None
    """The season's length in days."""
    window_days: int | None = None
    """Composite window in days."""

    def override(self) -> Season | None:
        """The user's own season of ``--season-start/--season-days/--window-days`` (None: none given, the
        paper's season)."""
        given = (self.season_start, self.season_days, self.window_days)
        return Season().with_overrides(*given) if given != (None, None, None) else None


@dataclass(frozen=True)
class RuleOptions:
    """What becomes a sample: METHOD.md's sampling rules and the clear-sky mask of each acquisition."""

    per_cell: int | None = None
    """Samples per 0.1 deg cell (None: the country's, else SAMPLES_PER_CELL_DEFAULT)."""
    spacing_m: float = SAMPLE_SPACING_M
    """Least distance between two samples, metres."""
    buffer_m: float = INWARD_BUFFER_M
    """Inward buffer of the labels, metres."""
    seed: int = 0
    """Random seed of the sampling."""
    cloud_band: CloudBand = CloudBand.CS
    """Cloud Score+ band of the clear-sky mask."""
    cloud_threshold: float = CLEAR_THRESHOLD
    """Clear-sky threshold on the cloud score, in (0, 1]."""
    emit: bool = False
    """Also sample EMIT hyperspectral monthly medians at the same points (METHOD.md "Hyperspectral"): the
    flag ``--emit``, the same as ``medians`` EMIT."""
    medians: str | None = None
    """The name of the sensor whose monthly medians are also sampled at the same points (``--medians``);
    None: EMIT with ``emit``, else Sentinel-2 alone."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "cloud_band", CloudBand(self.cloud_band))  # the command line hands text

    @property
    def medians_sensor(self) -> Sensor | None:
        """The sensor of ``--medians`` (``--emit``: EMIT); InputError for a name that is none, Sentinel-2
        itself, or a second sensor beside ``--emit``."""
        if self.medians is None:
            return EMIT if self.emit else None
        if self.medians not in medians_sensor_names():
            raise InputError(
                f"--medians {self.medians} names no sensor sampled beside Sentinel-2; "
                f"use one of {', '.join(medians_sensor_names())}"
            )
        sensor = sensor_named(self.medians)
        if self.emit and sensor != EMIT:
            raise InputError(f"--emit and --medians {sensor.name} ask for two sensors; give one of them")
        return sensor

    def sampling_rules(self, per_cell: int) -> SamplingRules:
        """The rules on the 0.1 deg grid; ``per_cell`` where ``--per-cell`` was not given."""
        return SamplingRules(self.buffer_m, GRID_CELL_DEG, self.spacing_m, self.per_cell or per_cell, self.seed)


@dataclass(frozen=True)
class Connection:
    """Whose Earth Engine the job runs on."""

    project: str | None = None
    """Google Cloud project registered for Earth Engine (None: the environment's, then the credentials')."""
    service_account_key: str | None = None
    """Service-account key JSON (None: the user's stored credentials)."""


@dataclass(frozen=True)
class TaskOptions:
    """How the job's tiles run on Earth Engine: their size and tileScale, streamed or exported (and
    where the exports go), waited for or not."""

    tile_deg: float = DEFAULT_TILE_DEG
    """Tile size of the job, degrees (a multiple of the 0.1 deg cell)."""
    tile_scale: float = 1.0
    """Earth Engine tileScale."""
    mode: SamplingMode = SamplingMode.AUTO
    """Streamed requests or batch export tasks (a pilot always exports)."""
    export_to: ExportDestination = ExportDestination.ASSET
    """Where export tasks write their parts."""
    bucket: str | None = None
    """Cloud Storage bucket for ``export_to`` gcs."""
    exports_dir: str | None = None
    """Local folder holding the exported CSVs (Drive / Cloud Storage sync)."""
    no_wait: bool = False
    """Export mode: start and poll the tasks once, then return (a pilot always waits)."""

    def __post_init__(self) -> None:
        # the command line hands choices over as text: each becomes its Enum member (a bad one raises)
        object.__setattr__(self, "mode", SamplingMode(self.mode))
        object.__setattr__(self, "export_to", ExportDestination(self.export_to))

    @property
    def target(self) -> ExportTarget:
        """Where the export tasks write and are collected (the run's and the pilot's)."""
        exports_dir = Path(self.exports_dir) if self.exports_dir else None
        return ExportTarget(self.export_to, bucket=self.bucket, exports_dir=exports_dir)


@dataclass(frozen=True)
class RunControl:
    """Which path the command takes and the table it writes."""

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


@dataclass(frozen=True)
class SamplingRequest:
    """Every option of `gee-crop sample` (the command's help says what each does): where to sample, and
    the options of each idea as one value."""

    country: str | None = None
    """ISO3 code of a country with registered labels (``--country``)."""
    region: str | None = None
    """GeoJSON polygon file (WGS84) to sample; read once, by the plan."""
    source: str | None = None
    """A local raw stack to sample instead of Earth Engine."""
    labelling: LabelOptions = field(default_factory=LabelOptions)
    season: SeasonOptions = field(default_factory=SeasonOptions)
    rules: RuleOptions = field(default_factory=RuleOptions)
    connection: Connection = field(default_factory=Connection)
    tasks: TaskOptions = field(default_factory=TaskOptions)
    run: RunControl = field(default_factory=RunControl)

    @classmethod
    def from_options(cls, **options: Any) -> SamplingRequest:
        """The request of the command's options, each by its name (one not given keeps its default). Every
        option lands in its group or in the place; one that fits nowhere is a TypeError, never dropped."""

        def take(group: type[Any]) -> Any:
            return group(**{f.name: options.pop(f.name) for f in fields(group) if f.name in options})

        return cls(
            labelling=take(LabelOptions),
            season=take(SeasonOptions),
            rules=take(RuleOptions),
            connection=take(Connection),
            tasks=take(TaskOptions),
            run=take(RunControl),
            **options,  # what is left is the place (country, region, source)
        )
