"""Which raw observations are clear: the cloud indicator of a sample table read against a threshold.

METHOD.md "Satellite data": keep pixels whose Cloud Score+ score is >= 0.75. Offline data carry SCL
or an s2cloudless probability instead, so every indicator of ``config.CLOUD_KINDS`` is read here
into one boolean "clear" mask (the meaning of each kind is documented in ``gee_crop/config.py``).
"""

from __future__ import annotations

import numpy as np

from gee_crop.config import CLEAR_THRESHOLD, CLOUD_KINDS, SCL_CLEAR_CLASSES
from gee_crop.errors import InputError


def _clear_for_kind(cloud: np.ndarray, kind: str, threshold: float) -> np.ndarray:
    """Clear mask of ``cloud`` (any shape) read as indicator ``kind``; NaN is never clear except for 'none'."""
    with np.errstate(invalid="ignore"):
        if kind in ("cs", "cs_cdf"):
            return cloud >= threshold
        if kind == "scl":
            return np.isin(cloud, np.asarray(SCL_CLEAR_CLASSES, dtype=cloud.dtype))
        if kind == "cloud_probability":
            # float64 so that e.g. p = 25 % gives exactly 0.75 and passes the default threshold
            return 1.0 - cloud.astype(np.float64) / 100.0 >= threshold
    if kind == "none":
        return np.ones(cloud.shape, dtype=bool)
    raise InputError(
        f"unknown cloud_kind {kind!r}; use one of {', '.join(CLOUD_KINDS)} "
        "(set the sample table's cloud_kind column accordingly)"
    )


def clear_mask(cloud: np.ndarray, cloud_kind: str | np.ndarray, threshold: float = CLEAR_THRESHOLD) -> np.ndarray:
    """Boolean mask, True where an observation is clear.

    ``cloud``: (n, T, ...) indicator values (float; NaN = unknown). ``cloud_kind``: one kind for all,
    or an (n,) array with one kind per sample (rows of ``cloud``). ``threshold`` applies to the
    continuous kinds (cs, cs_cdf: score >= threshold; cloud_probability: 1 - p/100 >= threshold).
    DN 0 (no data) is not seen here; :func:`gee_crop.features.composite.prepare_series` masks it.
    """
    cloud = np.asarray(cloud)
    if not np.issubdtype(cloud.dtype, np.floating):
        cloud = cloud.astype(np.float32)
    if isinstance(cloud_kind, str):
        return _clear_for_kind(cloud, cloud_kind, threshold)
    kinds = np.asarray(cloud_kind).astype(str)
    if kinds.shape != cloud.shape[:1]:
        raise ValueError(f"cloud_kind has shape {kinds.shape}, expected ({cloud.shape[0]},) or a str")
    clear = np.zeros(cloud.shape, dtype=bool)
    # loop over the few distinct kinds, not over samples
    for kind in np.unique(kinds):
        rows = kinds == kind
        clear[rows] = _clear_for_kind(cloud[rows], str(kind), threshold)
    return clear
