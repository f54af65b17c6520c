"""Band values on read: every reader turns its raw band values into uint16 DN through
:func:`checked_dn`, which refuses values that are not Sentinel-2 L2A DN (negative, NaN or infinite,
above config.MAX_VALID_DN) with their count and the fix, instead of letting a cast wrap them
(-1 -> 65535), keep them (65535) or turn them into "no data" (NaN -> 0) unnoticed.
"""

from __future__ import annotations

import numpy as np

from gee_crop.config import MAX_VALID_DN, NODATA_DN
from gee_crop.errors import BandValueError


def bad_dn_counts(values: np.ndarray) -> dict[str, int]:
    """Counts of out-of-range DN: {"negative", "NaN or infinite", "above MAX_VALID_DN"} (zeros omitted)."""
    values = np.asarray(values)
    if values.dtype.kind == "u":
        counts = {"above": int((values > MAX_VALID_DN).sum())}
    elif values.dtype.kind in "if":
        finite = np.isfinite(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
        with np.errstate(invalid="ignore"):
            counts = {
                "negative": int((values < 0).sum()),
                "NaN or infinite": int((~finite).sum()),
                "above": int((values > MAX_VALID_DN).sum()),
            }
    elif values.dtype.kind == "b":
        counts = {}
    else:
        raise BandValueError(f"band values of dtype {values.dtype} are not numbers")
    names = {"above": f"above {MAX_VALID_DN:,}"}
    return {names.get(k, k): n for k, n in counts.items() if n}


def checked_dn(values: np.ndarray, source: str, what: str = "band values") -> np.ndarray:
    """``values`` (any numeric dtype) as uint16 DN; BandValueError naming the count of bad values and
    the fix when any is negative, NaN / infinite or above config.MAX_VALID_DN."""
    values = np.asarray(values)
    bad = bad_dn_counts(values)
    if bad:
        total = sum(bad.values())
        detail = ", ".join(f"{n:,} {kind}" for kind, n in bad.items())
        raise BandValueError(
            f"{source}: {total:,} of {values.size:,} {what} are not Sentinel-2 L2A DN ({detail}); DN must be "
            f"0..{MAX_VALID_DN:,} (reflectance x 10,000, {NODATA_DN} = no data): re-export the data as "
            f"uint16 DN, or set those values to {NODATA_DN} (no data) before giving it to gee-crop"
        )
    return values.astype(np.uint16)
