"""The service double the tests of ``gee-crop doctor`` connect to: the fake Earth Engine client
(:mod:`gee_crop.testing.fake_ee`, backed by the shipped patch) with the patch's composite behind
``computePixels`` (:mod:`gee_crop.testing.fake_ee_patch`) and a profiler.

The profiler is synthetic and says so: every request served inside ``profile_scope`` reports a profile id,
and ``profile_text`` answers in the text format of ``Profile.getProfiles`` (``EECU·s PeakMem Count
Description``) with EECU-seconds proportional to the answer's size. ``refuse_project`` answers every request
as Earth Engine answers a caller without ``serviceusage.services.use`` on the project (HTTP 403).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gee_crop.data.demo import demo_patch
from gee_crop.features.spec import FeatureSpec
from gee_crop.season import SeasonSpan
from gee_crop.testing.fake_ee import FakeEarthEngineClient, injected_error
from gee_crop.testing.fake_ee_patch import PatchComputePixels
from gee_crop.testing.offline_ee import OFFLINE_PROJECT, initialize_offline

#: synthetic EECU-seconds of a request: a fixed part and one per KiB of answer
EECU_S_PER_REQUEST, EECU_S_PER_KIB = 0.05, 0.002
SERVICE_USAGE_REFUSAL = (
    "Caller does not have required permission to use project {project}. Grant the caller the "
    "roles/serviceusage.serviceUsageConsumer role, or a custom role with the serviceusage.services.use "
    "permission, by visiting https://console.developers.google.com/iam-admin/iam/project?project={project} "
    "and then retry. Propagation of the new permission may take a few minutes."
)


class DoctorDouble(FakeEarthEngineClient):
    """:class:`FakeEarthEngineClient` with the patch's composite, a synthetic profiler and folders that a
    delete removes."""

    def __init__(self, spec: FeatureSpec, season: SeasonSpan, *, refuse_project: bool = False, **kwargs: Any) -> None:
        self.patch_pixels = PatchComputePixels(demo_patch(), spec, season)
        super().__init__(pixels=self.patch_pixels.compute_pixels, **kwargs)
        self.refuse_project = refuse_project
        self._hook: Callable[[str], None] | None = None
        self.profiles: dict[str, float] = {}

    def _serve(self, what: str, fn: Callable, *args: Any, **strict: Any) -> Any:
        if self.refuse_project:
            message = SERVICE_USAGE_REFUSAL.format(project=self.project)

            def refuse(*_: Any) -> Any:
                raise injected_error(403, message)

            return super()._serve(what, refuse, *args, **strict)
        result = super()._serve(what, fn, *args, **strict)
        if self._hook is not None:
            profile_id = f"offline-profile-{len(self.profiles)}"
            self.profiles[profile_id] = EECU_S_PER_REQUEST + EECU_S_PER_KIB * _size(result) / 1024
            self._hook(profile_id)
        return result

    def profile_scope(self, hook: Callable[[str], None]) -> Any:
        double = self

        class Scope:
            def __enter__(self) -> None:
                self.saved, double._hook = double._hook, hook

            def __exit__(self, *exc: object) -> None:
                double._hook = self.saved

        return Scope()

    def profile_text(self, ids: list[str]) -> str:
        rows = [f"{self.profiles[i]:7.3f}     1k     1  (offline double, synthetic)" for i in ids]
        return "\n".join([" EECU·s PeakMem Count  Description", *rows])

    def delete_asset(self, asset_id: str) -> None:
        super().delete_asset(asset_id)
        self.folders.discard(asset_id)


def _size(result: Any) -> int:
    if isinstance(result, np.ndarray):
        return int(result.nbytes)
    return len(repr(result))


def offline_double(
    spec: FeatureSpec, season: SeasonSpan, project: str = OFFLINE_PROJECT, *, refuse_project: bool = False
) -> DoctorDouble:
    """The double, with ``ee`` initialised offline (graphs can be built, nothing is sent)."""
    initialize_offline(project)
    return DoctorDouble(spec, season, project=project, refuse_project=refuse_project)
