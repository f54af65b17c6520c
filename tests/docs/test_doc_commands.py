"""Every ``gee-crop ...`` and ``earthengine ...`` command written in a doc page (every ``*.md`` of the
repository outside tests/: README, docs/, ee_scripts/, models/, …) is exercised.

* every command names an existing subcommand, whose ``--help`` runs;
* every command of a code block parses with click exactly as written (options exist, values have
  the right type, required options are given); fragments (inline code in prose, or commands with a
  ``...`` / ``…`` placeholder) must use only options the command has;
* the commands of blocks marked ``<!-- doc-test: run -->`` run for real, in order, on the shipped
  patch in a temporary folder (the offline tour of docs/user_guide.md).

Commands that need Earth Engine (``--country``, ``--earthengine``, ``--region``) or the full demo run
(``gee-crop demo``, minutes; covered by tests/cli) are parsed only.

``earthengine ...`` commands are parsed, offline, by the argument parser of the installed earthengine-api
command-line tool (``ee.cli.eecli``), and its upload commands must pass the tool's own source check
(``ee.cli.commands._check_valid_files``: Cloud Storage ``gs://`` sources only, "Invalid Cloud Storage
URL" otherwise; google/earthengine-api python/ee/cli/commands.py,
https://developers.google.com/earth-engine/guides/command_line#upload). The label upload blocks are
generated from ``gee_crop.earthengine.labels.upload_command_lines`` (``python ee_scripts/update_tables.py``).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import ee
import pytest
from click.testing import CliRunner

from gee_crop.cli import COMMANDS, main
from gee_crop.testing.paths import REPO_ROOT, demo_patch_dir


def doc_pages(root: Path = REPO_ROOT) -> list[Path]:
    """Every ``*.md`` of the repository but tests/ (catalogues of faulty commands) and hidden or
    environment folders (``.venv``, ``.git``)."""
    pages = []
    for folder, subfolders, files in os.walk(root):
        rel = Path(folder).relative_to(root).parts
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in ("node_modules", "build")
                               and not (rel == () and d == "tests")
                               and not (Path(folder) / d / "pyvenv.cfg").exists())
        pages += [Path(folder) / f for f in sorted(files) if f.endswith(".md")]
    return sorted(pages)


DOCS = doc_pages()
RUN_MARKER = "<!-- doc-test: run -->"
PLACEHOLDERS = {"...", "…"}
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`([^`\n]+)`")
_ASSIGN = re.compile(r"^([A-Z_][A-Z0-9_]*)=(\S+)$")
_INDENTED = re.compile(r"^(?: {4,}|\t)((?:\S*/)?(?:gee-crop|earthengine) .*)$", re.M)  # indented code lines


@dataclass(frozen=True)
class DocCommand:
    source: str  # "docs/user_guide.md:42"
    args: tuple[str, ...]  # after "gee-crop", placeholders removed
    runnable: bool
    fragment: bool = False  # inline code in prose, or a command with a placeholder

    def __str__(self) -> str:
        return f"{self.source}: gee-crop {' '.join(self.args)}"


def _shell_commands(text: str) -> list[str]:
    """Simple shell commands of a code block: continuations joined, split on && ; |, comments dropped."""
    text = text.replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        commands += [part.strip() for part in re.split(r"&&|;|\|", line) if part.strip()]
    return commands


def _gee_crop_args(command: str, program: str = "gee-crop") -> tuple[tuple[str, ...], bool] | None:
    """(arguments after ``program`` without placeholders, whether a placeholder was there) or None."""
    if program not in command:
        return None  # prose in a code block (a room table, say) is no command, apostrophes and all
    tokens = shlex.split(command)
    for i, token in enumerate(tokens):
        if program == "earthengine" and i > 0:
            return None  # the word starts an earthengine command only (it also names a folder of the package)
        if token == program or token.endswith(f"/{program}"):
            rest = tokens[i + 1:]
            return tuple(t for t in rest if t not in PLACEHOLDERS), any(t in PLACEHOLDERS for t in rest)
    return None


def collect(paths: list[Path] = DOCS, program: str = "gee-crop") -> tuple[list[DocCommand], list[tuple[str, str, str]]]:
    """(every ``program`` command, the ``NAME=value`` assignments of runnable blocks).

    Commands are read from fenced blocks, from indented code lines and (as fragments) from inline code.
    """
    commands, assignments = [], []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(REPO_ROOT).as_posix()
        for block in _FENCE.finditer(text):
            runnable = text[:block.start()].rstrip().endswith(RUN_MARKER)
            line_no = text.count("\n", 0, block.start()) + 2
            for command in _shell_commands(block.group(1)):
                match = _ASSIGN.match(command)
                if match and runnable:
                    assignments.append((f"{rel}:{line_no}", match.group(1), match.group(2)))
                found = _gee_crop_args(command, program)
                if found is not None:
                    commands.append(DocCommand(f"{rel}:{line_no}", found[0], runnable, found[1]))
        prose = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for line in _INDENTED.finditer(prose):
            found = _gee_crop_args(line.group(1), program)
            if found is not None:
                line_no = text.count("\n", 0, line.start()) + 1
                commands.append(DocCommand(f"{rel}:{line_no}", found[0], False, found[1]))
        prose = _INDENTED.sub("", prose)
        for span in _INLINE.finditer(prose):
            found = _gee_crop_args(span.group(1), program) if program in span.group(1) else None
            if found is not None:
                line_no = text.count("\n", 0, span.start()) + 1
                commands.append(DocCommand(f"{rel}:{line_no}", found[0], False, True))
    return commands, assignments


COMMANDS_IN_DOCS, ASSIGNMENTS = collect()
EE_COMMANDS_IN_DOCS = collect(program="earthengine")[0]


def test_the_docs_hold_commands_for_every_step():
    named = {c.args[0] for c in COMMANDS_IN_DOCS if c.args}
    assert {"demo", "sample", "train", "evaluate", "export", "map"} <= named
    assert any(c.runnable for c in COMMANDS_IN_DOCS)


def test_collect_reads_blocks_inline_spans_and_placeholders(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.docs.test_doc_commands.REPO_ROOT", tmp_path)
    doc = tmp_path / "guide.md"
    doc.write_text("Run `gee-crop map ... --tile-size 128` now.\n\n" + RUN_MARKER + "\n```bash\nX=1\n"
                   ".venv/bin/gee-crop train t.parquet \\\n  --out r  # comment\n```\n"
                   "```\ncd x && gee-crop demo --no-map\n```\n", encoding="utf-8")
    commands, assignments = collect([doc])
    assert [(c.args, c.runnable, c.fragment) for c in commands] == [
        (("train", "t.parquet", "--out", "r"), True, False), (("demo", "--no-map"), False, False),
        (("map", "--tile-size", "128"), False, True)]
    assert assignments == [("guide.md:5", "X", "1")]


def test_collect_reads_indented_lines_and_earthengine_commands_of_every_page(tmp_path, monkeypatch):
    """Synthetic pages: indented command lines count; ``earthengine`` only where it starts a command;
    tests/ and hidden or environment folders are not doc pages."""
    monkeypatch.setattr("tests.docs.test_doc_commands.REPO_ROOT", tmp_path)
    (tmp_path / "sub").mkdir()
    doc = tmp_path / "sub" / "README.md"
    doc.write_text("Then:\n\n    gee-crop info m.pt\n\n```\nearthengine upload table --asset_id=a gs://b/x.zip\n"
                   "gee_crop/earthengine/  server side\n```\nor `earthengine upload image`.\n", encoding="utf-8")
    for hidden in ("tests", ".venv", "env"):
        (tmp_path / hidden).mkdir()
        (tmp_path / hidden / "x.md").write_text("`gee-crop nope`\n", encoding="utf-8")
    (tmp_path / "env" / "pyvenv.cfg").write_text("", encoding="utf-8")
    assert doc_pages(tmp_path) == [doc]
    assert [(c.source, c.args) for c in collect([doc])[0]] == [("sub/README.md:3", ("info", "m.pt"))]
    assert [(c.args, c.fragment) for c in collect([doc], "earthengine")[0]] == [
        (("upload", "table", "--asset_id=a", "gs://b/x.zip"), False), (("upload", "image"), True)]


@pytest.mark.parametrize("name", sorted({c.args[0] for c in COMMANDS_IN_DOCS if c.args}))
def test_documented_subcommand_exists_and_has_help(name):
    assert name in COMMANDS, f"the docs use `gee-crop {name}`, which is not a command"
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize("doc_command", COMMANDS_IN_DOCS, ids=str)
def test_documented_command_parses(doc_command, monkeypatch, tmp_path):
    monkeypatch.setenv("PATCH", str(demo_patch_dir()))
    args = [os.path.expandvars(a) for a in doc_command.args]
    for i, arg in enumerate(args):  # a FOLDER the reader names: an existing (empty) folder here
        if re.fullmatch(r"[A-Z][A-Z0-9_]*", arg) and not Path(arg).exists():
            (tmp_path / arg).mkdir(exist_ok=True)
            args[i] = str(tmp_path / arg)
    if not args:
        return  # bare `gee-crop`: the group's help, covered by the help test
    command = main.get_command(click.Context(main), args[0])
    assert command is not None, f"{doc_command}: unknown command"
    if doc_command.fragment:
        known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
        used = {a.split("=", 1)[0] for a in args[1:] if a.startswith("-")}
        assert used <= known, f"{doc_command}: no such option {sorted(used - known)}"
        return
    try:
        command.make_context(args[0], args[1:])
    except click.ClickException as exc:
        pytest.fail(f"{doc_command} does not parse: {exc.format_message()}")


def test_runnable_blocks_use_the_shipped_patch():
    values = {name: value for _, name, value in ASSIGNMENTS}
    assert "PATCH" in values
    if not os.environ.get("GEE_CROP_DATA"):
        assert (REPO_ROOT / values["PATCH"]).resolve() == demo_patch_dir().resolve()


def test_runnable_commands_run_offline_in_order(tmp_path, monkeypatch):
    """The offline tour as written: sample -> train -> evaluate -> export -> map on the real patch."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATCH", str(demo_patch_dir()))
    runner = CliRunner()
    runnable = [c for c in COMMANDS_IN_DOCS if c.runnable]
    assert [c.args[0] for c in runnable] == ["sample", "train", "evaluate", "export", "map"]
    for doc_command in runnable:
        result = runner.invoke(main, [os.path.expandvars(a) for a in doc_command.args])
        assert result.exit_code == 0, f"{doc_command}\n{result.output}"
    assert (tmp_path / "local.parquet").is_file() and (tmp_path / "runs/local/model.pt").is_file()
    assert (tmp_path / "runs/local/evaluation/metrics.json").is_file()
    assert (tmp_path / "local.onnx").is_file() and (tmp_path / "map_local/map.tif").is_file()
    areas = (tmp_path / "map_local/areas.csv").read_text().splitlines()
    assert areas[0] == "class,pixels,hectares,percent" and len(areas) == 8


