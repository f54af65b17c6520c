"""The experiment report: one self-contained HTML page, checked in headless Chromium."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from gee_crop.errors import InputError
from gee_crop.experiments.tables import aggregate, markdown_table
from gee_crop.experiments.report import write_report
from tests.conftest import CHROMIUM_NO_NETWORK_FLAGS

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed: apt-get install -y "
                                    "chromium (Debian package, /usr/bin/chromium) to check the report in a browser")

#: injected at the top of <head> of a copy of the page: records script errors and failed resource
#: loads, then writes them and the image count into attributes of <html> that --dump-dom shows.
HOOK = """<script>
window.__errs = [];
addEventListener('error', e => __errs.push(
  e.message || ('failed to load ' + (e.target && (e.target.src || e.target.href)))), true);
const __ce = console.error; console.error = (...a) => { __errs.push('console.error: ' + a.join(' ')); __ce(...a); };
addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const root = document.documentElement;
  root.setAttribute('data-images', imgs.length);
  root.setAttribute('data-images-ok', imgs.filter(i => i.complete && i.naturalWidth > 0).length);
  root.setAttribute('data-errors', JSON.stringify(__errs));
  root.setAttribute('data-loaded', 'yes');
});
</script>"""


def load_in_chromium(page: Path, tmp_path: Path) -> tuple[dict, list[str]]:
    """Open ``page`` (with the hook injected, saved beside it) in headless Chromium; returns the
    <html> attributes after load and the browser's console lines from its log."""
    hooked = page.with_name(f"hooked_{page.name}")
    html = page.read_text(encoding="utf-8")
    hooked.write_text(html.replace("<head>", "<head>" + HOOK, 1), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    # CHROMIUM_NO_NETWORK_FLAGS: a proxy on a closed loopback port and no name resolution (canary in
    # tests/test_network_guard.py)
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", *CHROMIUM_NO_NETWORK_FLAGS,
           "--no-first-run", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", hooked.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    match = re.search(r"<html([^>]*)>", proc.stdout)
    assert match, proc.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))
    attrs = {k: v.replace("&quot;", '"').replace("&amp;", "&") for k, v in attrs.items()}
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return attrs, console


def test_report_holds_the_table_raw_results_and_every_figure(experiment_copy):
    path = write_report(experiment_copy)
    assert path == experiment_copy / "report.html"
    html = path.read_text(encoding="utf-8")
    summary = json.loads((experiment_copy / "results.json").read_text())
    for row in aggregate(summary):
        assert f"{row['OA_mean']:.2f} ± {row['OA_std']:.2f}" in html
    index = json.loads((experiment_copy / "figures" / "index.json").read_text())
    assert html.count('src="data:image/png;base64,') == len(index)
    assert html.count('href="figures/') == len(index)
    # self-contained: no scripts, no remote resources
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count("<tr>") >= len(summary["results"]) + len(summary["models"])


def test_report_elsewhere_links_back_to_the_experiment(experiment_copy, tmp_path):
    path = write_report(experiment_copy, tmp_path / "pages" / "r.html")
    html = path.read_text(encoding="utf-8")
    assert 'href="../copy/results.json"' in html and 'href="../copy/figures/' in html


def test_report_of_a_folder_without_results_is_a_user_error(tmp_path):
    with pytest.raises(InputError, match="no results.json; give the --out folder"):
        write_report(tmp_path)


@needs_chromium
def test_report_loads_in_chromium_without_errors_and_shows_its_figures(experiment_copy, tmp_path):
    page = write_report(experiment_copy)
    attrs, console = load_in_chromium(page, tmp_path)
    n_figures = len(json.loads((experiment_copy / "figures" / "index.json").read_text()))
    assert attrs.get("data-loaded") == "yes"
    assert json.loads(attrs["data-errors"]) == []
    assert console == []
    assert int(attrs["data-images"]) == n_figures > 0
    assert int(attrs["data-images-ok"]) == n_figures  # every image decoded with a real width


@needs_chromium
def test_the_browser_check_catches_broken_pages(tmp_path):
    """Control: the same check on a page with a missing image and a script error reports both."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><title>x</title></head><body><img src="missing.png">'
                    "<script>undefinedFunction()</script></body></html>")
    attrs, console = load_in_chromium(page, tmp_path)
    errors = json.loads(attrs["data-errors"])
    assert any("missing.png" in e for e in errors) and any("undefinedFunction" in e for e in errors)
    assert any("undefinedFunction" in line for line in console)
    assert attrs["data-images-ok"] == "0"


def test_markdown_table_keeps_its_cells_and_shows_hostile_names_inert():
    """table.md (also printed by `gee-crop experiment`) with a model name and a label holding a table pipe,
    markup and terminal sequences (synthetic results: the names are the point)."""
    hostile = "wheat | <b>x</b>\x1b[31m\x1b]0;pwned\x07"
    summary = {"title": hostile, "seeds": [0], "models": [{"name": hostile}, {"name": "RF"}],
               "transfers": [{"label": hostile}],
               "results": [{"model": name, "transfer": hostile, "seed": 0, "overall_accuracy": oa, "macro_f1": 0.5}
                           for name, oa in ((hostile, 0.9), ("RF", 0.8))]}
    text = markdown_table(summary)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert [len(re.findall(r"(?<!\\)\|", row)) for row in rows] == [5, 5, 5]  # header + 2 models, 4 cells each
    assert "\x1b" not in text and "\x07" not in text and "pwned" not in text
    assert r"wheat \| \<b\>x\</b\>" in rows[1] and "90.00 ± 0.00" in rows[1] and "80.00 ± 0.00" in rows[2]
