"""The socket guard in conftest.py must stop any test from reaching the network."""
import socket

import pytest

from tests.conftest import NetworkAccessError


def test_outbound_connection_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(NetworkAccessError, match="8.8.8.8"):
            s.connect(("8.8.8.8", 443))


def test_dns_lookup_is_refused():
    with pytest.raises(NetworkAccessError, match="earthengine.googleapis.com"):
        socket.getaddrinfo("earthengine.googleapis.com", 443)


def test_loopback_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
