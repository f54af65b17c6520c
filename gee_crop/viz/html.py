"""Self-contained HTML pages (reports of experiments and assessments): one inline style sheet, no
scripts, fonts or other external resources, so a page opens offline. Callers escape their text."""
from __future__ import annotations

from html import escape

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
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
