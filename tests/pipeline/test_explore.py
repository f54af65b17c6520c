"""pipeline/explore: the notebooks' live-or-offline decision (no socket either way) and the offline
loaders on real data."""
from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from gee_crop.classes import CLASSES
from gee_crop.earthengine.client import PROJECT_ENV_VARS
from gee_crop.pipeline import explore as session


@pytest.fixture(scope="module")
def patch():
    return session.demo_patch()


@pytest.fixture(scope="module")
def reference(patch):
    return patch.classes  # (H, W) uint8 class indices of the labels


@pytest.fixture(scope="module")
def composite(patch):
    return session.patch_composite(patch)


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    """A home without any Google credentials and no project variables."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", session.OFFLINE_ENV, *PROJECT_ENV_VARS):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _write_ee_credentials(home, **content):
    path = home / ".config" / "earthengine" / "credentials"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"refresh_token": "not-a-real-token", **content}))
    return path


def test_no_credentials_falls_back_with_a_visible_note(no_credentials):
    printed = []
    result = session.start_session(echo=printed.append)
    assert not result.live
    assert "earthengine authenticate" in result.reason
    assert printed == [result.note]
    assert "shipped real data" in result.note and "Earth Engine is not available" in result.note
    assert result.markdown().startswith("> **Offline fallback**")
    from gee_crop.testing.offline_ee import is_offline

    assert is_offline()  # graphs can still be built after the fallback


def test_offline_variable_wins_over_credentials(no_credentials, monkeypatch):
    _write_ee_credentials(no_credentials, project="my-proj")
    monkeypatch.setenv(session.OFFLINE_ENV, "1")
    assert session.start_session(echo=None).reason == f"{session.OFFLINE_ENV} is set"
    monkeypatch.setenv(session.OFFLINE_ENV, "0")  # "0" does not force the fallback
    assert session.credentials_file() == no_credentials / ".config" / "earthengine" / "credentials"


def test_credentials_without_project_stay_offline(no_credentials):
    _write_ee_credentials(no_credentials)
    result = session.start_session(echo=None)
    assert not result.live and "EE_PROJECT" in result.reason


def test_project_from_the_credentials_file_and_a_failed_initialise(no_credentials, monkeypatch):
    from gee_crop.earthengine.client import EarthEngineClient
    from gee_crop.errors import EarthEngineError

    _write_ee_credentials(no_credentials, project="proj-from-file")
    seen = []

    def refuse(project, **kwargs):
        seen.append(project)
        raise EarthEngineError("could not initialise Earth Engine for project 'proj-from-file': denied")

    monkeypatch.setattr(EarthEngineClient, "initialize", staticmethod(refuse))
    result = session.start_session(echo=None)
    assert seen == ["proj-from-file"]
    assert not result.live and "denied" in result.reason and result.project == "proj-from-file"


def test_no_network_with_credentials_still_falls_back(no_credentials, monkeypatch):
    from gee_crop.earthengine.client import EarthEngineClient

    _write_ee_credentials(no_credentials, project="p")

    def unreachable(project, **kwargs):
        raise OSError("Unable to find the server at oauth2.googleapis.com")

    monkeypatch.setattr(EarthEngineClient, "initialize", staticmethod(unreachable))
    result = session.start_session(echo=None)
    assert not result.live and "Unable to find the server" in result.reason


def test_live_when_initialise_succeeds(no_credentials, monkeypatch):
    from gee_crop.earthengine.client import EarthEngineClient

    adc = no_credentials / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir()
    adc.write_text("{}")
    monkeypatch.setenv("EE_PROJECT", "env-proj")
    monkeypatch.setattr(EarthEngineClient, "initialize", staticmethod(lambda project, **kw: None))
    assert session.earthengine_available()
    result = session.start_session(echo=None)
    assert result.live and result.project == "env-proj" and "runs live" in result.note


def test_patch_composite_matches_the_training_features(patch, composite):
    """The offline composite of a pixel is exactly what training computes for that pixel's series."""
    from gee_crop.data.patch import patch_pixels
    from gee_crop.features.composite import median_features

    assert composite.reflectance.shape == (64, 64, 10, 43)
    assert composite.season.start.isoformat() == "2019-05-01"
    rows, cols = np.array([0, 17, 40, 63]), np.array([3, 50, 22, 63])
    features = median_features(patch_pixels(patch, rows, cols), year=2019)
    np.testing.assert_allclose(composite.reflectance[rows, cols], features.values, rtol=0, atol=1e-7)
    assert np.array_equal(composite.keep[rows, cols], features.keep)


def test_demo_samples_and_footprint(patch, reference):
    samples = session.demo_samples(patch)
    counts = dict(zip(*np.unique(samples.crop_class.astype(str), return_counts=True)))
    assert set(counts) == {"corn", "wheat", "other"}
    assert all(n > 50 for n in counts.values())
    # every sample sits on a pixel whose reference class is its class
    assert (reference[samples.extra["row"], samples.extra["col"]]
            == np.array([CLASSES.index(c) for c in samples.crop_class])).all()
    footprint = session.patch_footprint(patch)
    assert shapely.contains_xy(footprint, samples.lon, samples.lat).all()
    assert footprint.area == pytest.approx(640 * 640 / (111_320 ** 2 * np.cos(np.radians(50.746))), rel=0.01)
