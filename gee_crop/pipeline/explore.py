"""Live Earth Engine or the shipped real data: the choice every example notebook makes first.

:func:`start_session` initialises Earth Engine only when credentials exist on disk (so a machine
without an account never opens a socket: ``ee.Initialize`` would otherwise probe Google's metadata
server), and otherwise initialises ``ee`` offline (graphs can still be built and inspected) and
says, visibly, that the notebook falls back to the shipped Flanders 2019 Earth Engine patch.
Setting ``GEE_CROP_OFFLINE=1`` forces the fallback (CI runs the notebooks that way).

The loaders below give the notebooks the offline stand-ins of what Earth Engine would return: the
raw patch, samples drawn from it with the demo's sampling rules, and its 5-day median composite.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from gee_crop.config import CLEAR_THRESHOLD, MAX_GAP_BINS, SEASON_LENGTH_DAYS, WINDOW_DAYS, SeasonSpan, season_span

OFFLINE_ENV = "GEE_CROP_OFFLINE"
FALLBACK_DATA = "the shipped real data (Flanders 2019 Earth Engine patch, 64 x 64 px at 10 m)"


@dataclass(frozen=True)
class NotebookSession:
    """Whether Earth Engine is live; ``reason`` says why not (empty when live)."""

    live: bool
    project: str | None = None
    reason: str = ""

    @property
    def note(self) -> str:
        """One line for the notebook's output saying which data the notebook uses."""
        if self.live:
            return f"Earth Engine is available (project {self.project}): this notebook runs live."
        return (f"NOTE: Earth Engine is not available ({self.reason}), so this notebook uses {FALLBACK_DATA} "
                "instead of live requests.")

    def markdown(self) -> str:
        """The note as a Markdown block quote (for ``IPython.display.Markdown``)."""
        return f"> **{'Live Earth Engine' if self.live else 'Offline fallback'}** — {self.note}"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no")


