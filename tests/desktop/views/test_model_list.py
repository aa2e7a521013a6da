"""The model list in the settings panel: download state, delete, download with progress and cancel."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QMessageBox,
    QPushButton,
    QWidget,
)

from desktop.views import model_list as model_list_module
from desktop.views.model_list import SCALE, STATUS
from desktop.views.settings_panel import SettingsPanel
from engine.human import size_text as size
from engine.models.downloads import DownloadProgress
from engine.models.presets import PRESETS
from tests.engine.hub_server import hub  # noqa: F401  (the loopback hub fixture)

from .conftest import GLM, PADDLE, FakeDownloader, cache_snapshot, open_settings, row_of, select, settle


def test_model_list_shows_presets_with_licence_languages_and_download_state(make_panel, hf_cache, qtbot,
                                                                             monkeypatch):
    cache_snapshot(hf_cache, GLM.repo_id, weights=3_000_000)
    threads = []
    real = model_list_module._cache_state
    monkeypatch.setattr(model_list_module, "_cache_state",
                        lambda repo_id: (threads.append(threading.current_thread()), real(repo_id))[1])
    panel = make_panel()
    table = panel.model_list.table
    assert table.objectName() == "modelList"
    assert table.topLevelItemCount() == len(PRESETS)
    assert threads and threading.main_thread() not in threads  # the cache is read off the GUI thread
    for p in PRESETS:
        row = row_of(panel, p.id)
        assert (row.text(3), row.text(4)) == (p.licence, p.languages)
        if p is GLM:
            assert row.text(STATUS) == "Downloaded"
            assert row.text(1) == "3.0 MB"  # size on disk
        else:
            assert row.text(STATUS) == "Not downloaded"
            assert row.text(1).startswith("≈ ")  # the approximate download size
    select(panel, GLM.id)
    assert panel.findChild(QPushButton, "deleteModel").isEnabled()
    assert not panel.findChild(QPushButton, "downloadModel").isEnabled()
    select(panel, PADDLE.id)
    assert panel.findChild(QPushButton, "downloadModel").isEnabled()
    assert not panel.findChild(QPushButton, "deleteModel").isEnabled()


def test_the_list_looks_again_when_it_comes_back_into_view(make_panel, hf_cache, qtbot):
    panel = make_panel()
    panel.show_tab("Model")
    assert row_of(panel, GLM.id).text(STATUS) == "Not downloaded"
    panel.hide()
    cache_snapshot(hf_cache, GLM.repo_id)  # fetched meanwhile (the CLI, or the first-run download)
    panel.show_tab("Model")
    qtbot.waitUntil(lambda: row_of(panel, GLM.id).text(STATUS) == "Downloaded", timeout=10_000)


def test_delete_asks_first_then_removes_the_model_from_the_cache(make_panel, hf_cache, qtbot):
    folder = cache_snapshot(hf_cache, GLM.repo_id)
    panel = make_panel()
    panel.show_tab("Model")
    select(panel, GLM.id)
    delete = panel.findChild(QPushButton, "deleteModel")

    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
    box = panel.findChild(QMessageBox, "deleteConfirm")  # non-blocking: the click returned
    assert box is not None and box.isVisible() and GLM.label in box.text()
    assert not delete.isEnabled()
    qtbot.mouseClick(box.findChild(QPushButton, "keepModel"), Qt.MouseButton.LeftButton)
    settle(qtbot, panel)
    assert folder.exists() and row_of(panel, GLM.id).text(STATUS) == "Downloaded"

    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
    box = panel.findChild(QMessageBox, "deleteConfirm")
    qtbot.mouseClick(box.findChild(QPushButton, "confirmDelete"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row_of(panel, GLM.id).text(STATUS) == "Not downloaded", timeout=10_000)
    assert not folder.exists()
    assert "deleted" in panel.findChild(QLabel, "downloadStatus").text()
    assert panel.findChild(QPushButton, "downloadModel").isEnabled()


def test_download_progress_cancel_and_finish_with_an_injected_downloader(make_panel, hf_cache, qtbot):
    fake = FakeDownloader()
    panel = make_panel(downloader=fake)
    panel.show_tab("Model")
    select(panel, PADDLE.id)
    bar = panel.findChild(QWidget, "downloadProgress")
    cancel = panel.findChild(QPushButton, "cancelDownload")
    download = panel.findChild(QPushButton, "downloadModel")
    status = panel.findChild(QLabel, "downloadStatus")
    assert not bar.isVisible() and not cancel.isVisible()

    qtbot.mouseClick(download, Qt.MouseButton.LeftButton)
    assert fake.started == [PADDLE.repo_id]
    assert bar.isVisible() and cancel.isVisible() and cancel.isEnabled() and not download.isEnabled()
    fake.progress.emit(DownloadProgress(PADDLE.repo_id, 2_000_000, 500_000, 250_000.0, 6.0))
    assert (bar.minimum(), bar.maximum(), bar.value()) == (0, SCALE, SCALE // 4)
    assert f"{size(500_000)} of {size(2_000_000)} · {size(250_000)}/s · 0:06 left" in status.text()
    assert row_of(panel, PADDLE.id).text(STATUS) == "Downloading 25%"

    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert fake.cancels == 1
    fake.active = None
    fake.cancelled.emit(PADDLE.repo_id)
    settle(qtbot, panel)
    assert "cancelled" in status.text() and not bar.isVisible() and not cancel.isVisible()
    assert row_of(panel, PADDLE.id).text(STATUS) == "Not downloaded"

    qtbot.mouseClick(download, Qt.MouseButton.LeftButton)
    fake.progress.emit(DownloadProgress(PADDLE.repo_id, 2_000_000, 1_500_000, 250_000.0, 2.0))
    assert bar.value() == 3 * SCALE // 4
    cache_snapshot(hf_cache, PADDLE.repo_id)  # what the real downloader would have left
    fake.active = None
    fake.finished.emit(PADDLE.repo_id, hf_cache)
    qtbot.waitUntil(lambda: row_of(panel, PADDLE.id).text(STATUS) == "Downloaded", timeout=10_000)
    assert bar.value() == SCALE and "is downloaded" in status.text()
    assert not cancel.isVisible() and not download.isEnabled()


def test_a_download_started_elsewhere_on_the_shared_downloader_shows_here(make_panel):
    fake = FakeDownloader()
    fake.start(GLM.repo_id)  # the app's "download the model?" flow started it before the window opened
    panel = make_panel(downloader=fake)
    assert panel.model_list.downloading == GLM.repo_id
    select(panel, PADDLE.id)
    assert not panel.findChild(QPushButton, "downloadModel").isEnabled()  # one download at a time
    fake.progress.emit(DownloadProgress(GLM.repo_id, 1000, 100, 0.0, None))
    assert panel.findChild(QWidget, "downloadProgress").value() == SCALE // 10
    fake.active = None
    fake.failed.emit(GLM.repo_id, "the hub cannot be reached")
    assert "download failed — the hub cannot be reached" in panel.findChild(QLabel, "downloadStatus").text()
    assert panel.findChild(QPushButton, "downloadModel").isEnabled()


def test_download_from_the_loopback_hub_moves_the_bar_and_finishes(qtbot, hub, ini, tmp_path):
    from engine.models.downloads import Downloader

    weights = bytes(range(256)) * 2048  # 512 KB, sent in 16 KB chunks
    hub.add_repo(PADDLE.repo_id, {"config.json": b'{"model_type": "paddleocr_vl"}', "model.safetensors": weights,
                                  "tokenizer.json": b"{}"})
    hub.chunk_delay_s = 0.01
    downloader = Downloader()
    panel = SettingsPanel(open_settings(ini), downloader=downloader)
    qtbot.addWidget(panel)
    settle(qtbot, panel)
    panel.show_tab("Model")
    select(panel, PADDLE.id)
    assert row_of(panel, PADDLE.id).text(STATUS) == "Not downloaded"
    bar = panel.findChild(QWidget, "downloadProgress")
    values = []
    downloader.progress.connect(lambda p: values.append(bar.value()))
    with qtbot.waitSignal(downloader.finished, timeout=60_000):
        qtbot.mouseClick(panel.findChild(QPushButton, "downloadModel"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row_of(panel, PADDLE.id).text(STATUS) == "Downloaded", timeout=10_000)
    assert any(0 < v < SCALE for v in values), f"the bar never showed partial progress: {values}"
    assert bar.value() == SCALE
    assert row_of(panel, PADDLE.id).text(1) == size(len(weights) + len(b'{"model_type": "paddleocr_vl"}'))
    assert (hub.cache_dir / ("models--" + PADDLE.repo_id.replace("/", "--"))).is_dir()
    downloader.shutdown()


# ------------------------------------------------------------------ layout
