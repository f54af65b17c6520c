"""The command line's shape: shared options defined once, help everywhere, one --out rule, exit codes,
hidden aliases of renamed options, and `sample`'s options on both paths."""
from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gee_crop import cli
from gee_crop.cli import COMMANDS, main, options
from gee_crop.config import (AUTO_ARCH, EMIT_FEATURE_MONTHS, S2_EMIT_FEATURE_MONTHS, Arch, CloudBand, FeatureKind,
                             Precision)
from gee_crop.data.table import read_table

CLI_DIR = Path(cli.__file__).parent


def _commands() -> dict[str, click.Command]:
    """Every command and sub-command, by its full name (``assess design``)."""
    found: dict[str, click.Command] = {}

    def walk(name: str, command: click.Command) -> None:
        found[name] = command
        if isinstance(command, click.Group):
            for sub_name, sub in command.commands.items():
                walk(f"{name} {sub_name}", sub)

    for name in COMMANDS:
        walk(name, main.get_command(click.Context(main), name))
    return found


COMMANDS_BY_NAME = _commands()


def _canonical(decorator) -> click.Option:
    """The option a shared decorator declares."""
    return click.command()(decorator(lambda **kwargs: None)).params[0]


def _signature(option: click.Option) -> tuple:
    return (option.name, tuple(option.opts), option.help, option.default, repr(option.type), option.is_flag,
            option.hidden, getattr(option, "hidden_aliases", ()))


@pytest.mark.parametrize("name", sorted(options.SHARED))
def test_each_shared_option_is_defined_once_and_used_as_defined(name):
    canonical = _canonical(options.SHARED[name])
    users = {command_name: param for command_name, command in COMMANDS_BY_NAME.items()
             for param in command.params if set(param.opts) & set(canonical.opts)}
    assert len(users) >= 2, f"{name} is shared by {sorted(users)} only"
    for command_name, param in users.items():
        assert _signature(param) == _signature(canonical), f"`gee-crop {command_name}` redefines {canonical.opts[0]}"


def test_no_command_module_spells_a_shared_option_itself():
    flags = {opt for decorator in options.SHARED.values() for opt in _canonical(decorator).opts} | {"--out"}
    for path in sorted(CLI_DIR.glob("*.py")):
        if path.name == "options.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "option":
                spelled = {a.value for a in node.args if isinstance(a, ast.Constant)}
                assert not spelled & flags, f"{path.name} defines {sorted(spelled & flags)}; use cli/options.py"


@pytest.mark.parametrize("command_name", sorted(COMMANDS_BY_NAME))
def test_every_option_has_help(command_name):
    command = COMMANDS_BY_NAME[command_name]
    missing = [p.opts[0] for p in command.get_params(click.Context(command))
               if isinstance(p, click.Option) and not (p.help or "").strip()]
    assert not missing, f"`gee-crop {command_name}`: options without help: {missing}"
    assert (command.help or "").strip(), f"`gee-crop {command_name}` has no help"


@pytest.mark.parametrize("command_name", sorted(COMMANDS_BY_NAME))
def test_out_says_whether_it_is_a_file_or_a_folder(command_name):
    outs = [p for p in COMMANDS_BY_NAME[command_name].params if "--out" in getattr(p, "opts", ())]
    for out in outs:
        kind = out.metavar
        assert kind in ("FILE", "DIR"), f"`gee-crop {command_name} --out` is neither FILE nor DIR"
        assert out.help.startswith(kind)
        assert (out.type.file_okay, out.type.dir_okay) == ((True, False) if kind == "FILE" else (False, True))


def test_choices_are_the_values_of_the_config_enums():
    def choices(command: str, flag: str) -> list[str]:
        (param,) = [p for p in COMMANDS_BY_NAME[command].params if flag in p.opts]
        return list(param.type.choices)

    assert choices("sample", "--cloud-band") == choices("map", "--cloud-band") == list(CloudBand.values())
    assert choices("map", "--precision") == list(Precision.values())
    assert choices("train", "--arch") == [*Arch.values(), AUTO_ARCH]  # auto: chosen by cross-validation
    # EMIT tables, and S2 tables joined with an EMIT table (issue 25)
    assert choices("train", "--features") == [*FeatureKind.values(), *EMIT_FEATURE_MONTHS, *S2_EMIT_FEATURE_MONTHS]


def test_renamed_threshold_keeps_its_old_spelling_hidden():
    sample = COMMANDS_BY_NAME["sample"]
    for flag in ("--cloud-threshold", "--threshold"):
        ctx = sample.make_context("sample", [flag, "0.6", "--out", "x.parquet"])
        assert ctx.params["cloud_threshold"] == 0.6
    help_text = CliRunner().invoke(main, ["sample", "--help"]).output
    assert "--cloud-threshold" in help_text and "--threshold" not in help_text.replace("--cloud-threshold", "")
    train = COMMANDS_BY_NAME["train"]
    assert train.make_context("train", ["t.parquet", "--out", "r", "--cloud-threshold", "0.5"]).params[
        "cloud_threshold"] == 0.5


