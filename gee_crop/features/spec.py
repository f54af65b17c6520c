"""The model contract: how a model's input is composited and what it outputs.

One frozen :class:`FeatureSpec` is written into every model file (torch ``model.pt``, ONNX
metadata) and read back by ``models.io.read_contract``; training, evaluation, export and mapping all
composite from it, so a map is made exactly as the model was trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from gee_crop.classes import CLASSES
from gee_crop.config import (
    CLEAR_THRESHOLD,
    LOG_GAIN,
    MAX_GAP_BINS,
    SMOOTH_BINS,
    FeatureKind,
    InputScaling,
)
from gee_crop.errors import ModelFileError
from gee_crop.season import Season
from gee_crop.sensors import SENSORS, SENTINEL2, Sensor, sensor_named

#: 3rd-order harmonics (7 coefficients) of 5 series (METHOD.md "Harmonic").
N_HARMONIC_FEATURES = 35


def scale_reflectance(values: np.ndarray, scaling: InputScaling | str) -> np.ndarray:
    """Reflectance as a model of ``scaling`` sees it before its per-band standardisation (any shape,
    float32). The torch twin is ``gee_crop.models.normalization.scale_input``; both follow :data:`LOG_GAIN`."""
    values = np.asarray(values, dtype=np.float32)
    if InputScaling(scaling) == InputScaling.STANDARD:
        return values
    if InputScaling(scaling) == InputScaling.SMOOTH:
        half = SMOOTH_BINS // 2
        padded = np.concatenate([values[..., :1]] * half + [values] + [values[..., -1:]] * half, axis=-1)
        t = values.shape[-1]
        return (sum(padded[..., k : k + t] for k in range(SMOOTH_BINS)) / np.float32(SMOOTH_BINS)).astype(np.float32)
    return np.log1p(np.float32(LOG_GAIN) * np.maximum(values, np.float32(0.0)))


@dataclass(frozen=True)
class FeatureSpec:
    """How a model's input is built from a sensor's raw series, and what the model predicts."""

    feature_kind: FeatureKind = FeatureKind.MEDIAN2D
    """median2d: (10, t) matrix; median1d: its flattening; harmonic: 35 harmonic coefficients."""
    season: Season = Season()
    """The season the medians span and how it is binned: t = season.n_bins windows (``Season()``, the
    paper's, or the one a table was sampled with, e.g. ``sample --season-start``)."""
    cloud_threshold: float = CLEAR_THRESHOLD
    """An observation is clear when its Cloud Score+ (or stand-in) is at least this."""
    max_gap_bins: int = MAX_GAP_BINS
    """Longest run of empty bins that is interpolated; a longer gap drops the sample (or pixel)."""
    classes: tuple[str, ...] = CLASSES
    """The model's output classes, in output order."""
    bands: tuple[str, ...] = ()
    """The input bands, in input order (Earth Engine names): () means all of the sensor's bands."""
    year_trained: int | None = field(default=None, compare=False)
    """The season year of the training data (informational; None when unknown or mixed)."""
    input_scaling: InputScaling = InputScaling.STANDARD
    """How the model rescales its reflectance input before its per-band standardisation (applied inside
    the model: callers always feed reflectance). Files written before the option load as "standard"."""
    sensor: Sensor = SENTINEL2
    """The sensor whose bands the model reads (gee_crop.sensors; a name is accepted). Files without one
    are Sentinel-2's."""
    months: tuple[int, ...] = ()
    """Monthly medians instead of the season's windows (EMIT: (6,), (8,) or (6, 8)); () for the season's."""
    joined: FeatureSpec | None = None
    """A second sensor's flat features appended to this one's (S2 + EMIT: the S2 1D medians of the season,
    then the EMIT months' kept bands, on samples present in both): a flat spec of that sensor, with this
    spec's classes. None (every file written before) for one sensor."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "feature_kind", FeatureKind(self.feature_kind))
        except ValueError:
            raise ValueError(f"feature_kind must be one of {FeatureKind.values()}, got {self.feature_kind!r}") from None
        try:
            object.__setattr__(self, "input_scaling", InputScaling(self.input_scaling))
        except ValueError:
            raise ValueError(
                f"input_scaling must be one of {InputScaling.values()}, got {self.input_scaling!r}"
            ) from None
        object.__setattr__(self, "classes", tuple(self.classes))
        if isinstance(self.sensor, str):
            object.__setattr__(self, "sensor", sensor_named(self.sensor))
        object.__setattr__(self, "bands", tuple(self.bands) or self.sensor.bands)
        object.__setattr__(self, "months", tuple(int(m) for m in self.months))
        if any(not 1 <= m <= 12 for m in self.months):
            raise ValueError(f"months must lie in 1..12, got {self.months}")
        foreign = [b for b in self.bands if b not in self.sensor.product_bands]
        if foreign:
            raise ValueError(f"bands {foreign} are not {self.sensor.name} bands")
        if self.joined is not None:
            self._check_joined(self.joined)

    def _check_joined(self, joined: FeatureSpec) -> None:
        """ValueError unless ``joined`` can follow this spec in one flat vector."""
        if self.feature_kind != FeatureKind.MEDIAN1D or joined.feature_kind != FeatureKind.MEDIAN1D:
            raise ValueError("features of two sensors are joined as flat 1D medians only (feature_kind median1d)")
        if joined.joined is not None or joined.sensor == self.sensor:
            raise ValueError(f"{'+'.join(joined.sensor_names)} features cannot follow {self.sensor.name} features")
        if joined.classes != self.classes:
            object.__setattr__(self, "joined", replace(joined, classes=self.classes))

    @property
    def sensors(self) -> tuple[Sensor, ...]:
        """Every sensor whose features the model reads, in input order."""
        return (self.sensor,) if self.joined is None else (self.sensor, *self.joined.sensors)

    @property
    def sensor_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sensors)

    @property
    def n_bins(self) -> int:
        """Time steps of the input: the months of monthly medians, else the season's windows."""
        return len(self.months) if self.months else self.season.n_bins

    @property
    def min_bytes_per_pixel(self) -> int:
        """Bytes of one pixel's model inputs at their smallest exact encoding (the sensor's ``value_bytes``
        per band and window or month): the least a lossless fetch can come down to."""
        return self.sensor.value_bytes * len(self.bands) * self.n_bins

    @property
    def is_median(self) -> bool:
        return self.feature_kind in (FeatureKind.MEDIAN2D, FeatureKind.MEDIAN1D)

    @property
    def n_features(self) -> int:
        """Length of the flat feature vector (1D kinds)."""
        own = N_HARMONIC_FEATURES if self.feature_kind == FeatureKind.HARMONIC else len(self.bands) * self.n_bins
        return own + (self.joined.n_features if self.joined is not None else 0)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The per-sample input shape of a network: (1, bands, t) for median2d, (1, F) otherwise."""
        if self.feature_kind == FeatureKind.MEDIAN2D:
            return (1, len(self.bands), self.n_bins)
        return (1, self.n_features)

    def model_input(self, features: np.ndarray, *, flat: bool = False) -> np.ndarray:
        """Features shaped for a model: (n, 1, bands, t) for median2d, (n, 1, F) for 1D kinds, (n, F)
        when ``flat`` (forests). Input: (n, bands, t) medians, (n, F) vectors or an already shaped
        (n, 1, ...) batch; 1D medians are the band-major flattening of the matrix (METHOD.md)."""
        n = features.shape[0]
        if flat:
            return features.reshape(n, -1)
        return features.reshape(n, *self.input_shape)

    def season_dict(self, year: int | None = None) -> dict:
        """The ``season`` entry of a model file: the season's keys (its southern shift only when it is
        not the paper's, so paper files stay as they were), ``n_bins`` and ``year_trained``."""
        year = self.year_trained if year is None else year
        stored = self.season.to_dict()
        shift = stored.pop("south_shift_months")
        entry = {**stored, "n_bins": self.n_bins, "year_trained": None if year is None else int(year)}
        if shift != Season().south_shift_months:  # a user's own season (a local calendar)
            entry["south_shift_months"] = shift
        return entry

    def to_meta(self, year: int | None = None) -> dict:
        """The contract's keys in a model file's metadata (plain JSON types)."""
        return {
            "feature_kind": self.feature_kind.value,
            "season": self.season_dict(year),
            "cloud_threshold": float(self.cloud_threshold),
            "max_gap_bins": int(self.max_gap_bins),
            "classes": list(self.classes),
            "bands": list(self.bands),
            "input_scaling": self.input_scaling.value,
            # Sentinel-2 files stay as they were; a file without the key is Sentinel-2's (from_meta)
            **({"sensor": self.sensor.name} if self.sensor != SENTINEL2 else {}),
            **({"months": list(self.months)} if self.months else {}),
            **({"joined": self.joined.joined_meta()} if self.joined is not None else {}),
        }

    def joined_meta(self) -> dict:
        """The ``joined`` entry of a two-sensor contract: what differs from the first sensor's spec."""
        return {"sensor": self.sensor.name, "bands": list(self.bands), "months": list(self.months)}

    @classmethod
    def from_meta(cls, meta: dict) -> FeatureSpec:
        """The contract stored in a model file's metadata (0.1.0 files included)."""
        season = meta["season"]
        year = season.get("year_trained")
        scaling = meta.get("input_scaling", InputScaling.STANDARD.value)
        if scaling not in InputScaling.values():
            raise ModelFileError(
                f"the model rescales its input with {scaling!r}, which this gee-crop does not know "
                f"(it knows {', '.join(InputScaling.values())}); upgrade gee-crop"
            )
        sensor = _known_sensor(meta.get("sensor", SENTINEL2.name))
        joined = meta.get("joined")
        spec = cls(
            feature_kind=meta["feature_kind"],
            season=Season.from_dict(season),
            cloud_threshold=float(meta["cloud_threshold"]),
            max_gap_bins=int(meta["max_gap_bins"]),
            classes=tuple(meta.get("classes", CLASSES)),
            bands=tuple(meta.get("bands", sensor.bands)),
            year_trained=None if year is None else int(year),
            input_scaling=scaling,
            sensor=sensor,
            months=tuple(meta.get("months", ())),
            joined=None if joined is None else _joined_spec(joined),
        )
        stored = season.get("n_bins")
        if stored is not None and int(stored) != spec.n_bins:
            raise ModelFileError(
                f"the model expects {int(stored)} time bins, but its season "
                f"({spec.season.length_days} days / {spec.season.window_days}-day windows) gives "
                f"{spec.n_bins}; the file's metadata is inconsistent: re-export the model with "
                "`gee-crop export`"
            )
        return spec


def _known_sensor(name: str) -> Sensor:
    """The sensor a model file names; ModelFileError for one this gee-crop does not know."""
    if name not in SENSORS:
        raise ModelFileError(
            f"the model reads sensor {name!r}, which this gee-crop does not know "
            f"(it knows {', '.join(SENSORS)}); upgrade gee-crop"
        )
    return SENSORS[name]


def _joined_spec(meta: dict) -> FeatureSpec:
    """The second sensor's spec of a two-sensor contract (``FeatureSpec.joined_meta``)."""
    sensor = _known_sensor(meta["sensor"])
    return FeatureSpec(
        FeatureKind.MEDIAN1D, bands=tuple(meta.get("bands", sensor.bands)), sensor=sensor, months=tuple(meta["months"])
    )
