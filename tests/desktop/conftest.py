"""Fixtures for the desktop tests: private settings, the whole app built in-process, synthesised drops."""

from __future__ import annotations

import os
import warnings

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from engine.lifecycle import Mode
from engine.settings import Settings
from engine.testing import samples

WAIT_MS = 90_000
TEST_MAX_TOKENS = 6


@pytest.fixture
def settings_path(tmp_path):
    return str(tmp_path / "settings" / "OCR Tray.ini")


@pytest.fixture
def make_settings(settings_path):
    """Settings in a private QSettings scope (a file in tmp_path)."""

    def make(path: str | None = None, **values) -> Settings:
        settings = Settings(QSettings(path or settings_path, QSettings.Format.IniFormat))
        for key, value in values.items():
            settings.set(key.replace("__", "/"), value)
        return settings

    return make


@pytest.fixture
def make_app(qtbot, tiny_model_dir, make_settings):
    """The whole app (engine thread, tray menu, window) on the tiny model; shut down after the test."""
    from desktop.app import OcrTrayApp

    apps = []

    def make(settings: Settings | None = None, mode: Mode = Mode.KEEP_RESIDENT, idle_seconds=None,
             max_tokens: int = TEST_MAX_TOKENS, clock=None, **kw) -> OcrTrayApp:
        """``clock``: the engine's wall clock (tests.clock.SteppedClock), for idle deadlines that fall on cue."""
        if settings is None:
            settings = make_settings()
            settings.set("memory/mode", mode.value)
            settings.set("ocr/max_tokens", max_tokens)
        if not settings.store.contains("model/custom_source"):
            settings.set("model/preset", "custom")
            settings.set("model/custom_source", str(tiny_model_dir))
        kw.setdefault("tray", False)
        if clock is not None:
            from engine.controller import JobController

            kw["engine"] = JobController.engine_for(settings, kw.get("history"), idle_seconds, clock=clock)
        app = OcrTrayApp(settings, idle_seconds=idle_seconds, **kw)
        qtbot.addWidget(app.window)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.shutdown()
        assert app.engine._thread is None, "engine thread did not stop"


class Jobs:
    """Every job end the engine reports, and the text deltas per (job, page)."""

    def __init__(self, engine):
        self.done = []
        self.deltas: dict[tuple[int, int], list[str]] = {}
        engine.jobFinished.connect(self.done.append)
        engine.jobFailed.connect(self.done.append)
        engine.textDelta.connect(lambda d: self.deltas.setdefault((d.job_id, d.page), []).append(d.text))

    def wait(self, qtbot, n: int, timeout: int = WAIT_MS):
        qtbot.waitUntil(lambda: len(self.done) >= n, timeout=timeout)
        return self.done[:n]

    def streamed(self, job_id: int, page: int) -> str:
        return "".join(self.deltas.get((job_id, page), []))


def mime_for(paths=(), urls=()) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(os.fspath(p)) for p in paths] + [QUrl(u) for u in urls])
    return mime


def drop(widget, paths=(), urls=()) -> bool:
    """A synthesised drag-enter and drop of ``paths`` (and non-file ``urls``) on ``widget``. Returns accepted."""
    mime = mime_for(paths, urls)
    centre = widget.rect().center()
    with warnings.catch_warnings():  # PySide 6.12 marks the QPoint form deprecated; 6.11 has no other
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(centre.x(), centre.y()), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(centre.x(), centre.y()), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def drag_enter(widget, paths=(), urls=()) -> bool:
    """A synthesised drag entering ``widget`` with ``paths`` (no drop). Returns accepted."""
    mime = mime_for(paths, urls)
    centre = widget.rect().center()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(centre.x(), centre.y()), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    widget._test_drag_mime = mime  # the event keeps a pointer to it: keep it alive until the drag ends
    return enter.isAccepted()


def drag_leave(widget) -> None:
    """The drag that entered ``widget`` leaves it without dropping."""
    from PySide6.QtGui import QDragLeaveEvent

    QApplication.sendEvent(widget, QDragLeaveEvent())
    widget._test_drag_mime = None


def wait_state(qtbot, app, state, timeout=WAIT_MS):
    qtbot.waitUntil(lambda: app.engine.status.state is state, timeout=timeout)


def samples_qimage():
    from PySide6.QtGui import QImage

    image = samples.text_image()
    data = image.tobytes("raw", "RGB")
    return QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()


# ------------------------------------------------------------------ the window's parts, by their stable object names
def part(app_or_window, cls, name: str):
    """A child of the main window found by its documented object name (what a UI test script would use)."""
    window = getattr(app_or_window, "window", app_or_window)
    found = window.findChild(cls, name)
    assert found is not None, f"no {cls.__name__} named {name!r}"
    return found


def result_view(app):
    from desktop.views.result_view import ResultView

    return part(app, ResultView, "resultView")


def job_queue(app):
    from desktop.views.job_queue import JobQueue

    return part(app, JobQueue, "jobQueue")


def message_bar(app):
    from desktop.views.message_bar import MessageBar

    return part(app, MessageBar, "messageBar")


def download_bar(app):
    from desktop.views.download_bar import DownloadBar

    return part(app, DownloadBar, "downloadBar")


def tabs(app):
    from PySide6.QtWidgets import QTabWidget

    return part(app, QTabWidget, "resultTabs")


def action(app, name: str):
    from PySide6.QtGui import QAction

    return part(app, QAction, name)


def checkbox(app, name: str):
    from PySide6.QtWidgets import QCheckBox

    return part(app, QCheckBox, name)
