"""Fixtures for the settings panel and the model list: private settings, an empty Hugging Face cache, a fake
downloader."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QObject, QSettings, Signal

from desktop.views.settings_panel import SettingsPanel, object_name
from engine.models.presets import preset
from engine.settings import Settings
from tests.engine.hub_server import hub  # noqa: F401  (the loopback hub fixture)

GLM = preset("glm-ocr")
PADDLE = preset("paddleocr-vl")
SHA = "0123456789abcdef0123456789abcdef01234567"


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture
def ini(tmp_path) -> str:
    return str(tmp_path / "settings" / "OCR Tray.ini")


def open_settings(path: str) -> Settings:
    """A Settings over the QSettings file ``path`` (a fresh QSettings object each time, as after a restart)."""
    return Settings(QSettings(path, QSettings.Format.IniFormat))


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face hub cache for this test (huggingface_hub reads HF_HUB_CACHE at import)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def cache_snapshot(cache: Path, repo_id: str, weights: int = 4096) -> Path:
    """A complete cached snapshot in huggingface_hub's layout: blobs/, snapshots/<sha>/ links, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / SHA
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(SHA)
    files = (("config.json", b'{"model_type": "glm_ocr"}'), ("model.safetensors", b"\0" * weights),
             ("tokenizer.json", b"{}"))
    for name, data in files:
        blob = repo / "blobs" / f"{name}.blob"
        blob.write_bytes(data)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    return repo


class FakeDownloader(QObject):
    """The signals and methods of engine.models.downloads.Downloader; the test plays the network."""

    progress = Signal(object)
    finished = Signal(str, object)
    failed = Signal(str, str)
    cancelled = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.started: list[str] = []
        self.cancels = 0
        self.active: str | None = None

    def start(self, source: str) -> bool:
        if self.active is not None:
            return self.active == source
        self.started.append(source)
        self.active = source
        return True

    def cancel(self) -> None:
        self.cancels += 1


def settle(qtbot, panel: SettingsPanel) -> None:
    """Wait until the cache states are read (off the GUI thread)."""
    qtbot.waitUntil(lambda: not panel.model_list.busy(), timeout=10_000)


@pytest.fixture
def make_panel(qtbot, ini, hf_cache):
    def make(settings: Settings | None = None, downloader=None) -> SettingsPanel:
        panel = SettingsPanel(settings or open_settings(ini), downloader=downloader or FakeDownloader())
        qtbot.addWidget(panel)
        panel.show()
        settle(qtbot, panel)
        return panel

    return make


def control(panel: SettingsPanel, key: str) -> QObject:
    found = panel.findChild(QObject, object_name(key))
    assert found is not None, f"no control named {object_name(key)} for {key}"
    return found


def row_of(panel: SettingsPanel, preset_id: str):
    table = panel.model_list.table
    for i in range(table.topLevelItemCount()):
        item = table.topLevelItem(i)
        if item.text(0) == preset(preset_id).label:
            return item
    raise AssertionError(f"no row for {preset_id}")


def select(panel: SettingsPanel, preset_id: str) -> None:
    panel.model_list.table.setCurrentItem(row_of(panel, preset_id))


# ------------------------------------------------------------------ built from the table