# ----------------------------------------------------------------------------- earthengine commands


def earthengine_parser() -> argparse.ArgumentParser:
    """The earthengine tool's parser, built offline as ``ee.cli.eecli._run_command`` builds it (its three
    top-level flags, then the dispatcher of every command); nothing is sent anywhere."""
    from ee.cli import eecli

    parser = argparse.ArgumentParser(prog="earthengine")
    parser.add_argument("--ee_config")
    parser.add_argument("--service_account_file")
    parser.add_argument("--project", dest="project_override")
    eecli.CommandDispatcher(parser)
    return parser


def _subparser(parser: argparse.ArgumentParser, words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The sub-command parser the leading words of ``words`` name, and the words it did not use."""
    while words:
        choices = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not choices or words[0] not in choices[0].choices:
            break
        parser, words = choices[0].choices[words[0]], words[1:]
    return parser, words


def _parse_earthengine(args: list[str], capsys) -> argparse.Namespace:
    try:
        return earthengine_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"`earthengine {' '.join(args)}` is refused by the earthengine tool: {capsys.readouterr().err}")


def test_the_docs_hold_the_label_upload_commands():
    uploads = [c for c in EE_COMMANDS_IN_DOCS if c.args[:1] == ("upload",) and not c.fragment]
    assert {c.args[1] for c in uploads} == {"table", "image"}
    assert {c.source.split(":")[0] for c in uploads} >= {"docs/user_guide.md", "docs/earthengine.md"}


@pytest.mark.parametrize("doc_command", EE_COMMANDS_IN_DOCS,
                         ids=lambda c: f"{c.source}: earthengine {' '.join(c.args)}")
def test_documented_earthengine_command_is_accepted_by_the_earthengine_tool(doc_command, capsys):
    """Parsed by the installed tool's own parser; uploads name Cloud Storage sources (the tool refuses
    others before any request) and label rasters keep MODE pyramids."""
    from ee.cli import commands as ee_commands

    args = list(doc_command.args)
    shown = f"{doc_command.source}: earthengine {' '.join(args)}"
    if doc_command.fragment:
        parser, rest = _subparser(earthengine_parser(), args)
        known = {opt for a in parser._actions for opt in a.option_strings}
        used = {a.split("=", 1)[0] for a in rest if a.startswith("-")}
        assert parser.prog != "earthengine" or not args, f"{shown}: no such earthengine command"
        assert used <= known, f"{shown}: no such option {sorted(used - known)}"
        return
    parsed = _parse_earthengine(args, capsys)
    if getattr(parsed, "main_cmd", None) == "upload":
        sources = parsed.src_files if parsed.upload_cmd == "image" else parsed.src_file
        try:
            ee_commands._check_valid_files(sources)
        except ee.EEException as exc:  # raised by the tool before it sends anything
            pytest.fail(f"{shown}: {exc}")
        if parsed.upload_cmd == "image" and "/gee-crop/labels/" in parsed.asset_id:
            assert parsed.pyramiding_policy == ["MODE"], f"{shown}: label codes need MODE pyramids"


def test_earthengine_check_refuses_what_the_tool_refuses(capsys):
    """The check is not vacuous: the commands the user guide showed at b21929b fail it (synthetic args)."""
    from ee.cli import commands as ee_commands

    table = _parse_earthengine(shlex.split("upload table --asset_id=projects/p/assets/x Lbgbrprc23.zip"), capsys)
    with pytest.raises(ee.EEException, match="Invalid Cloud Storage URL"):
        ee_commands._check_valid_files(table.src_file)
    image = _parse_earthengine(shlex.split("upload image --asset_id=projects/p/assets/x gs://b/soy.tif"), capsys)
    assert image.pyramiding_policy is None  # the tool's default (MEAN pyramids)
    with pytest.raises(SystemExit):
        earthengine_parser().parse_args(["upload", "table", "--pyramiding_policy=MODE", "--asset_id=a", "gs://b/x"])


def _generator():
    spec = importlib.util.spec_from_file_location("update_tables", REPO_ROOT / "ee_scripts" / "update_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_upload_blocks_are_generated_from_labels_upload_command_lines():
    """The docs' upload commands are ``labels.upload_command_lines`` (what ``gee-crop sample`` prints)."""
    from gee_crop.countries import country_spec
    from gee_crop.earthengine.labels import upload_command_lines, upload_commands

    generator = _generator()
    for page, examples in generator.DOC_UPLOADS.items():
        text = (REPO_ROOT / page).read_text(encoding="utf-8")
        assert generator.DOC_BEGIN in text, f"{page} has no generated upload block"
        assert generator.update_doc(text, examples) == text, f"{page}: run python ee_scripts/update_tables.py"
    spec = country_spec("ARG")
    lines = upload_command_lines(spec, "projects/p/assets/a", "soy.tif")
    assert lines == ["gcloud storage cp soy.tif gs://BUCKET/",
                     "earthengine upload image --asset_id=projects/p/assets/a --pyramiding_policy=MODE gs://BUCKET/soy.tif"]
    assert all(f"`{line.replace('soy.tif', 'LABELS.tif')}`" in upload_commands(spec, "projects/p/assets/a")
               for line in lines)
