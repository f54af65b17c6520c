"""The network guard (tests/netguard, installed by conftest.py) must stop any test, and any Python
subprocess or Chromium a test starts, from reaching the network; loopback stays allowed. Each hole
the guard closes has a canary here."""
import _socket
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import NETGUARD_DIR, NetworkAccessError, chromium_no_network_flags

CHROMIUM = Path("/usr/bin/chromium")


def test_outbound_connection_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(NetworkAccessError, match="8.8.8.8"):
            s.connect(("8.8.8.8", 443))


def test_connect_ex_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(NetworkAccessError, match="1.1.1.1"):
            s.connect_ex(("1.1.1.1", 443))


def test_dns_lookup_is_refused():
    with pytest.raises(NetworkAccessError, match="earthengine.googleapis.com"):
        socket.getaddrinfo("earthengine.googleapis.com", 443)


def test_udp_sendto_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(NetworkAccessError, match="8.8.8.8"):
            s.sendto(b"\x00" * 12, ("8.8.8.8", 53))


def test_ipv6_udp_sendto_is_refused():
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        with pytest.raises(NetworkAccessError, match="2001:4860:4860::8888"):
            s.sendto(b"\x00", ("2001:4860:4860::8888", 53))


def test_gethostbyname_and_friends_are_refused():
    for lookup in (socket.gethostbyname, socket.gethostbyname_ex, _socket.gethostbyname):
        with pytest.raises(NetworkAccessError, match="example.com"):
            lookup("example.com")
    with pytest.raises(NetworkAccessError):
        socket.gethostbyaddr("8.8.8.8")


def test_raw_socket_connect_is_refused():
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkAccessError, match="8.8.4.4"):
            s.connect(("8.8.4.4", 53))
    finally:
        s.close()


def test_loopback_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    assert socket.gethostbyname("localhost").startswith("127.")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.sendto(b"ok", udp.getsockname())
        assert udp.recv(2) == b"ok"


def test_python_subprocesses_are_guarded_too():
    """Notebook kernels and CLI runs are Python subprocesses: the guard is their sitecustomize."""
    assert os.environ["PYTHONPATH"].split(os.pathsep)[0] == str(NETGUARD_DIR)
    code = ("import socket, _socket\n"
            "for call in (lambda: socket.getaddrinfo('example.com', 80),\n"
            "             lambda: socket.gethostbyname('example.com'),\n"
            "             lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53)),\n"
            "             lambda: _socket.socket().connect(('8.8.8.8', 53))):\n"
            "    try:\n"
            "        call()\n"
            "    except AssertionError as exc:\n"
            "        print(type(exc).__name__)\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
            "socket.create_connection(s.getsockname(), timeout=2).close(); print('loopback ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["NetworkAccessError"] * 4 + ["loopback", "ok"]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback HTTP server that records every request line it gets (it is also the canary proxy)."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append(self.requestline)
        body = b"<html><body><p id='marker'>loopback page</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_CONNECT = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed (/usr/bin/chromium)")
def test_chromium_flags_keep_the_browser_off_the_network(tmp_path):
    """Canary: with the flags every test gives Chromium, a page on the internet goes to our loopback
    'proxy' (so nothing leaves the machine) and a loopback page still loads."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        def dump(url: str) -> str:
            cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   f"--user-data-dir={tmp_path / 'profile'}", *chromium_no_network_flags(f"http://127.0.0.1:{port}"),
                   "--virtual-time-budget=3000", "--dump-dom", url]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout

        assert "loopback page" in dump(f"http://127.0.0.1:{port}/local")
        assert any("/local" in line for line in _Recorder.seen)
        dump("http://example.com/outside")
        # the request for example.com reached our loopback listener as a proxy request, not the internet
        assert any("example.com" in line for line in _Recorder.seen), _Recorder.seen
    finally:
        server.shutdown()
