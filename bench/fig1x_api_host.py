"""What figures 10–12 share: a headless app with its local API in a bench worker process, and pacing helpers.

Not a figure itself (``bench.__main__`` does not list it). ``Host`` is what ``ocr-tray`` runs minus the
widgets: one engine, its ``JobController`` and an ``ApiServer`` on a free port, with its discovery file
in a private runtime folder; the worker's main thread is the GUI thread and waits with a ``QEventLoop``
(no polling), as the app's does.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class Host:
    def __init__(self, model: str, mode: str = "keep-resident", idle_s: float = 300.0,
                 runtime: Path | None = None, queue_limit: int | None = None) -> None:
        from PySide6.QtCore import QCoreApplication

        from engine.api.server import ApiServer
        from engine.controller import JobController
        from engine.engine_thread import Engine
        from engine.lifecycle import Mode
        from engine.models.presets import ModelSpec

        self.app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
        import mlx.core  # noqa: F401 - imported before any baseline, as the app has them
        import mlx_vlm  # noqa: F401

        self.engine = Engine(ModelSpec.resolve(model), Mode(mode), idle_s, check_memory=False)
        if queue_limit is not None:
            self.engine.queue_limit = queue_limit
        self.controller = JobController(self.engine)
        path = (runtime / "api.json") if runtime is not None else None
        self.server = ApiServer(self.controller, port=0, discovery_path=path)
        self.server.start()
        self.wait(lambda: self.server.discovery_path is not None, 60)
        self.ended: list = []
        self.controller.jobEnded.connect(self.ended.append)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.token}", "User-Agent": "ocr-tray-bench"}

    def wait(self, predicate, timeout_s: float = 900) -> None:
        """Turn the event loop until ``predicate()`` (re-checked on every event and every 50 ms)."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        tick = QTimer()
        tick.timeout.connect(lambda: predicate() and loop.quit())
        tick.start(50)
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not get there in time")
            loop.exec()
        tick.stop()

    def call(self, fn, timeout_s: float = 900) -> Any:
        """Run ``fn()`` (an HTTP client) in a thread while this thread serves the API; wake at once when done."""
        from PySide6.QtCore import QEventLoop

        box: dict[str, Any] = {}
        loop = QEventLoop()

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as e:  # re-raised below
                box["error"] = e
            finally:
                box["done"] = True
                self.server.bridge.post(loop.quit)  # wakes this thread's loop through the same bridge

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout_s
        while "done" not in box:
            if time.monotonic() > deadline:
                raise TimeoutError("the client did not finish in time")
            loop.exec()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def submit_and_wait(self, path: str, options) -> Any:
        """In-process: submit through the controller, wait for the job's end in this thread."""
        from PySide6.QtCore import QEventLoop

        n = len(self.ended)
        loop = QEventLoop()
        conn = self.controller.jobEnded.connect(lambda _r: loop.quit())
        self.controller.submit_files([path], options)
        while len(self.ended) == n:
            loop.exec()
        self.controller.jobEnded.disconnect(conn)
        return self.ended[-1]

    def close(self) -> None:
        self.server.stop()
        self.controller.shutdown(10)


def httpx():
    from engine.api.client import _httpx

    return _httpx()
