"""Live Earth Engine or the shipped real data: the choice every example notebook makes first.

:func:`start_session` initialises Earth Engine only when credentials exist on disk (so a machine
without an account never opens a socket: ``ee.Initialize`` would otherwise probe Google's metadata
server), and otherwise initialises ``ee`` offline (graphs can still be built and inspected) and
says, visibly, that the notebook falls back to the shipped Flanders 2019 Earth Engine patch.
Setting ``GEE_CROP_OFFLINE=1`` forces the fallback (CI runs the notebooks that way).

The loaders below give the notebooks the offline stand-ins of what Earth Engine would return: the
raw patch, samples drawn from it with the demo's sampling rules (both from :mod:`gee_crop.data.demo`),
and its 5-day median composite (the training code's :func:`~gee_crop.features.composite.composite_pixels`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gee_crop.data.demo import PatchComposite, demo_patch, demo_samples, patch_composite, patch_footprint
from gee_crop.earthengine.client import EarthEngineClient, credentials_file, find_credentials, project_from_env, redact
from gee_crop.earthengine.offline import initialize_offline
from gee_crop.errors import GeeCropError

__all__ = [
    "FALLBACK_DATA",
    "OFFLINE_ENV",
    "NotebookSession",
    "PatchComposite",
    "credentials_file",
    "demo_patch",
    "demo_samples",
    "earthengine_available",
    "patch_composite",
    "patch_footprint",
    "start_session",
]

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
        return (
            f"NOTE: Earth Engine is not available ({self.reason}), so this notebook uses {FALLBACK_DATA} "
            "instead of live requests."
        )

    def markdown(self) -> str:
        """The note as a Markdown block quote (for ``IPython.display.Markdown``)."""
        return f"> **{'Live Earth Engine' if self.live else 'Offline fallback'}** — {self.note}"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no")


def _project_from(credentials: Path) -> str | None:
    """The Cloud project saved with the stored credentials (``earthengine set_project``), if any."""
    try:
        return find_credentials().project
    except GeeCropError:
        return None


def start_session(project: str | None = None, *, echo: Callable[[str], None] | None = print) -> NotebookSession:
    """Initialise Earth Engine live when possible, else offline; ``echo`` the note saying which.

    Live needs: ``GEE_CROP_OFFLINE`` unset, a credentials file (see :func:`credentials_file`), a
    Cloud project (``project``, $EE_PROJECT, $GOOGLE_CLOUD_PROJECT or the one in the credentials
    file) and a successful ``ee.Initialize``. Never raises for a missing account.
    """
    session = _decide(project)
    if not session.live:
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
    project = project_from_env(project) or _project_from(credentials)
    if not project:
        return NotebookSession(
            False, None, "no Cloud project; set EE_PROJECT to a project registered for Earth Engine to go live"
        )
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
