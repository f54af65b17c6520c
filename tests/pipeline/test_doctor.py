"""`gee-crop doctor`: end to end on the service double backed by the shipped patch, its refusal without
credentials before any network access (the network guard of tests/netguard fails any socket), the
Service Usage Consumer refusal, and the measured rates the dry runs then read."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.data.demo import demo_patch, patch_footprint
from gee_crop.earthengine import client as ee_client
from gee_crop.earthengine.client import StoredCredentials, eecu_seconds
from gee_crop.earthengine.quota import tier_line, tier_needed
from gee_crop.features.spec import FeatureSpec
from gee_crop.mapping.doctor import PROBE_YEAR
from gee_crop.pipeline import doctor as doctor_pipeline
from gee_crop.pipeline.map import pilot_rates
from gee_crop.testing.doctor_double import offline_double

CHECKS = ["credentials", "project role", "asset root", "sampling request", "map request", "parity"]


@pytest.fixture
def config_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("GEE_CROP_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def empty_home(tmp_path, monkeypatch) -> Path:
    """A home without any stored Google credentials and no project variables."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", *ee_client.PROJECT_ENV_VARS):
        monkeypatch.delenv(var, raising=False)
    return home


def _double(project="my-proj", **kwargs):
    spec = FeatureSpec()
    season = spec.season.span_at(PROBE_YEAR, patch_footprint(demo_patch()).centroid.y)
    return offline_double(spec, season, project, **kwargs)


def test_doctor_runs_end_to_end_on_the_double(tmp_path, monkeypatch, config_dir):
    """The command as a user runs it, connected (by the test) to the double backed by the shipped patch."""
    _connected(monkeypatch, _double())
    out = tmp_path / "doctor"
    result = CliRunner().invoke(cli.main, ["doctor", "--project", "my-proj", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()
    for name in CHECKS:
        assert any(r.startswith(name) and " pass " in r for r in rows), (name, result.output)
    saved = json.loads((out / "doctor.json").read_text())
    assert saved["ok"] is True and [c["name"] for c in saved["checks"]] == CHECKS
    by_name = {c["name"]: c for c in saved["checks"]}
    assert by_name["credentials"]["measured"] == {"kind": "earthengine", "project": "my-proj"}
    assert by_name["map request"]["measured"]["pixels"] == 64 * 64
    assert by_name["map request"]["measured"]["eecu_seconds"] > 0
    assert by_name["sampling request"]["measured"]["rows"] > 0
    assert by_name["sampling request"]["measured"]["eecu_seconds"] > 0
    assert "20 of 20 points compared" in by_name["parity"]["detail"]
    assert (config_dir / "pilot.json").is_file()  # the measured rates, for the dry runs


def test_there_is_no_offline_mode_a_user_could_mistake_for_a_real_check(tmp_path):
    result = CliRunner().invoke(cli.main, ["doctor", "--offline", "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "No such option '--offline'" in result.output


def test_without_credentials_it_refuses_in_one_line_before_any_network_access(tmp_path, empty_home, config_dir):
    """The network guard is on: any socket (ee.Initialize probing the metadata server, a token request)
    would raise NetworkAccessError and show as a traceback instead of the one line."""
    out = tmp_path / "doctor"
    result = CliRunner().invoke(cli.main, ["doctor", "--project", "my-proj", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no Earth Engine credentials"), result.output
    assert "earthengine authenticate" in lines[0]
    assert not out.exists() and not (config_dir / "pilot.json").exists()


def _connected(monkeypatch, double):
    stored = StoredCredentials("earthengine", Path("/nonexistent/credentials"), "my-proj")
    monkeypatch.setattr(ee_client, "find_credentials", lambda key=None: stored)
    monkeypatch.setattr(ee_client, "get_client", lambda project, service_account_key=None: double)


def test_measured_rates_go_to_the_pilot_file_the_map_dry_run_reads(tmp_path, monkeypatch, config_dir):
    _connected(monkeypatch, _double())
    report = doctor_pipeline.doctor(doctor_pipeline.DoctorRequest(out=tmp_path / "doctor", project="my-proj"))
    assert report.ok, report.lines()
    assert report.rates_file == config_dir / "pilot.json"
    saved = json.loads(report.rates_file.read_text())
    map_check = next(c for c in report.checks if c.name == "map request")
    assert saved["eecu_seconds_per_pixel"] == pytest.approx(map_check.measured["eecu_seconds"] / 4096)
    assert saved["seconds_per_request"] == pytest.approx(map_check.measured["seconds"])
    # a map without a pilot of its own is priced at the doctor's rates
    rates = pilot_rates(tmp_path / "some_map")
    assert rates is not None and rates.source == str(config_dir / "pilot.json")
    assert rates.eecu_seconds_per_pixel == pytest.approx(saved["eecu_seconds_per_pixel"])
    assert rates.seconds_per_request == pytest.approx(saved["seconds_per_request"])


def test_a_project_without_the_service_usage_role_fails_with_its_fix(tmp_path, monkeypatch, config_dir):
    _connected(monkeypatch, _double(refuse_project=True))
    out = tmp_path / "doctor"
    result = CliRunner().invoke(cli.main, ["doctor", "--project", "my-proj", "--out", str(out)])
    assert result.exit_code == 1, result.output
    row = next(r for r in result.output.splitlines() if r.startswith("project role"))
    assert " FAIL " in row and "Caller does not have required permission to use project my-proj" in row
    assert "fix project role: grant your account the Service Usage Consumer role" in result.output
    assert "roles/serviceusage.serviceUsageConsumer" in result.output
    saved = json.loads((out / "doctor.json").read_text())
    assert [c["status"] for c in saved["checks"]] == ["pass", "FAIL", "not run", "not run", "not run", "not run"]
    assert not (config_dir / "pilot.json").exists()


def test_eecu_seconds_sum_the_text_profile_first_column():
    """Synthetic: the text format of Profile.getProfiles (header, rows, '-' where nothing was computed)."""
    text = (" EECU·s PeakMem Count  Description\n  0.072     47k    44  (plumbing)\n"
            "  1.500    124k    14  Algorithm Image.reduceRegion\n   -        59k    12  Loading\n")
    assert eecu_seconds(text) == pytest.approx(1.572)
    assert eecu_seconds("") == 0


@pytest.mark.parametrize("hours, tier", [(0.5, "Community"), (150, "Community"), (151, "Contributor"),
                                         (1000, "Contributor"), (5000, "Partner"), (200_000, None)])
def test_the_noncommercial_tier_a_job_needs(hours, tier):
    assert tier_needed(hours) == tier
    assert (tier or "above every") in tier_line(hours)
