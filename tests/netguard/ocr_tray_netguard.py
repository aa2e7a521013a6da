"""The test suite's network guard: every connection or name lookup that is not loopback or a
local socket is refused and recorded.

Installed in the test process by ``tests/conftest.py`` (for every test) and in every Python
process the tests start, through ``sitecustomize.py`` beside this file (``PYTHONPATH``), which
appends each refused attempt to the file named by ``OCR_TRAY_TEST_NETGUARD_LOG``.

Reach: Python's ``socket`` module (``connect``, ``connect_ex``, ``sendto``, ``getaddrinfo``,
``gethostbyname``), which every HTTP library used here goes through (urllib, http.client,
requests, httpx, huggingface_hub). Native code that opens sockets itself is not covered: no
dependency of the app does that, and a frozen app bundle (tests/test_packaging.py) runs unguarded.
"""

from __future__ import annotations

import ipaddress
import os
import socket

LOG_VAR = "OCR_TRAY_TEST_NETGUARD_LOG"


class NetworkGuard:
    """Refuses (and records) every connection and name lookup that is not loopback or a local socket."""

    def __init__(self, log_path: str | None = None) -> None:
        self.attempts: list[str] = []
        self.log_path = log_path

    @staticmethod
    def local(host) -> bool:
        if host is None:
            return True
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        host = str(host)
        if host in ("localhost", "", "ip6-localhost"):
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False

    def check(self, what: str, host) -> None:
        if self.local(host):
            return
        attempt = f"{what} {host}"
        self.attempts.append(attempt)
        if self.log_path:
            try:
                with open(self.log_path, "a", encoding="utf-8") as log:
                    log.write(f"pid {os.getpid()}: {attempt}\n")
            except OSError:
                pass
        raise OSError(f"network access blocked by the test suite: {attempt}")


def _host(sock, address):
    if sock.family == getattr(socket, "AF_UNIX", None):
        return None
    return address[0] if isinstance(address, tuple) else address


def replacements(guard: NetworkGuard) -> list[tuple[object, str, object]]:
    """(owner, attribute, guarded function) for every entry point the guard watches."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

    def connect(self, address):
        guard.check("connect", _host(self, address))
        return real_connect(self, address)

    def connect_ex(self, address):
        guard.check("connect", _host(self, address))
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        guard.check("sendto", _host(self, args[-1]))
        return real_sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        guard.check("getaddrinfo", host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host):
        guard.check("gethostbyname", host)
        return real_gethostbyname(host)

    return [(socket.socket, "connect", connect), (socket.socket, "connect_ex", connect_ex),
            (socket.socket, "sendto", sendto), (socket, "getaddrinfo", getaddrinfo),
            (socket, "gethostbyname", gethostbyname)]


def install_for_process() -> NetworkGuard:
    """Guard this whole process (child processes of the test suite)."""
    guard = NetworkGuard(os.environ.get(LOG_VAR))
    for owner, name, function in replacements(guard):
        setattr(owner, name, function)
    return guard
