"""The in-memory data types every room shares: :class:`SampleSeries` (labelled samples with raw
series; the sample table in memory) and :class:`RawStack` (a raw dated raster stack)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gee_crop.classes import class_indices
from gee_crop.config import BANDS


@dataclass
class SampleSeries:
    """Raw dated observations of ``n`` samples, padded to a common length ``T``.

    Shapes: ``dates`` (n, T) datetime64[D], NaT where padded; ``dn`` (n, T, 10) uint16 DN in
    config.BANDS order, 0 where padded or no data; ``cloud`` (n, T) float32, NaN where padded.
    Per-sample arrays are (n,).
    """

    sample_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    region: np.ndarray
    crop_class: np.ndarray
    cloud_kind: np.ndarray
    dates: np.ndarray
    dn: np.ndarray
    cloud: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.sample_id)
        for name in ("lon", "lat", "region", "crop_class", "cloud_kind"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, expected {n}")
        if self.dates.shape[0] != n or self.dn.shape[:2] != self.dates.shape or self.cloud.shape != self.dates.shape:
            raise ValueError(f"inconsistent shapes: dates {self.dates.shape}, dn {self.dn.shape}, "
                             f"cloud {self.cloud.shape}")
        if self.dn.shape[2] != len(BANDS):
            raise ValueError(f"dn must have {len(BANDS)} bands, got {self.dn.shape[2]}")

    def __len__(self) -> int:
        return len(self.sample_id)

    @property
    def n_obs(self) -> np.ndarray:
        """(n,) number of acquisitions per sample (not padded)."""
        return (~np.isnat(self.dates)).sum(axis=1)

    @property
    def labels(self) -> np.ndarray:
        """(n,) int64 class indices into config.CLASSES."""
        return class_indices(self.crop_class)

    def subset(self, index: np.ndarray) -> "SampleSeries":
        """Rows selected by a boolean mask or an integer index (padding trimmed)."""
        index = np.asarray(index)
        sub = SampleSeries(
            self.sample_id[index], self.lon[index], self.lat[index], self.region[index],
            self.crop_class[index], self.cloud_kind[index], self.dates[index], self.dn[index],
            self.cloud[index], {k: v[index] for k, v in self.extra.items()},
        )
        return sub.trimmed()

    def trimmed(self) -> "SampleSeries":
        """Drop trailing padding columns that no sample uses."""
        t = int(self.n_obs.max()) if len(self) else 0
        if t == self.dates.shape[1]:
            return self
        return SampleSeries(self.sample_id, self.lon, self.lat, self.region, self.crop_class,
                            self.cloud_kind, self.dates[:, :t], self.dn[:, :t], self.cloud[:, :t],
                            self.extra)


def concat(tables: list[SampleSeries]) -> SampleSeries:
    """Stack several tables (padding to the longest series)."""
    if not tables:
        raise ValueError("nothing to concatenate")
    t = max(tab.dates.shape[1] for tab in tables)

    def pad(a: np.ndarray, fill) -> np.ndarray:
        widths = [(0, 0), (0, t - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
        return np.pad(a, widths, constant_values=fill)

    extra_keys = set.intersection(*(set(tab.extra) for tab in tables))
    return SampleSeries(
        *(np.concatenate([getattr(tab, k) for tab in tables])
          for k in ("sample_id", "lon", "lat", "region", "crop_class", "cloud_kind")),
        np.concatenate([pad(tab.dates, np.datetime64("NaT")) for tab in tables]),
        np.concatenate([pad(tab.dn, 0) for tab in tables]),
        np.concatenate([pad(tab.cloud, np.nan) for tab in tables]),
        {k: np.concatenate([tab.extra[k] for tab in tables]) for k in sorted(extra_keys)},
    )
