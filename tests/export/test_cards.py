"""Model cards as the terminal shows them: `gee-crop info` on a shipped model prints its text as written."""
from __future__ import annotations

import re

from click.testing import CliRunner

from gee_crop.cli import main


def test_info_of_a_zoo_model_prints_no_html_entities():
    result = CliRunner().invoke(main, ["info", "tempcnn-weu"])
    assert result.exit_code == 0, result.output
    card = result.output.split("## The exported file's card", 1)[1]  # the card read from the ONNX file
    assert re.findall(r"&(?:[a-z]+|#x?[0-9a-f]+);", result.output, flags=re.I) == []
    assert "Method: Tong & Wang, Invariant Features" in card
    assert "bands in 'bands' order" in card and "(the paper's transfers" in card


def test_an_error_quoting_hostile_text_prints_it_inert():
    result = CliRunner().invoke(main, ["info", "no-such-model\x1b]0;pwned\x07\x1b[2J"])
    assert result.exit_code == 1
    assert "no-such-model" in result.output and "\x1b" not in result.output and "pwned" not in result.output
