"""Text from files, made inert for the medium it is shown in: a terminal (:func:`for_terminal`), a Markdown
file (:func:`for_markdown`), an HTML page (:func:`for_html`) or a figure (:func:`for_figure`). Class names,
sources, regions and titles come from model files and results.json, which anyone may write, so every output
passes them through the escaper of its medium, and only that one (HTML entities in a terminal are noise:
``Tong &amp; Wang``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from html import escape

#: shown where something unprintable was taken out
REPLACEMENT = "\ufffd"
#: terminal escape sequences, whole: CSI (ESC [ or 0x9b ... final byte: colours, cursor moves, clearing),
#: OSC (ESC ] or 0x9d ... BEL or ST: window titles, hyperlinks), DCS/SOS/PM/APC strings (ESC P X ^ _ ... ST),
#: and any other ESC + one character (ECMA-48, sections 5.3-5.6).
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b.?",
    re.DOTALL,
)
#: Unicode categories never shown from a file: control characters (C0, C1), format characters (bidirectional
#: overrides that reorder what is shown) and line / paragraph separators.
UNPRINTABLE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")
#: characters that start Markdown markup able to carry HTML, links or table cells: escaped with a backslash
#: (CommonMark 2.4: any ASCII punctuation may be backslash-escaped and is then shown as itself).
_MARKDOWN_SPECIAL = re.compile(r"([\\<>\[\]|`])")


def for_terminal(value: object, *, newlines: bool = False) -> str:
    """``value`` as text a terminal shows as it is: escape sequences (whole) and other control, format and
    separator characters become U+FFFD; tabs stay, newlines only with ``newlines`` (a field printed on one
    line cannot fake the lines after it)."""
    text = _ESCAPE_SEQUENCE.sub(REPLACEMENT, str(value))
    keep = "\t\n" if newlines else "\t"
    return "".join(
        REPLACEMENT if ch not in keep and unicodedata.category(ch) in UNPRINTABLE_CATEGORIES else ch for ch in text
    )


def for_markdown(value: object) -> str:
    """``value`` as inert Markdown text (a line, a list item or a table cell): the terminal's rules, then
    ``\\ < > [ ] | `` ` `` backslash-escaped, so it opens no HTML tag, link, code span or table cell."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", for_terminal(value))


def for_html(value: object) -> str:
    """``value`` as inert HTML text or attribute value: the terminal's rules, then ``& < > " '`` escaped."""
    return escape(for_terminal(value))


def for_figure(value: object) -> str:
    """``value`` as text a figure draws as it is: the terminal's rules, newlines kept (every glyph exists, and
    an SVG holds no control character XML forbids). Figures also draw with mathtext off, so ``$`` is a
    dollar sign (see :func:`gee_crop.viz.plots.save_figure`)."""
    return for_terminal(value, newlines=True)


def escape_strings(value: object, escaper: Callable[[object], str]) -> object:
    """A copy of a JSON value whose every string, keys included, went through ``escaper`` (numbers, None
    and booleans unchanged): results.json or a model card made inert for one medium."""
    if isinstance(value, dict):
        return {escaper(k): escape_strings(v, escaper) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [escape_strings(v, escaper) for v in value]
    return escaper(value) if isinstance(value, str) else value
