"""Shared fixtures. A network guard (tests/netguard) makes any test, or any Python subprocess a test
starts, that tries to reach the network fail at once."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gee_crop.testing.paths import demo_patch_dir, shared_data_dir
from tests.netguard import sitecustomize as netguard


#: the guard (an audit hook, see tests/netguard/sitecustomize.py); its folder goes first on PYTHONPATH so
#: that Python subprocesses started by tests import it as their sitecustomize and are guarded too.
NETGUARD_DIR = Path(__file__).resolve().parent / "netguard"
NetworkAccessError = netguard.NetworkAccessError

#: Chromium flags that keep a headless browser off the network: every non-loopback request goes to a
#: proxy on a closed loopback port (Chromium never proxies loopback), and every name resolves to nothing
#: except localhost. Tests that start Chromium pass these (tests/test_network_guard.py is their canary).
CHROMIUM_NO_NETWORK_FLAGS = ("--proxy-server=http://127.0.0.1:9",
                             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                             "--disable-background-networking", "--disable-component-update",
                             "--disable-sync", "--no-pings", "--disable-domain-reliability")


def chromium_no_network_flags(proxy: str = "http://127.0.0.1:9") -> list[str]:
    """CHROMIUM_NO_NETWORK_FLAGS with the proxy at ``proxy`` (the canary points it at a listener)."""
    return [f"--proxy-server={proxy}" if f.startswith("--proxy-server=") else f for f in CHROMIUM_NO_NETWORK_FLAGS]


_saved_pythonpath = os.environ.get("PYTHONPATH")


def pytest_configure(config) -> None:
    netguard.install()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(NETGUARD_DIR)] + ([_saved_pythonpath] if _saved_pythonpath else []))


def pytest_unconfigure(config) -> None:
    netguard.uninstall()
    if _saved_pythonpath is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = _saved_pythonpath


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real satellite samples with provenance."""
    return shared_data_dir()


@pytest.fixture(scope="session")
def patch_dir() -> Path:
    """The real Earth Engine patch (Flanders 2019): 10 m / 20 m S2 L2A stacks and a label raster."""
    return demo_patch_dir()
