"""A real local API on an ephemeral port over a real engine (the tiny model), and HTTP from other threads.

The test's thread is the GUI thread: it must keep Qt's event loop turning while a client waits, so every
HTTP call runs in a thread of its own (``Api.call``) while the test pumps events (``qtbot.waitUntil``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from engine.api.client import _httpx
from engine.lifecycle import Mode
from engine.settings import Settings

httpx = _httpx()
WAIT_MS = 90_000


@dataclass
class Api:
    server: Any
    controller: Any
    settings: Settings
    qtbot: Any
    events: list = field(default_factory=list)  # every controller signal, in order: (name, payload)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def engine(self):
        return self.controller.engine

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.token}"}

    def client(self, **kw) -> Any:
        return httpx.Client(base_url=self.url, headers=self.auth, timeout=60, trust_env=False, **kw)

    def call(self, fn, timeout_ms: int = WAIT_MS) -> Any:
        """Run ``fn()`` (HTTP) in a thread while this (GUI) thread keeps the event loop turning."""
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as e:  # handed back to the test
                box["error"] = e

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.qtbot.waitUntil(lambda: not thread.is_alive(), timeout=timeout_ms)
        if "error" in box:
            raise box["error"]
        return box["value"]

    def request(self, method: str, path: str, **kw) -> Any:
        def go():
            with self.client() as c:
                return c.request(method, path, **kw)

        return self.call(go)

    def job_events(self, job_id: int) -> list[str]:
        return [name for name, p in self.events if getattr(p, "job_id", None) == job_id]


NAMES = ("jobQueued", "jobStarted", "pageStarted", "textDelta", "pageFinished", "jobEnded")


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    monkeypatch.setenv("OCR_TRAY_RUNTIME_DIR", str(folder))
    return folder


@pytest.fixture
def make_settings(tmp_path, tiny_model_dir):
    def make(**values) -> Settings:
        settings = Settings(QSettings(str(tmp_path / "settings" / "OCR Tray.ini"), QSettings.Format.IniFormat))
        settings.set("model/preset", "custom")
        settings.set("model/custom_source", str(tiny_model_dir))
        settings.set("memory/mode", Mode.KEEP_RESIDENT.value)
        settings.set("ocr/max_tokens", 6)
        for key, value in values.items():
            settings.set(key.replace("__", "/"), value)
        return settings

    return make


@pytest.fixture
def make_api(qtbot, runtime_dir, make_settings):
    """A headless app: engine + JobController + ApiServer on an ephemeral port (no widgets)."""
    from engine.api.server import ApiServer
    from engine.controller import JobController

    made: list[Api] = []

    def make(settings: Settings | None = None, *, queue_limit: int | None = None, history=None,
             max_upload_bytes: int | None = None, idle_seconds: float | None = None) -> Api:
        settings = settings or make_settings()
        engine = JobController.engine_for(settings, history, idle_seconds)
        if queue_limit is not None:
            engine.queue_limit = queue_limit
        controller = JobController(engine, settings, history, idle_seconds=idle_seconds)
        server = ApiServer(controller, settings, port=0, max_upload_bytes=max_upload_bytes)
        api = Api(server, controller, settings, qtbot)
        for name in NAMES:
            getattr(controller, name).connect(lambda payload, n=name: api.events.append((n, payload)))
        server.start()
        qtbot.waitUntil(lambda: server.discovery_path is not None, timeout=30_000)
        made.append(api)
        return api

    yield make
    for api in made:
        assert api.server.stop(), "the API thread did not stop"
        assert api.controller.shutdown(10), "the engine did not stop"


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload_root(api: Api) -> Path:
    return Path(os.environ["OCR_TRAY_RUNTIME_DIR"]) / "tmp"
