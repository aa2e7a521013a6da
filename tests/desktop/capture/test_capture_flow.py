"""Capture Text in the app (offscreen, tiny model): the overlay's geometry and crop, cancel leaves nothing,
a picked region is read first, streamed into the popover, copied, announced, and its picture kept."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage
from PySide6.QtWidgets import QKeySequenceEdit, QLabel, QPushButton

from desktop.capture.flow import bounded_png
from desktop.capture.overlay import Frozen, OverlayWindow, RegionPicker, crop, device_rect
from engine.history import HistoryStore
from engine.jobs import Client, JobStatus
from engine.testing import samples
from tests.desktop.conftest import WAIT_MS


def pattern(size: QSize) -> QImage:
    """A picture whose every pixel differs from its neighbours (so an off-by-one crop is seen)."""
    image = QImage(size, QImage.Format.Format_RGB32)
    for y in range(size.height()):
        for x in range(size.width()):
            image.setPixelColor(x, y, QColor((x * 7) % 256, (y * 13) % 256, (x + y) % 256))
    return image


@pytest.mark.parametrize("scale, origin", [(1, QPoint(0, 0)), (2, QPoint(-1280, -200)), (1.5, QPoint(1920, 0))])
def test_the_crop_is_the_same_region_of_the_frozen_grab_in_device_pixels(qapp, scale, origin):
    logical = QSize(400, 300)
    grab = pattern(QSize(round(logical.width() * scale), round(logical.height() * scale)))
    frozen = Frozen(None, "screen", QRect(origin, logical), grab)
    assert frozen.scale == scale
    rect = QRect(30, 20, 200, 100)  # screen-local logical pixels, whatever the screen's position
    image, region = crop(frozen, rect)
    assert image.size() == QSize(round(200 * scale), round(100 * scale))
    assert region.device == QRect(round(30 * scale), round(20 * scale), image.width(), image.height())
    expected = grab.copy(region.device)
    assert image.convertToFormat(QImage.Format.Format_RGB32) == expected.convertToFormat(QImage.Format.Format_RGB32)


def test_device_rect_stays_inside_the_picture():
    assert device_rect(QRect(390, 290, 50, 50), 2, QSize(800, 600)) == QRect(780, 580, 20, 20)


def drag(qtbot, window, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(window, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(window, pos=(start + end) / 2)
    qtbot.mouseMove(window, pos=end)
    qtbot.mouseRelease(window, Qt.MouseButton.LeftButton, pos=end)


def test_overlay_drag_click_and_escape(qtbot):
    frozen = Frozen(None, "s", QRect(0, 0, 320, 240), pattern(QSize(320, 240)))
    picked, cancelled = [], []
    picker = RegionPicker([frozen])
    picker.picked.connect(lambda image, region: picked.append((image, region)))
    picker.cancelled.connect(lambda: cancelled.append(1))
    picker.open()
    (window,) = picker.windows
    assert isinstance(window, OverlayWindow) and window.cursor().shape() == Qt.CursorShape.CrossCursor
    drag(qtbot, window, QPoint(10, 10), QPoint(110, 60))
    assert len(picked) == 1 and not cancelled and not picker.is_open
    image, region = picked[0]
    assert image.size() == QSize(100, 50) and region.logical == QRect(10, 10, 100, 50)

    for finish in ("click", "escape", "right"):
        picker = RegionPicker([frozen])
        picker.cancelled.connect(lambda: cancelled.append(1))
        picker.picked.connect(lambda *a: picked.append(a))
        picker.open()
        (window,) = picker.windows
        if finish == "click":
            qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(50, 50))
        elif finish == "escape":
            qtbot.keyClick(window, Qt.Key.Key_Escape)
        else:
            qtbot.mouseClick(window, Qt.MouseButton.RightButton, pos=QPoint(50, 50))
        assert not picker.is_open
    assert len(cancelled) == 3 and len(picked) == 1


def test_window_mode_takes_the_window_under_a_click(qtbot):
    frozen = Frozen(None, "s", QRect(0, 0, 320, 240), pattern(QSize(320, 240)),
                    windows=[QRect(20, 30, 100, 80), QRect(0, 0, 300, 200)])
    picked = []
    picker = RegionPicker([frozen], window_mode=True)
    picker.picked.connect(lambda image, region: picked.append(region))
    picker.open()
    (window,) = picker.windows
    qtbot.mouseMove(window, pos=QPoint(50, 50))
    qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(50, 50))
    assert [r.logical for r in picked] == [QRect(20, 30, 100, 80)]  # the topmost window under the click


def test_the_kept_picture_is_bounded(qapp):
    big = QImage(3000, 2000, QImage.Format.Format_RGB32)
    big.fill(QColor("white"))
    data, w, h = bounded_png(big)
    assert w * h <= 2_000_000 and len(data) <= 1_000_000 and data.startswith(b"\x89PNG")
    noisy = pattern(QSize(1400, 1400))
    data, w, h = bounded_png(noisy)
    assert len(data) <= 1_000_000 and w * h <= 2_000_000


# ------------------------------------------------------------------ the whole flow in the app
class Notes:
    def __init__(self, tray):
        self.calls = []
        real = tray.notify

        def notify(title, message, tag=""):
            self.calls.append((title, message, tag))
            return real(title, message, tag)

        tray.notify = notify


@pytest.fixture
def app_with_history(make_app, tmp_path):
    history = HistoryStore(tmp_path / "history.sqlite3")
    app = make_app(history=history)
    yield app, history


def temp_files(app) -> list[str]:
    folder = app.capture._folder
    return os.listdir(folder) if folder and os.path.isdir(folder) else []


def open_overlay(qtbot, app, mode="region"):
    assert app.capture.start(mode)
    picker = app.capture.picker
    assert picker is not None and picker.is_open
    assert len(picker.windows) == len(QGuiApplication.screens())  # one per screen
    return picker


def test_a_capture_is_read_copied_announced_and_kept(qtbot, app_with_history):
    app, history = app_with_history
    notes = Notes(app.tray)
    queued = []
    app.controller.jobQueued.connect(queued.append)
    ended = []
    app.capture.finished.connect(ended.append)
    picker = open_overlay(qtbot, app)
    window = picker.windows[0]
    drag(qtbot, window, QPoint(20, 20), QPoint(220, 120))
    qtbot.waitUntil(lambda: bool(ended), timeout=WAIT_MS)
    (info,) = queued
    assert info.client is Client.CAPTURE and info.priority and info.temporary
    (result,) = ended
    assert result.status is JobStatus.DONE and len(result.pages) == 1
    popover = app.capture.popover
    assert popover.isVisible() and popover.text.toPlainText() == app.window.job_text(result.job_id)
    text = popover.text.toPlainText()
    assert QGuiApplication.clipboard().text() == text
    status = popover.findChild(QLabel, "captureStatus").text()
    assert status == (f"Copied {len(text)} characters" if text.strip() else "No text found")
    if text.strip():
        assert notes.calls and notes.calls[-1][0] == status and notes.calls[-1][2] == "capture"
    qtbot.waitUntil(lambda: history.image(result.history_id) is not None, timeout=WAIT_MS)
    kept = QImage.fromData(history.image(result.history_id))
    assert kept.size() == QSize(200, 100)
    qtbot.waitUntil(lambda: temp_files(app) == [], timeout=WAIT_MS)  # the temporary PNG went with its job
    assert app.tray.action("captureLastRegion").isEnabled()
    # Esc in the popover closes it now that the reading is over
    qtbot.keyClick(popover, Qt.Key.Key_Escape)
    assert not popover.isVisible()


def test_the_model_starts_loading_once_the_overlay_is_painted(qtbot, make_app, monkeypatch):
    from desktop.capture import flow

    monkeypatch.setattr(flow, "LOAD_AFTER_MS", 60_000)  # only the painted overlay can start it here
    app = make_app()
    asked = []  # at each request to load: was every overlay painted?
    monkeypatch.setattr(app.controller, "load_now", lambda *a: asked.append(
        all(w.shown_at for w in app.capture.picker.windows)))
    assert app.capture.start("region")
    assert asked == []  # not at the key press: loading holds the GIL in bursts, and the overlay comes first
    qtbot.waitUntil(lambda: bool(asked), timeout=WAIT_MS)
    assert asked == [True]
    app.capture.cancel()


def test_the_model_loads_anyway_when_the_overlay_is_not_painted_soon(qtbot, make_app, monkeypatch):
    from desktop.capture import flow, overlay

    monkeypatch.setattr(flow, "LOAD_AFTER_MS", 50)
    monkeypatch.setattr(overlay.OverlayWindow, "_mark_shown", lambda self: None)  # never handed over
    app = make_app()
    asked = []
    monkeypatch.setattr(app.controller, "load_now", lambda *a: asked.append(1))
    assert app.capture.start("region")
    qtbot.waitUntil(lambda: bool(asked), timeout=WAIT_MS)
    qtbot.wait(100)
    assert asked == [1]  # once
    app.capture.cancel()


def test_the_model_is_asked_to_load_once_when_the_overlay_is_painted_before_the_deadline(qtbot, make_app,
                                                                                        monkeypatch):
    from desktop.capture import flow

    monkeypatch.setattr(flow, "LOAD_AFTER_MS", 200)
    app = make_app()
    asked = []
    monkeypatch.setattr(app.controller, "load_now", lambda *a: asked.append(1))
    assert app.capture.start("region")
    qtbot.waitUntil(lambda: bool(asked), timeout=WAIT_MS)  # painted first...
    qtbot.wait(400)  # ...then the deadline passes too
    assert asked == [1]
    app.capture.cancel()


def test_a_screen_that_cannot_be_grabbed_loses_its_overlay_and_none_grabbed_is_one_message(qtbot, make_app,
                                                                                          monkeypatch):
    from PySide6.QtGui import QPixmap, QScreen

    from desktop.capture.overlay import RegionPicker

    screen = QGuiApplication.primaryScreen()
    picker = RegionPicker.for_screens([screen, screen])  # two windows; only the first screen's picture comes
    picker.open()
    image = QImage(screen.geometry().size(), QImage.Format.Format_RGB32)
    image.fill(QColor("gray"))
    picker.deliver(0, image, [])
    assert not picker.complete
    picker.grab_finished()
    assert len(picker.windows) == len(picker.frozen) == 1 and picker.complete and picker.windows[0].isVisible()
    picker.cancel()

    app = make_app()
    messages = []
    monkeypatch.setattr(app.window, "show_message", lambda text, retry=None: messages.append(text))
    monkeypatch.setattr(QScreen, "grabWindow", lambda self, *a: QPixmap())  # nothing can be grabbed
    app.capture.start("region")
    qtbot.waitUntil(lambda: not app.capture.picking, timeout=WAIT_MS)
    assert messages == ["The screen could not be grabbed on this desktop."]


def test_shutdown_closes_the_x_connection_for_the_grabs(make_app, monkeypatch):
    from desktop.capture import grab

    closed = []
    monkeypatch.setattr(grab, "close_all", lambda: closed.append(1))
    make_app().capture.shutdown()
    assert closed == [1]


@pytest.mark.parametrize("how", ["escape", "click"])
def test_cancelling_the_overlay_leaves_no_file_and_no_job(qtbot, make_app, how):
    app = make_app()
    queued, cancelled = [], []
    app.controller.jobQueued.connect(queued.append)
    app.capture.cancelled.connect(lambda: cancelled.append(1))
    picker = open_overlay(qtbot, app)
    window = picker.windows[0]
    if how == "escape":
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    else:
        qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
    assert cancelled == [1] and not app.capture.picking
    qtbot.wait(300)
    assert queued == [] and temp_files(app) == [] and not app.capture.popover.isVisible()


def test_repeat_the_last_region_and_cancel_from_the_tray(qtbot, make_app):
    app = make_app(max_tokens=64)
    ended = []
    app.capture.finished.connect(ended.append)
    assert not app.capture.start("last")  # nothing to repeat yet
    picker = open_overlay(qtbot, app)
    drag(qtbot, picker.windows[0], QPoint(10, 10), QPoint(70, 40))
    qtbot.waitUntil(lambda: len(ended) == 1, timeout=WAIT_MS)
    started = []
    app.controller.jobStarted.connect(started.append)
    app.tray.action("captureLastRegion").trigger()
    qtbot.waitUntil(lambda: bool(started), timeout=WAIT_MS)
    assert app.tray.action("cancelCapture").isVisible()
    app.tray.action("cancelCapture").trigger()
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=WAIT_MS)
    assert ended[1].status in (JobStatus.CANCELLED, JobStatus.DONE)
    assert not app.tray.action("cancelCapture").isVisible()


def test_the_capture_menu_entries_and_the_shortcut_recorder(qtbot, make_app):
    app = make_app()
    capture = {"captureText", "captureWindow", "captureLastRegion"}
    assert capture <= {a.objectName() for a in app.tray.menu.actions()}
    file_menu = app.window.menuBar().actions()[0].menu()
    assert capture <= {a.objectName() for a in file_menu.actions()}  # the window's File menu shares them
    app.open_settings()
    panel = app.settings_panel
    recorder = panel.control("capture/shortcut")
    assert isinstance(recorder, QKeySequenceEdit)
    assert recorder.keySequence().toString() == "Ctrl+Shift+2"
    panel.set_verdict("capture/shortcut", False, "Ctrl+Shift+2 is already used by another app")
    check = panel.findChild(QLabel, "capture_shortcutCheck")
    assert check.text().startswith("✗") and "already used" in check.text()
    panel.findChild(QPushButton, "capture_shortcutClear").click()
    assert app.settings.get("capture/shortcut") == ""
    app.settings.set("capture/shortcut", "Ctrl+Alt+T")
    assert recorder.keySequence().toString() == "Ctrl+Alt+T"


def test_a_capture_jumps_a_long_pdf_which_then_finishes(qtbot, make_app, tmp_path):
    app = make_app(max_tokens=3)
    pdf = samples.write_pdf(tmp_path / "long.pdf", pages=5, text_pages=set())
    pages, ended = [], []
    app.controller.pageStarted.connect(lambda p: pages.append((p.job_id, p.page)))
    app.controller.jobEnded.connect(ended.append)
    app.submit([str(pdf)])
    qtbot.waitUntil(lambda: len(pages) >= 2, timeout=WAIT_MS)
    picker = open_overlay(qtbot, app)
    drag(qtbot, picker.windows[0], QPoint(10, 10), QPoint(90, 50))
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=WAIT_MS)
    capture, document = ended
    assert capture.client is Client.CAPTURE and document.path == str(pdf)
    assert [p.page for p in document.pages] == [1, 2, 3, 4, 5]


def test_the_history_keeps_a_captures_picture_and_lets_it_go_with_its_entry(tmp_path):
    from engine.history import MAX_IMAGE_BYTES, SCHEMA_VERSION
    from engine.jobs import JobStatus as Status

    store = HistoryStore(tmp_path / "h.sqlite3")
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    records = []
    for i in range(3):
        record = store.start_document(str(tmp_path / f"Screen capture {i}.png"), 1, "m")
        store.finish_document(record, Status.DONE)
        records.append(record)
        assert store.set_image(record, png, 60, 20)
    assert SCHEMA_VERSION >= 5 and store.image(records[0]) == png
    assert not store.set_image(records[0], b"GIF89a", 1, 1)  # only PNGs
    assert not store.set_image(records[0], b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES), 1, 1)  # bounded
    assert not store.set_image(10_000, png, 1, 1)  # no such document
    assert store.delete(records[0]) and store.image(records[0]) is None
    assert store.prune(keep=1) == 1 and store.image(records[1]) is None and store.image(records[2]) == png
    store.clear()
    assert store.image(records[2]) is None
    store.close()
