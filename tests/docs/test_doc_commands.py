"""Every ``gee-crop ...`` command written in the README and in docs/*.md is exercised.

* every command names an existing subcommand, whose ``--help`` runs;
* every command of a code block parses with click exactly as written (options exist, values have
  the right type, required options are given); fragments (inline code in prose, or commands with a
  ``...`` / ``…`` placeholder) must use only options the command has;
* the commands of blocks marked ``<!-- doc-test: run -->`` run for real, in order, on the shipped
  patch in a temporary folder (the offline tour of docs/user_guide.md).

Commands that need Earth Engine (``--country``, ``--earthengine``, ``--region``) or the full demo run
(``gee-crop demo``, minutes; covered by tests/cli) are parsed only.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gee_crop.cli import COMMANDS, main
from gee_crop.testing.paths import REPO_ROOT, demo_patch_dir

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
RUN_MARKER = "<!-- doc-test: run -->"
PLACEHOLDERS = {"...", "…"}
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`([^`\n]+)`")
_ASSIGN = re.compile(r"^([A-Z_][A-Z0-9_]*)=(\S+)$")


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


def _gee_crop_args(command: str) -> tuple[tuple[str, ...], bool] | None:
    """(arguments after ``gee-crop`` without placeholders, whether a placeholder was there) or None."""
    tokens = shlex.split(command)
    for i, token in enumerate(tokens):
        if token == "gee-crop" or token.endswith("/gee-crop"):
            rest = tokens[i + 1:]
            return tuple(t for t in rest if t not in PLACEHOLDERS), any(t in PLACEHOLDERS for t in rest)
    return None


def collect(paths: list[Path] = DOCS) -> tuple[list[DocCommand], list[tuple[str, str, str]]]:
    """(every gee-crop command, the ``NAME=value`` assignments of runnable blocks)."""
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
                found = _gee_crop_args(command)
                if found is not None:
                    commands.append(DocCommand(f"{rel}:{line_no}", found[0], runnable, found[1]))
        prose = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for span in _INLINE.finditer(prose):
            found = _gee_crop_args(span.group(1)) if "gee-crop" in span.group(1) else None
            if found is not None:
                line_no = text.count("\n", 0, span.start()) + 1
                commands.append(DocCommand(f"{rel}:{line_no}", found[0], False, True))
    return commands, assignments


COMMANDS_IN_DOCS, ASSIGNMENTS = collect()


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


@pytest.mark.parametrize("name", sorted({c.args[0] for c in COMMANDS_IN_DOCS if c.args}))
def test_documented_subcommand_exists_and_has_help(name):
    assert name in COMMANDS, f"the docs use `gee-crop {name}`, which is not a command"
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize("doc_command", COMMANDS_IN_DOCS, ids=str)
def test_documented_command_parses(doc_command, monkeypatch):
    monkeypatch.setenv("PATCH", str(demo_patch_dir()))
    args = [os.path.expandvars(a) for a in doc_command.args]
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
