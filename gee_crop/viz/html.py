"""Self-contained HTML pages (reports of experiments and assessments): one inline style sheet, no
scripts, fonts or other external resources, so a page opens offline. Callers escape their text, all
of it that comes from files with ``viz.text.for_html`` (results, model metadata: anyone may write them)."""

from __future__ import annotations

from typing import TypeGuard

from gee_crop.viz.text import for_html


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(value: object, spec: str = "", scale: float = 1.0) -> str:
    """A number formatted with ``spec`` (after ``* scale``); anything else as ``str`` (for values that
    went through ``escape_strings``: a string where a number belongs is shown, inert, not formatted)."""
    if is_number(value):
        return format(value * scale if scale != 1.0 else value, spec)
    return str(value)


STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; } td.num { text-align: right; white-space: nowrap; }
th { background: #f0f0f0; } figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #ddd; } figcaption { font-size: 0.85em; max-width: 700px; }
details { margin: 1em 0; } .meta { color: #555; font-size: 0.9em; }
"""


def html_page(title: str, body: str) -> str:
    """A complete page: ``title`` (plain text, escaped here) around ``body`` (HTML, already escaped)."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{for_html(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
