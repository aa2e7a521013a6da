"""One running app per user: a second ``ocr-tray FILE...`` hands its files over and exits.

The first instance holds a lock file (``QLockFile``: a stale lock of a crashed
instance is taken over) and listens on a ``QLocalServer``. A later instance fails
to take the lock, connects, sends one JSON line ``{"paths": [...]}`` (absolute paths;
an empty list means "show the window") and exits.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import time

from PySide6.QtCore import QDir, QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
CONNECT_TIMEOUT_MS = 500
FORWARD_DEADLINE_S = 3.0  # the first instance may still be starting up


def default_key() -> str:
    try:
        user = str(os.getuid())  # type: ignore[attr-defined]
    except AttributeError:
        user = getpass.getuser()
    return f"ocr-tray-{user}"


class SingleInstance(QObject):
    """``lock()`` (before the QApplication exists) then ``listen()``, or ``acquire()`` for both.

    A later launch fails to lock and calls ``forward(paths)``, which needs no QApplication.
    """

    pathsReceived = Signal(list)  # absolute paths; [] = "show yourself"

    def __init__(self, key: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key or default_key()
        self._lock = QLockFile(os.path.join(QDir.tempPath(), f"{self.key}.lock"))
        self._lock.setStaleLockTime(0)  # stale only when its process is gone
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}

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
        QLocalServer.removeServer(self.key)  # a socket file left by a crashed instance
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            log.warning("single instance: cannot listen (%s); second launches will start their own app",
                        server.errorString())
            return
        server.newConnection.connect(self._on_connection)
        self._server = server

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock.isLocked():
            self._lock.unlock()

    def _on_connection(self) -> None:
        assert self._server is not None
        while (sock := self._server.nextPendingConnection()) is not None:
            self._buffers[sock] = bytearray()
            sock.readyRead.connect(lambda s=sock: self._on_ready(s))
            sock.disconnected.connect(lambda s=sock: self._on_disconnected(s))
            if sock.bytesAvailable():
                self._on_ready(sock)

    def _on_ready(self, sock: QLocalSocket) -> None:
        buf = self._buffers.get(sock)
        if buf is None:
            return
        buf += bytes(sock.readAll().data())
        if len(buf) > MAX_MESSAGE_BYTES:
            log.warning("single instance: message too long; dropped")
            self._buffers.pop(sock, None)
            sock.abort()
            sock.deleteLater()
            return
        if b"\n" in buf:
            self._buffers.pop(sock, None)
            self._deliver(bytes(buf).split(b"\n", 1)[0])
            sock.disconnectFromServer()

    def _on_disconnected(self, sock: QLocalSocket) -> None:
        buf = self._buffers.pop(sock, None)
        if buf:
            self._deliver(bytes(buf))
        sock.deleteLater()

    def _deliver(self, line: bytes) -> None:
        try:
            message = json.loads(line.decode("utf-8", "surrogateescape"))
            paths = [str(p) for p in message.get("paths", [])]
        except (ValueError, AttributeError, TypeError):
            log.warning("single instance: unreadable message; dropped")
            return
        log.info("another launch handed over %d path(s)", len(paths))
        self.pathsReceived.emit(paths)

    # -------------------------------------------------------------- secondary
    def forward(self, paths: list[str], deadline_s: float = FORWARD_DEADLINE_S) -> bool:
        """Send ``paths`` to the running instance. Blocks up to ``deadline_s`` (before any window exists)."""
        message = (json.dumps({"paths": [os.path.abspath(p) for p in paths]}) + "\n").encode("utf-8", "surrogateescape")
        end = time.monotonic() + deadline_s
        while True:
            sock = QLocalSocket()
            sock.connectToServer(self.key)
            if sock.waitForConnected(CONNECT_TIMEOUT_MS):
                sock.write(message)
                sock.flush()
                ok = sock.waitForBytesWritten(CONNECT_TIMEOUT_MS) or sock.bytesToWrite() == 0
                sock.waitForDisconnected(CONNECT_TIMEOUT_MS)  # the server closes after reading
                sock.abort()
                return ok
            if time.monotonic() >= end:
                return False
            time.sleep(0.1)