def credentials_file() -> Path | None:
    """A stored credentials file Earth Engine would use, or None (no file read, no socket).

    Looks at $GOOGLE_APPLICATION_CREDENTIALS, the ``earthengine authenticate`` file and gcloud's
    application-default credentials, in that order.
    """
    import ee

    candidates = []
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        candidates.append(Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"]))
    candidates.append(Path(ee.oauth.get_credentials_path()))
    gcloud_dir = os.environ.get("CLOUDSDK_CONFIG") or (
        Path(os.environ["APPDATA"]) / "gcloud" if os.name == "nt" and os.environ.get("APPDATA")
        else Path.home() / ".config" / "gcloud")
    candidates.append(Path(gcloud_dir) / "application_default_credentials.json")
    return next((path for path in candidates if path.is_file()), None)


def _project_from(credentials: Path) -> str | None:
    """The Cloud project recorded in a credentials file (``earthengine set_project``), if any."""
    try:
        content = json.loads(credentials.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return next((content[k] for k in ("project", "quota_project_id", "project_id") if content.get(k)), None)


def start_session(project: str | None = None, *, echo: Callable[[str], None] | None = print) -> NotebookSession:
    """Initialise Earth Engine live when possible, else offline; ``echo`` the note saying which.

    Live needs: ``GEE_CROP_OFFLINE`` unset, a credentials file (see :func:`credentials_file`), a
    Cloud project (``project``, $EE_PROJECT, $GOOGLE_CLOUD_PROJECT or the one in the credentials
    file) and a successful ``ee.Initialize``. Never raises for a missing account.
    """
    session = _decide(project)
    if not session.live:
        from gee_crop.testing.offline_ee import initialize_offline

        initialize_offline()
    if echo is not None:
        echo(session.note)
    return session


def _decide(project: str | None) -> NotebookSession:
    if _truthy(os.environ.get(OFFLINE_ENV)):
        return NotebookSession(False, None, f"{OFFLINE_ENV} is set")
    credentials = credentials_file()
    if credentials is None:
        return NotebookSession(False, None, "no credentials found; run `earthengine authenticate` to go live")
    from gee_crop.earthengine.client import EarthEngineClient, project_from_env, redact

    project = project_from_env(project) or _project_from(credentials)
    if not project:
        return NotebookSession(False, None, "no Cloud project; set EE_PROJECT to a project registered "
                                            "for Earth Engine to go live")
    try:
        EarthEngineClient.initialize(project)
    except Exception as exc:  # noqa: BLE001 - expired token, no network ...: a notebook falls back, never stops
        first_line = redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return NotebookSession(False, project, f"initialisation failed: {first_line}")
    return NotebookSession(True, project, "")


def earthengine_available(project: str | None = None) -> bool:
    """True when Earth Engine can be used live (initialises it); never opens a socket without
    stored credentials."""
    return start_session(project, echo=None).live


# ----------------------------------------------------------------------------- offline loaders

def demo_patch():
    """The shipped Earth Engine patch (Flanders, 2019 season) as a ``PatchStack``."""
    from gee_crop.data.patch import read_patch
    from gee_crop.testing.paths import demo_patch_dir

    return read_patch(demo_patch_dir())


def demo_samples(patch=None, *, seed: int = 0):
    """Samples of the patch drawn like ``gee-crop demo`` (the paper's rules scaled to a 640 m patch:
    10 m buffer and spacing, no per-cell cap; see ``gee_crop.pipeline.demo``); a ``SampleSeries``."""
    from gee_crop.data.sampling import sample_local_stack
    from gee_crop.pipeline.demo import DEMO_BUFFER_M, DEMO_PER_CELL, DEMO_REGION, DEMO_SPACING_M

    patch = demo_patch() if patch is None else patch
    return sample_local_stack(patch, buffer_m=DEMO_BUFFER_M, spacing_m=DEMO_SPACING_M, per_cell=DEMO_PER_CELL,
                              region=DEMO_REGION, seed=seed)


def patch_footprint(patch):
    """The patch's outline as a WGS84 shapely polygon (also the live notebooks' area of interest)."""
    from shapely.geometry import box

    from gee_crop.mapping.region import WGS84, reproject_geometry

    a, _, c, _, e, f = patch.transform
    h, w = patch.shape
    outline = box(c, f + e * h, c + a * w, f) if e < 0 else box(c, f, c + a * w, f + e * h)
    return reproject_geometry(outline, patch.crs, WGS84)


def reference_classes(patch) -> np.ndarray:
    """(H, W) uint8 reference class indices of the patch labels (255 = unlabeled)."""
    from gee_crop.mapping.sources import stack_from_patch

    return stack_from_patch(patch).labels


@dataclass
class PatchComposite:
    """The offline stand-in of ``median_composite``: ``reflectance`` (H, W, 10, n_bins) float32
    gap-filled 5-day medians (config.BANDS order), ``keep`` (H, W) bool (gap rule passed), ``season``."""

    reflectance: np.ndarray
    keep: np.ndarray
    season: SeasonSpan

    def bin_dates(self) -> list:
        """First day of each window (``datetime.date``)."""
        return self.season.bin_starts()


def patch_composite(patch, *, year: int | None = None, window_days: int = WINDOW_DAYS,
                    length_days: int = SEASON_LENGTH_DAYS, threshold: float = CLEAR_THRESHOLD,
                    max_gap_bins: int = MAX_GAP_BINS) -> PatchComposite:
    """5-day medians of every patch pixel with the training code (cloud mask, windows, gap filling)."""
    from gee_crop.features.composite import (arrays_from_stack, composite_medians, fill_gaps,
                                             infer_season_year, season_start_days)

    t, h, w, n_bands = patch.dn.shape
    dn = patch.dn.reshape(t, h * w, n_bands).transpose(1, 0, 2)
    cloud = patch.cloud.reshape(t, h * w).T
    arrays = arrays_from_stack(dn, cloud, patch.dates, patch.cloud_kind, threshold)
    _, lat = patch.lonlat()
    lat = lat.ravel()
    if year is None:
        year = infer_season_year(arrays, lat, length_days=length_days, threshold=threshold)
    n_bins = math.ceil(length_days / window_days)
    medians = composite_medians(arrays, season_start_days(lat, int(year)), window_days, n_bins)
    filled, keep = fill_gaps(medians, max_gap_bins)
    hemisphere = "south" if float(np.median(lat)) < 0 else "north"
    season = season_span(int(year), hemisphere, length_days=length_days, window_days=window_days)
    return PatchComposite(filled.transpose(0, 2, 1).reshape(h, w, n_bins, n_bands).transpose(0, 1, 3, 2),
                          keep.reshape(h, w), season)
