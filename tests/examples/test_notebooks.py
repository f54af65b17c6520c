"""Every example notebook runs top to bottom, headless, on the offline fallback (shipped real data).

The kernel is the ``python3`` kernel spec written into a temporary JUPYTER_PATH for *this* Python
(nothing is registered globally), started with GEE_CROP_OFFLINE=1 and a HOME without credentials, so
no notebook can reach Earth Engine. Outputs are never written back to the repository.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gee_crop.testing.paths import REPO_ROOT
from tests.timing import hang_guarded

EXAMPLES = REPO_ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT_S = 240
#: the slowest notebook's seconds on a quiet machine (2 cores); the hang guard allows 10 x
QUIET_NOTEBOOK_S = 15.0
FALLBACK_NOTE = "uses the shipped real data"

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("geemap", reason="geemap (the notebooks extra) is not installed")


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory) -> dict[str, str]:
    """Environment for the kernel: a private kernel spec for sys.executable, offline, no credentials."""
    import matplotlib
    from ipykernel.kernelspec import write_kernel_spec

    jupyter_path = tmp_path_factory.mktemp("jupyter")
    spec_dir = Path(write_kernel_spec(str(jupyter_path / "kernels" / "python3")))
    # write_kernel_spec names the running interpreter; make sure it is this venv's python
    assert sys.executable in (spec_dir / "kernel.json").read_text()
    home = tmp_path_factory.mktemp("home")
    env = {
        "MPLCONFIGDIR": matplotlib.get_configdir(),  # keep the font cache: HOME is replaced below
        "JUPYTER_PATH": str(jupyter_path),
        "GEE_CROP_OFFLINE": "1",
        "HOME": str(home),
        "CLOUDSDK_CONFIG": str(home / "gcloud"),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    return env


def test_every_notebook_is_found_and_stored_without_outputs():
    assert [p.name for p in NOTEBOOKS] == ["01_cloud_mask_composites.ipynb", "02_sample_country.ipynb",
                                           "03_train_evaluate.ipynb", "04_map_region.ipynb"]
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        assert "start_session" in code[0].source, f"{path.name} must start with the live/offline choice"


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    """One output folder for the four notebooks, in order (3 reads 2's table, 4 reads 3's model)."""
    return tmp_path_factory.mktemp("example_outputs")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_offline(path: Path, kernel_env, out_dir, tmp_path, monkeypatch):
    for key, value in {**kernel_env, "GEE_CROP_EXAMPLES_OUT": str(out_dir)}.items():
        monkeypatch.setenv(key, value)
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    with hang_guarded(QUIET_NOTEBOOK_S, path.name):
        client.execute()  # raises CellExecutionError on the first failing cell
    text = "\n".join(out.get("text", "") or str(out.get("data", {}).get("text/markdown", ""))
                     for cell in book.cells if cell.cell_type == "code" for out in cell.get("outputs", []))
    assert FALLBACK_NOTE in text, "the offline path must say that it uses the shipped real data"
    assert "Traceback" not in text
