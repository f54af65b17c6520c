"""Escaping for the medium (viz.text): hostile text from a file is inert in a terminal, a Markdown file and an
HTML page, and ordinary text is shown as written. Pure string logic: the inputs are synthetic, written to
hold every kind of sequence a terminal or renderer acts on."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from gee_crop.viz.plots import plot_confusion
from gee_crop.viz.text import REPLACEMENT, escape_strings, for_figure, for_html, for_markdown, for_terminal

SCRIPT = "<script>alert(1)</script>"
OSC_TITLE = "\x1b]0;pwned\x07"            # sets the terminal's window title
OSC_LINK = "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\"  # a hyperlink, ST-terminated
CSI_COLOUR = "\x1b[31;1m"                 # red, bold
C1_CSI = "\x9b2J"                         # clears the screen (8-bit CSI)
BIDI = "\u202e"                           # right-to-left override
HOSTILE = f"{SCRIPT}{OSC_TITLE}{CSI_COLOUR}a|b{C1_CSI}{OSC_LINK}{BIDI}\r[x](http://evil)"


def visible_controls(text: str) -> list[str]:
    return [ch for ch in text if ch in "\x1b\x9b\x07\r\u202e"]


@pytest.mark.parametrize("escaper", [for_terminal, for_markdown, for_html])
def test_no_control_sequence_or_its_payload_survives_any_medium(escaper):
    text = escaper(HOSTILE)
    assert visible_controls(text) == [] and "pwned" not in text and "31;1m" not in text and "2J" not in text
    assert "evil\x1b" not in text and text.count(REPLACEMENT) == 7  # 4 sequences, C1 CSI, bidi, \r: each marked


def test_terminal_shows_text_as_written_without_html_entities():
    assert for_terminal("Tong & Wang, 'bands' order <10 m>") == "Tong & Wang, 'bands' order <10 m>"
    assert for_terminal(f"{SCRIPT}|") == f"{SCRIPT}|"  # inert in a terminal: no markup there
    assert for_terminal("a\tb\nc") == f"a\tb{REPLACEMENT}c"  # one field cannot fake the next line
    assert for_terminal("line 1\nline 2", newlines=True) == "line 1\nline 2"


def test_markdown_opens_no_tag_link_or_table_cell():
    text = for_markdown(HOSTILE)
    assert not re.search(r"(?<!\\)[<>|\[\]]", text)  # every markup character backslash-escaped
    assert text.startswith(r"\<script\>alert(1)\</script\>")
    assert for_markdown("Tong & Wang, 'bands'") == "Tong & Wang, 'bands'"  # no HTML entities either
    # a backslash of the file cannot cancel the escape of the character after it
    assert for_markdown("\\<b>") == "\\\\\\<b\\>"
    row = f"| {for_markdown('wheat | 99.9')} | 1 |"
    assert len(re.findall(r"(?<!\\)\|", row)) == 3  # still two cells


def test_html_escapes_markup_and_quotes():
    assert for_html(f"{SCRIPT}\"'&") == "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;"
    assert "<" not in for_html(HOSTILE)


def test_escape_strings_reaches_keys_and_nested_values_but_not_numbers():
    value = {SCRIPT: [SCRIPT, 0.5, None, True, {"k": CSI_COLOUR}]}
    assert escape_strings(value, for_html) == {"&lt;script&gt;alert(1)&lt;/script&gt;": [
        "&lt;script&gt;alert(1)&lt;/script&gt;", 0.5, None, True, {"k": REPLACEMENT}]}


def test_figure_text_is_inert_and_draws(tmp_path):
    assert for_figure("$\\frac{$ \x07corn") == f"$\\frac{{$ {REPLACEMENT}corn"  # BEL marked, TeX kept as text
    assert for_figure("two\nlines") == "two\nlines"
    names = ["wheat", "$\\frac{$ bad TeX", f"bell\x07{CSI_COLOUR}corn"]  # synthetic hostile class names
    confusion = np.array([[5, 1, 0], [0, 4, 2], [1, 0, 6]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph or a mathtext failure would raise here
        png, svg = plot_confusion(confusion, tmp_path / "confusion", title=names[2], class_names=names)
    text = svg.read_text(encoding="utf-8")
    assert "\x07" not in text and "\x1b" not in text
    assert "bad TeX" in text and text.count(REPLACEMENT) >= 2  # names kept, the control characters marked
    assert png.stat().st_size > 0
