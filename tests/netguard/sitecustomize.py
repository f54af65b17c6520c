"""The test network guard: every non-loopback connection, datagram and name lookup raises.

It is a Python audit hook (PEP 578), so it sees the socket calls of the C layer too: a raw
``_socket.socket().connect``, UDP ``sendto``/``sendmsg``, ``getaddrinfo``, ``gethostbyname(_ex)``,
``gethostbyaddr`` and ``getnameinfo``, whoever makes them. ``tests/conftest.py`` installs it in the
pytest process and puts this folder first on ``PYTHONPATH``, so Python subprocesses that tests start
(CLI runs, notebook kernels) import it as their ``sitecustomize`` and are guarded too. Loopback
(127.0.0.0/8, ::1, localhost) and Unix sockets stay allowed: Dask and notebook kernels need them.

Set ``GEE_CROP_NETWORK_GUARD=0`` to switch it off in a subprocess (nothing in the tests does).
"""
from __future__ import annotations

import ipaddress
import os
import sys

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


class NetworkAccessError(AssertionError):
    """Raised by the guard: a test (or a process it started) tried to reach the network."""


def is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check_address(address, what: str) -> None:
    # (host, port) for AF_INET, (host, port, flow, scope) for AF_INET6; a str / bytes path is AF_UNIX
    if isinstance(address, tuple) and address and not is_loopback(address[0]):
        raise NetworkAccessError(f"a test tried to {what} {address!r}")


def _hook(event: str, args: tuple) -> None:
    if not event.startswith("socket.") or not _state["on"]:
        return
    if event == "socket.connect":
        _check_address(args[1], "open a network connection to")
    elif event in ("socket.sendto", "socket.sendmsg"):
        _check_address(args[1], "send a datagram to")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        if not is_loopback(args[0]):
            raise NetworkAccessError(f"a test tried to resolve the host {args[0]!r}")
    elif event == "socket.getnameinfo":
        _check_address(args[0], "look up the name of")


_state = {"on": False}


def install() -> None:
    """Switch the guard on in this process (an audit hook cannot be removed; :func:`uninstall` mutes it)."""
    if not _state.get("installed"):
        sys.addaudithook(_hook)
        _state["installed"] = True
    _state["on"] = True


def uninstall() -> None:
    _state["on"] = False


if os.environ.get("GEE_CROP_NETWORK_GUARD", "1") != "0" and __name__ == "sitecustomize":
    install()
