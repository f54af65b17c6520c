"""Shared fixtures. A socket guard makes any test that tries to reach the network fail at once."""
from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

from gee_crop.testing.paths import demo_patch_dir, shared_data_dir


class NetworkAccessError(AssertionError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard_address(address) -> None:
    if isinstance(address, tuple) and not _is_loopback(address[0]):
        raise NetworkAccessError(f"a test tried to open a network connection to {address!r}")


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard_address(address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard_address(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        raise NetworkAccessError(f"a test tried to resolve the host {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config) -> None:
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.getaddrinfo = _getaddrinfo


def pytest_unconfigure(config) -> None:
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real satellite samples with provenance."""
    return shared_data_dir()


@pytest.fixture(scope="session")
def patch_dir() -> Path:
    """The real Earth Engine patch (Flanders 2019): 10 m / 20 m S2 L2A stacks and a label raster."""
    return demo_patch_dir()
