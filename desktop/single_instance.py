"""One running app per user: a second ``ocr-tray FILE...`` hands its files over and exits.

The first instance holds a lock file (``QLockFile``: a stale lock of a crashed instance is taken
over) and listens on a ``QLocalServer``. Both live in the user's private runtime folder
(``engine.paths.runtime_dir()``: 0700, owned by the user, never a shared ``/tmp`` name), so
another local user can neither take the lock first nor put a socket of their own in its place.
On top of that, each side checks who is at the other end of the socket where the OS says
(``SO_PEERCRED`` on Linux, ``LOCAL_PEERCRED`` on macOS): only the same user is talked to.

A later instance connects and sends one JSON line ``{"paths": [...]}`` (absolute paths; an empty
list means "show the window"), or ``{"action": "capture"}`` (``ocr-tray capture``; with ``"mode"``:
``region``, ``window`` or ``last``), which starts a screen capture. The server bounds what it accepts: one
message of at most ``MAX_MESSAGE_BYTES``, ``MAX_CONNECTIONS`` at once, ``IDLE_MS`` of silence; anything else in the
message (another shape, relative paths, more than ``MAX_PATHS``) is dropped with a log line.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import sys
import time
import weakref

from PySide6.QtCore import QLockFile, QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from engine import paths

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024  # a hand-over is a list of paths, not a document
MAX_PATHS = 1000
MAX_CONNECTIONS = 8
IDLE_MS = 2000  # a connection that says nothing for this long is closed
CONNECT_TIMEOUT_MS = 500
FORWARD_DEADLINE_S = 3.0  # the first instance may still be starting up


def default_key() -> str:
    return "ocr-tray"


def peer_uid(descriptor: int) -> int | None:
    """The user id at the other end of a Unix socket, or None where the OS does not say."""
    if descriptor < 0 or not hasattr(os, "getuid"):
        return None
    try:
        sock = socket.socket(fileno=os.dup(descriptor))
    except OSError:
        return None
    try:
        if sys.platform.startswith("linux"):
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            return int(struct.unpack("3i", creds)[1])
        if sys.platform == "darwin":  # struct xucred: version, uid, ngroups, groups…
            creds = sock.getsockopt(0, 0x001, struct.calcsize("IIh16I"))  # SOL_LOCAL, LOCAL_PEERCRED
            return int(struct.unpack_from("II", creds)[1])
    except OSError:
        return None
    finally:
        sock.close()
    return None


def same_user(descriptor: int) -> bool:
    uid = peer_uid(descriptor)
    return uid is None or uid == os.getuid()  # where the OS cannot say, the private folder is the guard


CAPTURE_MODES = ("region", "window", "last")


def parse_capture(data: bytes) -> str | None:
    """The capture mode of ``{"action": "capture"[, "mode": M]}``, or None when the message is not exactly that."""
    try:
        message = json.loads(data.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("action") != "capture":
        return None
    if set(message) == {"action"}:
        return "region"
    if set(message) == {"action", "mode"} and message["mode"] in CAPTURE_MODES:
        return str(message["mode"])
    return None


def parse_message(data: bytes) -> list[str] | None:
    """The paths of a hand-over, or None when the message is not exactly ``{"paths": [absolute paths]}``."""
    try:
        message = json.loads(data.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or set(message) != {"paths"}:
        return None
    got = message["paths"]
    if not isinstance(got, list) or len(got) > MAX_PATHS:
        return None
    if not all(isinstance(p, str) and os.path.isabs(p) and "\0" not in p for p in got):
        return None
    return got


class SingleInstance(QObject):
    """``lock()`` (before the QApplication exists) then ``listen()``, or ``acquire()`` for both.

    A later launch fails to lock and calls ``forward(paths)``, which needs no QApplication.
    ``key`` names the lock and the socket inside the private runtime folder (tests use their own).
    """

    pathsReceived = Signal(list)  # absolute paths; [] = "show yourself"
    captureRequested = Signal(str)  # a capture mode (``ocr-tray capture``)

    def __init__(self, key: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key or default_key()
        folder = paths.runtime_dir()
        self.socket_path = str(folder / f"{self.key}.sock")
        self._lock = QLockFile(str(folder / f"{self.key}.lock"))
        self._lock.setStaleLockTime(0)  # stale only when its process is gone
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}
        self._heard: dict[QLocalSocket, float] = {}  # when each connection last sent something
        self._sweeper = QTimer(self)
        self._sweeper.setInterval(IDLE_MS // 2)
        self._sweeper.timeout.connect(self._sweep)

    # ---------------------------------------------------------------- primary
    def acquire(self) -> bool:
        """``lock()`` then ``listen()``: True when this is the first instance."""
        if not self.lock():
            return False
        self.listen()
        return True

    def lock(self) -> bool:
        """Take the per-user lock (no QApplication needed). False: another instance runs."""
        return self._lock.tryLock(0)

    def listen(self) -> None:
        """Accept hand-overs from later launches (needs the QApplication: it runs the event loop)."""
        QLocalServer.removeServer(self.socket_path)  # a socket file left by a crashed instance of ours
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.setMaxPendingConnections(MAX_CONNECTIONS)
        if not server.listen(self.socket_path):
            log.warning("single instance: cannot listen (%s); second launches will start their own app",
                        server.errorString())
            return
        server.newConnection.connect(self._on_connection)
        self._server = server

    def release(self) -> None:
        self._sweeper.stop()
        for sock in list(self._buffers):
            self._drop(sock, "the app is quitting")
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock.isLocked():
            self._lock.unlock()

    def _on_connection(self) -> None:
        assert self._server is not None
        while (sock := self._server.nextPendingConnection()) is not None:
            if len(self._buffers) >= MAX_CONNECTIONS or not same_user(int(sock.socketDescriptor())):
                log.warning("single instance: a connection was refused (%s)",
                            "too many at once" if len(self._buffers) >= MAX_CONNECTIONS else "another user")
                sock.abort()
                sock.deleteLater()
                continue
            self._buffers[sock] = bytearray()
            self._heard[sock] = time.monotonic()
            # the slots reach this object through a weak reference: a socket's connection must not be
            # what keeps it alive, or deleting the socket (deleteLater) could delete this object, and
            # with it the server and the very socket being deleted (a double delete: a crash at exit)
            me = weakref.ref(self)
            sock.readyRead.connect(lambda s=sock, me=me: (o := me()) is not None and o._on_ready(s))
            sock.disconnected.connect(lambda s=sock, me=me: (o := me()) is not None and o._on_disconnected(s))
            if not self._sweeper.isActive():
                self._sweeper.start()
            if sock.bytesAvailable():
                self._on_ready(sock)

    def _on_ready(self, sock: QLocalSocket) -> None:
        buf = self._buffers.get(sock)
        if buf is None:
            return
        self._heard[sock] = time.monotonic()
        buf += bytes(sock.read(MAX_MESSAGE_BYTES + 1 - len(buf)).data())
        if len(buf) > MAX_MESSAGE_BYTES:
            self._drop(sock, "the message is too long")
            return
        if b"\n" in buf:
            self._forget(sock)
            self._deliver(bytes(buf).split(b"\n", 1)[0])
            sock.disconnectFromServer()

    def _sweep(self) -> None:
        """Close the connections that have said nothing for IDLE_MS."""
        now = time.monotonic()
        for sock in [s for s, t in self._heard.items() if now - t > IDLE_MS / 1000]:
            self._drop(sock, "it said nothing")
        if not self._buffers:
            self._sweeper.stop()

    def _forget(self, sock: QLocalSocket) -> bytearray | None:
        self._heard.pop(sock, None)
        return self._buffers.pop(sock, None)

    def _drop(self, sock: QLocalSocket, why: str) -> None:
        if self._forget(sock) is not None:
            log.warning("single instance: a hand-over was dropped (%s)", why)
            sock.abort()  # emits disconnected: _on_disconnected deletes it

    def _on_disconnected(self, sock: QLocalSocket) -> None:
        buf = self._forget(sock)
        if buf:
            self._deliver(bytes(buf))
        sock.deleteLater()

    def _deliver(self, line: bytes) -> None:
        mode = parse_capture(line)
        if mode is not None:
            log.info("another launch asked for a capture (%s)", mode)
            self.captureRequested.emit(mode)
            return
        got = parse_message(line)
        if got is None:
            log.warning("single instance: a message that is not a list of absolute paths; dropped")
            return
        log.info("another launch handed over %d path(s)", len(got))
        self.pathsReceived.emit(got)

    # -------------------------------------------------------------- secondary
    def forward(self, paths_: list[str], deadline_s: float = FORWARD_DEADLINE_S) -> bool:
        """Send ``paths_`` to the running instance. Blocks up to ``deadline_s`` (before any window exists)."""
        message = (json.dumps({"paths": [os.path.abspath(p) for p in paths_]}) + "\n").encode(
            "utf-8", "surrogateescape")
        return self._send(message, deadline_s)

    def forward_capture(self, mode: str = "region", deadline_s: float = FORWARD_DEADLINE_S) -> bool:
        """Ask the running instance for a screen capture."""
        if mode not in CAPTURE_MODES:
            raise ValueError(f"not a capture mode: {mode!r}")
        body = {"action": "capture"} if mode == "region" else {"action": "capture", "mode": mode}
        return self._send((json.dumps(body) + "\n").encode(), deadline_s)

    def _send(self, message: bytes, deadline_s: float) -> bool:
        end = time.monotonic() + deadline_s
        while True:
            sock = QLocalSocket()
            sock.connectToServer(self.socket_path)
            if sock.waitForConnected(CONNECT_TIMEOUT_MS):
                if not same_user(int(sock.socketDescriptor())):
                    log.error("single instance: the socket is served by another user; not handed over")
                    sock.abort()
                    return False
                sock.write(message)
                sock.flush()
                ok = sock.waitForBytesWritten(CONNECT_TIMEOUT_MS) or sock.bytesToWrite() == 0
                sock.waitForDisconnected(CONNECT_TIMEOUT_MS)  # the server closes after reading
                sock.abort()
                return ok
            if time.monotonic() >= end:
                return False
            time.sleep(0.1)
