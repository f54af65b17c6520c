"""The networks over the (bands, bins) median matrix (CropNet 2D, TempCNN) share one constructor: its
arguments are the ``arch_kwargs`` the registry saves for them in every model file (``_median_matrix``)."""

from __future__ import annotations

from collections.abc import Sequence

from gee_crop.classes import CLASSES
from gee_crop.models.normalization import NormalizedModel
from gee_crop.season import Season
from gee_crop.sensors import SENTINEL2


class MedianMatrixNet(NormalizedModel):
    """A network over ``(N, 1, n_bands, n_bins)`` reflectance with per-band normalization inside; its
    layers are made by :meth:`build` for ``n_classes`` outputs (``widths`` None: ``default_widths``)."""

    default_widths: tuple[int, ...]

    def __init__(
        self,
        n_bands: int = len(SENTINEL2.bands),
        n_bins: int = Season().n_bins,
        n_classes: int = len(CLASSES),
        widths: Sequence[int] | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_bands, axis=-2)
        self.n_bands, self.n_bins = n_bands, n_bins
        self.build(n_classes, self.default_widths if widths is None else widths, dropout)

    def build(self, n_classes: int, widths: Sequence[int], dropout: float) -> None:
        """Make the layers after the normalization."""
        raise NotImplementedError