def test_per_cell_zero_is_a_usage_error(tmp_path, patch_dir):
    result = CliRunner().invoke(main, ["sample", "--source", str(patch_dir), "--per-cell", "0",
                                       "--out", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2 and "--per-cell" in result.output and not (tmp_path / "x.parquet").exists()


@pytest.fixture
def sample_calls(monkeypatch):
    """The one request `gee-crop sample` hands its pipeline function (which does nothing here)."""
    import gee_crop.pipeline.sample as pipeline_sample

    calls: list = []
    monkeypatch.setattr(pipeline_sample, "sample", lambda request, echo=print: calls.append(request) or "sampled")
    return calls


@pytest.fixture
def planned_years(monkeypatch):
    """The season year of every Earth Engine job `gee-crop sample` plans; the job is not run (its tiles
    stay pending) and no server is reached."""
    import types

    import gee_crop.pipeline.sample as pipeline_sample
    from gee_crop.earthengine import client as ee_client
    from gee_crop.earthengine.tasks import SamplingResult

    years: list[int] = []
    planned = pipeline_sample.plan

    def plan(request):
        result = planned(request)
        years.append(result.job.year)
        return result

    monkeypatch.setattr(pipeline_sample, "plan", plan)
    monkeypatch.setattr(pipeline_sample, "run_tiles", lambda *args, **kwargs: (
        SamplingResult(None, "export", 1, 0, pending_tasks=["tile0"], message="not run here"), None))
    monkeypatch.setattr(ee_client, "get_client", lambda **kwargs: types.SimpleNamespace(project="p"))
    return years


@pytest.mark.parametrize("where", [("--country", "FRA", "--project", "p"), ("--source", "PATCH")])
def test_spacing_m_reaches_both_paths(sample_calls, where):
    result = CliRunner().invoke(main, ["sample", *where, "--spacing-m", "30", "--out", "x.parquet"])
    assert result.exit_code == 0, result.output
    assert sample_calls[0].rules.spacing_m == 30.0


def test_year_defaults_to_the_latest_complete_season_on_earth_engine_only(planned_years, tmp_path):
    # issue 11: the default was the paper's 2023; it is now the latest complete season of the
    # country's hemisphere (FRA: north), named on the first output line
    from gee_crop.features.seasons import latest_complete_season

    out = str(tmp_path / "x.parquet")
    first = CliRunner().invoke(main, ["sample", "--country", "FRA", "--out", out])
    CliRunner().invoke(main, ["sample", "--country", "FRA", "--year", "2019", "--out", out])
    CliRunner().invoke(main, ["sample", "--source", "PATCH", "--out", out])  # a local stack plans no season year
    assert planned_years == [latest_complete_season("north"), 2019]
    assert "most recent complete northern-hemisphere season" in first.output.splitlines()[0]
    assert first.exit_code == 0 and "not run here" in first.output


@pytest.mark.parametrize("extra", [("--year", "2019"), ("--project", "p"), ("--threshold", "0.5"),
                                   ("--mode", "export"), ("--cloud-band", "cs_cdf"), ("--no-wait",), ("--dry-run",)])
def test_source_refuses_earth_engine_options(sample_calls, extra):
    result = CliRunner().invoke(main, ["sample", "--source", "PATCH", *extra, "--out", "x.parquet"])
    assert result.exit_code == 2 and not sample_calls
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "only apply to Earth Engine" in lines[0]
    assert (extra[0] if extra[0] != "--threshold" else "--cloud-threshold") in lines[0]


def test_spacing_m_changes_a_local_sample(tmp_path, patch_dir):
    counts = {}
    for spacing in ("60", "10"):
        out = tmp_path / f"s{spacing}.parquet"
        result = CliRunner().invoke(main, ["sample", "--source", str(patch_dir), "--buffer-m", "10",
                                           "--per-cell", "1000", "--spacing-m", spacing, "--out", str(out)])
        assert result.exit_code == 0, result.output
        counts[spacing] = len(read_table(out))
    assert 0 < counts["60"] < counts["10"]


def test_a_user_error_exits_1_on_one_line_and_a_usage_error_exits_2(tmp_path):
    junk = tmp_path / "notes.onnx"
    junk.write_text("hello")
    result = CliRunner().invoke(main, ["info", str(junk)])
    assert isinstance(result.exception, SystemExit), result.exception  # handled, not raised
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and str(junk) in lines[0]
    assert "Traceback" not in result.output
    usage = CliRunner().invoke(main, ["info", str(junk), "--no-such-option"])
    assert usage.exit_code == 2 and "No such option" in usage.output
