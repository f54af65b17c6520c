"""The experiment report: one self-contained HTML page (html.py)."""
