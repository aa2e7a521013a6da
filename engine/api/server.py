"""``ApiServer``: uvicorn in its own thread on 127.0.0.1, the port chosen, the discovery file written and removed.

Started from the GUI thread (the app, the self-test) with the app's ``JobController``: it makes the
``ApiBridge`` there, binds the socket there (so the port is known at once: the setting's port, or a
free one when that is taken, listening from then on), and starts one thread that writes the discovery
file, imports FastAPI and uvicorn, builds the app and serves on its own asyncio loop. The GUI thread
never waits on it except in ``stop`` (bounded).

``start(defer=True)`` (the app): the thread writes the discovery file, then waits before the import
until ``wake()`` is called (the app calls it once its window is up and the engine has nothing in hand),
a client connects (the kernel holds the connection meanwhile; the import takes 0.3 s), ``stop()``
comes, or ``DEFER_MAX_S`` passes. The import is 0.25 s of Python holding the GIL (FastAPI, pydantic,
uvicorn), which at start-up was taken from the window's first paint and, for a launch with a file, from
mlx-vlm's import and so from the time to the first character (docs/adr/0025-local-api-code-loads-
when-needed.md). Clients see no difference but that first request's wait.

    server = ApiServer(controller, settings)
    server.start()              # → server.port; the discovery file appears at once; ``ready`` once it serves
    ...
    server.stop()               # open requests end, the thread joins (≤ 3 s), the file goes
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import select
import socket
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from . import discovery
from .auth import Guard, new_token
from .bridge import ApiBridge

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
STOP_TIMEOUT_S = 3.0
DEFER_MAX_S = 60.0  # a deferred server imports its code and serves by then, woken or not


def bind(port: int, host: str = HOST) -> socket.socket:
    """A listening socket on ``host:port``, or on a free port when that one is taken (``port`` 0: any)."""
    for candidate in ([port, 0] if port else [0]):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: no one else may bind it too
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart binds past TIME_WAIT
            # accepted connections inherit it: without it a response's body waits for the client's delayed ACK of
            # its headers (Nagle), about 40 ms on every request after the first on a connection (figure 10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((host, candidate))
            sock.listen(128)
            sock.setblocking(False)
            if candidate != port:
                log.info("local API port %d is taken; using %d", port, sock.getsockname()[1])
            return sock
        except OSError as e:
            sock.close()
            if e.errno not in (errno.EADDRINUSE, errno.EACCES) or candidate == 0:
                raise
    raise OSError("no port")  # not reached


class ApiServer(QObject):
    """The local API over the app's ``JobController`` (GUI thread object; the server runs in its own thread)."""

    ready = Signal(int)  # the port, once the server serves (the discovery file is written before)
    failed = Signal(str)  # one line: the server could not start or stopped on its own

    def __init__(
        self,
        controller: Any,
        settings: Any = None,
        *,
        port: int | None = None,
        discovery_path: Path | None = None,
        max_upload_bytes: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self._port_wanted = port
        self._discovery_path = discovery_path
        self._max_upload = max_upload_bytes
        self.bridge: ApiBridge | None = None
        self.token = ""
        self.port = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._written: Path | None = None
        self._listening = threading.Event()
        self._stopping = threading.Event()  # stop() came, maybe before the server thread had built its server
        self._wake_r: socket.socket | None = None  # wake(): a byte on this pair ends a deferred start's wait
        self._wake_w: socket.socket | None = None

    # ------------------------------------------------------------------ GUI thread
    def start(self, defer: bool = False) -> int:
        """Bind, start the server thread, return the port. Raises OSError when no socket can be had.

        ``defer``: the thread imports the server's code only once woken (``wake``), knocked on by a client,
        stopped, or after ``DEFER_MAX_S`` (module text); the discovery file is written at once either way."""
        if self._thread is not None:
            return self.port
        wanted = self._port_wanted
        if wanted is None:
            wanted = int(self.settings.get("api/port")) if self.settings is not None else 0
        self._sock = bind(wanted)
        self.port = self._sock.getsockname()[1]
        self.token = new_token()
        self.bridge = ApiBridge(self.controller, self.settings, parent=self)
        upload_root = self.controller.temp_dir("upload")
        self._listening.clear()
        self._stopping.clear()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        if not defer:
            self.wake()
        self._thread = threading.Thread(target=self._serve, args=(upload_root,), name="ocr-tray-api", daemon=True)
        self._thread.start()
        log.info("local API starting on %s:%d", HOST, self.port)
        return self.port

    def wake(self) -> None:
        """A deferred start imports the server's code and serves now (any thread; no effect after that)."""
        with contextlib.suppress(OSError, AttributeError):
            self._wake_w.send(b"w")  # type: ignore[union-attr]

    def wait_listening(self, timeout: float = 10.0) -> bool:
        """Block until the server listens (tests and the self-test; never the app's GUI thread)."""
        return self._listening.wait(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def discovery_path(self) -> Path | None:
        return self._written

    def info(self) -> discovery.Discovery:
        return discovery.for_this_process(self.port, self.token, HOST)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Every open request ends, the server thread joins (bounded), the discovery file goes."""
        if self.bridge is not None:
            self.bridge.close()
        if self._written is not None:
            discovery.remove(self._written)
            self._written = None
        thread, self._thread = self._thread, None
        ok = True
        self._stopping.set()  # before reading _server: the thread sets _server, then checks this
        self.wake()  # a deferred start still waiting: it sees the stop at once
        if thread is not None:
            server = self._server
            if server is not None:
                server.request_exit()
            thread.join(timeout * 2 / 3)
            server = self._server  # it may have been built while we waited
            if thread.is_alive() and server is not None:
                server.request_exit(force=True)
                thread.join(timeout / 3)
            ok = not thread.is_alive()
            if not ok:
                log.error("the local API thread did not stop within %.1f s", timeout)
        for sock in (self._sock, self._wake_r, self._wake_w):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._sock = self._wake_r = self._wake_w = None
        self._server = None
        return ok

    # ------------------------------------------------------------------ server thread
    def _serve(self, upload_root: Path) -> None:
        try:
            self._write_discovery()
            self._wait_until_wanted()
            if self._stopping.is_set():
                return
            import uvicorn

            from .quiet_server import QuietServer
            from .routes import ServerContext, build_app

            assert self.bridge is not None and self._sock is not None
            app = Guard(build_app(ServerContext(self.bridge, upload_root, self._max_upload)), self.token, self.port)
            config = uvicorn.Config(app, http="h11", loop="asyncio", lifespan="off", ws="none",
                                    log_config=None, log_level="warning", access_log=False, server_header=False,
                                    date_header=False, timeout_graceful_shutdown=1, timeout_keep_alive=5,
                                    limit_concurrency=256)
            server = QuietServer(config)  # no tenth-of-a-second tick: an idle API wakes nobody
            self._server = server
            if self._stopping.is_set():  # the app quit while this thread was still importing
                return
            asyncio.run(self._main(server))
        except Exception as e:
            log.error("the local API stopped: %s", type(e).__name__)
            written, self._written = self._written, None
            if written is not None:  # no client is sent to a server that is not coming
                discovery.remove(written)
            self.failed.emit(f"The local API stopped ({type(e).__name__}: {e})")
        finally:
            self._listening.set()

    def _write_discovery(self) -> None:
        """The discovery file, as soon as the socket listens: a client that connects before the server serves
        waits in the kernel's queue (and, on a deferred start, wakes the server)."""
        if self._stopping.is_set():
            return
        try:
            path = self._discovery_path or discovery.default_path()
            self._written = discovery.write(self.info(), path)
            if self._stopping.is_set():  # stop() came while it was written: it may not have seen it
                written, self._written = self._written, None
                discovery.remove(written)
        except OSError as e:
            log.error("the local API discovery file could not be written: %s", type(e).__name__)
            self.failed.emit(f"The local API's discovery file could not be written ({e})")

    def _wait_until_wanted(self) -> None:
        """A deferred start's wait (``start``): until woken, a client connects, or ``DEFER_MAX_S`` passes.
        Sleeps in ``select`` (no polling: an idle app wakes no more often for it)."""
        give_up = time.monotonic() + DEFER_MAX_S
        sock, wake = self._sock, self._wake_r
        if sock is None or wake is None:  # stopped before the wait began
            return
        while not self._stopping.is_set():
            left = give_up - time.monotonic()
            if left <= 0:
                return
            try:
                ready, _, _ = select.select([sock, wake], [], [], left)
            except (OSError, ValueError):  # a socket closed under it (stop)
                return
            if ready:
                return

    async def _main(self, server: Any) -> None:
        watcher = asyncio.ensure_future(self._announce(server))
        try:
            await server.serve(sockets=[self._sock])
        finally:
            watcher.cancel()

    async def _announce(self, server: Any) -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        self._listening.set()
        self.ready.emit(self.port)
