"""Capture Text, from the shortcut to the clipboard: the presenter between the pickers, the job controller,
the popover, the tray and the history.

1. ``start(mode)`` (the global shortcut, the tray or window menu, ``ocr-tray capture``, ``ocrtray://capture``):
   the model starts loading while the person is still selecting (``JobController.load_now``): with the
   system's picker at once; with the Qt overlay once every screen's overlay is painted (at most
   ``LOAD_AFTER_MS`` after the key), because loading holds the GIL in bursts and the overlay comes first.
2. The picker: macOS's own ``screencapture``; Wayland's installed tool; elsewhere the Qt overlay
   (``overlay.RegionPicker``), each screen shown as soon as ``grab.ScreenGrabber`` has it (on X11 off
   the GUI thread, the screen under the pointer first). "last" crops the last region again from a fresh
   grab of its screen.
3. The picture is written to the app's private temporary folder (a pool thread) and submitted as a
   temporary, priority job: it runs right after the page being read now (``Engine.submit(first=True)``).
4. The text streams into the popover (or the window, ``capture/show_in``); when done it is copied
   (``capture/copy``), a notification says what was copied (a click on it shows the text again), and the
   picture is kept with the history entry (``capture/keep_image``: at most 2 MP and 1 MB, a pool thread).

Esc in the overlay or the popover, or Cancel Capture in the tray menu, cancels. See ADR 0017.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import sys
import time

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage

from engine.background import run_in_background
from engine.controller import JobController
from engine.human import one_line, plural
from engine.jobs import Client, JobInfo, JobResult, JobStatus, TextDelta
from engine.settings import Settings

from . import external, grab, hotkeys, macos
from .grab import ScreenGrabber
from .overlay import Frozen, Region, RegionPicker, crop, screen_key
from .popover import ResultPopover

log = logging.getLogger(__name__)

MAX_KEPT_PIXELS = 2_000_000
LOAD_AFTER_MS = 300  # with the overlay: the model starts loading once it is painted, or after this at the latest
MAX_KEPT_BYTES = 1_000_000
SHORTCUT_KEY = "capture/shortcut"


class CaptureFlow(QObject):
    shortcutStatus = Signal(bool, str)  # registered?, the words for the person
    pickerShown = Signal()  # the overlay (or the system's picker) is up
    submitted = Signal(int)  # the capture's job id
    firstText = Signal(int)  # the first characters of a capture reached the popover (job id)
    finished = Signal(object)  # JobResult of a capture
    cancelled = Signal()  # the picker was closed without a picture

    def __init__(self, controller: JobController, window, tray, settings: Settings, history=None,
                 shortcut: hotkeys.GlobalShortcut | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._controller, self._window, self._tray, self._settings = controller, window, tray, settings
        self._history = history
        self.popover = ResultPopover()
        self.popover.cancelRequested.connect(self.cancel)
        self.popover.copyRequested.connect(self.copy)
        self.popover.openWindowRequested.connect(self._open_window)
        self.popover.privacyRequested.connect(lambda: macos.open_privacy_pane())
        self.picker: RegionPicker | external.ExternalPicker | None = None
        self.grabber: ScreenGrabber | None = None  # the grab of the screens for the open picker
        self.job: int | None = None  # the capture being read
        self.last_region: Region | None = None
        self.last_result: JobResult | None = None
        self.shortcut_ok, self.shortcut_words = False, ""
        self.pressed_at = 0.0  # perf_counter of the last start (benchmarks)
        self._kept: dict[int, tuple[bytes, int, int]] = {}  # job id -> the picture to keep with its history
        self._text: list[str] = []
        self._closing = False
        self._folder: str | None = None
        self._numbers = itertools.count(1)
        self.shortcut = shortcut if shortcut is not None else hotkeys.for_platform(self)
        self.shortcut.activated.connect(lambda: self.start("region"))
        controller.jobStarted.connect(self._on_started)
        controller.textDelta.connect(self._on_delta)
        controller.jobEnded.connect(self._on_ended)
        settings.changed.connect(self._on_setting)
        tray.notificationClicked.connect(self._on_notification_clicked)
        tray.captureRequested.connect(self.start)
        tray.cancelCaptureRequested.connect(self.cancel)

    # ------------------------------------------------------------------ the shortcut
    def register_shortcut(self) -> tuple[bool, str]:
        text = str(self._settings.get(SHORTCUT_KEY) or "")
        ok, words = self.shortcut.register(text)
        self.shortcut_ok, self.shortcut_words = ok, words
        self._tray.set_capture_shortcut(text if ok else "")
        log.info("capture shortcut: %s", "registered" if ok else "not registered")
        self.shortcutStatus.emit(ok, words)
        return ok, words

    def _on_setting(self, key: str, _value) -> None:
        if key == SHORTCUT_KEY and not self._closing:
            ok, words = self.register_shortcut()
            if not ok and self._settings.get(SHORTCUT_KEY):
                self._window.show_message(words)

    # ------------------------------------------------------------------ picking
    @property
    def picking(self) -> bool:
        return self.picker is not None and self.picker.is_open

    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self, mode: str = "region") -> bool:
        """Open the picker (False: one is open already, or the app is closing)."""
        if self._closing or self.picking:
            return False
        self.pressed_at = time.perf_counter()
        if mode == "last" or sys.platform == "darwin" or hotkeys.session_is_wayland():
            self._controller.load_now()  # the model loads while the person selects
        if mode == "last":
            return self._repeat_last()
        if sys.platform == "darwin":
            return self._external(external.macos_command(mode, self._new_path()))
        if hotkeys.session_is_wayland():
            path = self._new_path()
            command = external.wayland_command(mode, path)
            if command is None:
                self._window.show_message("Capture on Wayland needs grim and slurp, spectacle or gnome-screenshot "
                                          "installed (the desktop draws the selection; apps may not grab the screen).")
                return False
            return self._external(command)
        screens = QGuiApplication.screens()
        if not screens:
            self._window.show_message("The screen could not be grabbed on this desktop.")
            return False
        picker = RegionPicker.for_screens(screens, window_mode=mode == "window", parent=self)
        picker.picked.connect(self._on_picked)
        picker.cancelled.connect(self._on_cancelled)
        self.picker = picker
        load = self._load_once()  # the model loads while the person selects, once the overlay is up
        picker.shown.connect(load)
        QTimer.singleShot(LOAD_AFTER_MS, self, load)
        picker.open()  # each window shows when its screen's picture arrives
        grabber = self.grabber = ScreenGrabber(screens, list_windows=mode == "window", parent=picker)
        grabber.grabbed.connect(picker.deliver)
        grabber.finished.connect(picker.grab_finished)
        grabber.failed.connect(lambda words: self._grab_failed(picker, words))
        grabber.start()
        self.pickerShown.emit()
        return self.picker is picker

    def _load_once(self):
        done = []

        def load() -> None:
            if not self._closing and not done:
                done.append(True)
                self._controller.load_now()

        return load

    def _grab_failed(self, picker: RegionPicker, words: str) -> None:
        log.warning("no screen could be grabbed (%s)", words)
        if self.picker is picker and picker.is_open:
            self._window.show_message("The screen could not be grabbed on this desktop.")
            picker.cancel()

    def _external(self, argv: list[str]) -> bool:
        picker = external.ExternalPicker(argv, argv[-1], parent=self)
        picker.picked.connect(self._on_file)
        picker.cancelled.connect(self._on_cancelled)
        picker.failed.connect(lambda words: (self._window.show_message(words), self._on_cancelled()))
        self.picker = picker
        picker.start()
        self.pickerShown.emit()
        return True

    def _repeat_last(self) -> bool:
        region = self.last_region
        screen = next((s for s in QGuiApplication.screens() if region is not None and screen_key(s) == region.screen),
                      None)
        if region is None or screen is None:
            self._window.show_message("There is no last region to capture again" if region is None
                                      else "The screen of the last region is not connected")
            return False
        grabber = ScreenGrabber([screen], parent=self)

        def grabbed(_index: int, image: QImage, _windows: list) -> None:
            frozen = Frozen(screen, region.screen, screen.geometry(), image)
            self._on_picked(crop(frozen, region.logical)[0], region)

        grabber.grabbed.connect(grabbed)
        grabber.failed.connect(lambda words: self._window.show_message("The screen could not be grabbed "
                                                                        "on this desktop."))
        grabber.finished.connect(grabber.deleteLater)
        grabber.start()
        return True

    def _drop_picker(self) -> None:
        """The picker is done: it goes, and the screens' pictures with it (a grab still running stops)."""
        if self.grabber is not None:
            self.grabber.stop()
            self.grabber = None
        if self.picker is not None:
            self.picker.deleteLater()
        self.picker = None

    def _on_cancelled(self) -> None:
        self._drop_picker()
        log.info("capture cancelled in the picker")
        self.cancelled.emit()

    def _on_picked(self, image: QImage, region: Region | None) -> None:
        self._drop_picker()
        if region is not None:
            self.last_region = region
            self._tray.set_last_region(True)
        path = self._new_path()
        run_in_background(lambda: prepare(image, path), lambda got, error: self._prepared(got, error, image))

    def _on_file(self, path: str) -> None:
        """A picture written by the system's picker (macOS, Wayland)."""
        self._drop_picker()
        if sys.platform == "darwin" and macos.screen_capture_allowed() is False:
            os.unlink(path)
            log.info("capture dropped: no Screen Recording permission")
            self.popover.show_problem(macos.NOT_ALLOWED, privacy=True)
            self.popover.present_near(self._anchor())
            return
        run_in_background(lambda: prepare(None, path), lambda got, error: self._prepared(got, error, None))

    def _prepared(self, got, error: BaseException | None, image: QImage | None) -> None:
        if self._closing:
            return
        if error is not None:
            self._window.show_message(f"The capture could not be saved ({one_line(error)})")
            return
        path, picture = got
        picture = image if image is not None else picture
        options = self._controller.default_options()
        ids = self._controller.submit_files([path], options, client=Client.CAPTURE, temporary=True, first=True)
        if not ids:
            return  # refused (the queue is full, or closing): the controller removed the file and said why
        self.job = ids[0]
        self._text = []
        if self._settings.get("capture/keep_image") and self._history is not None and picture is not None:
            job = self.job  # the picture for the history is made after the submit, off the reading's way
            run_in_background(lambda: bounded_png(picture), lambda kept, _e: self._keep(job, kept))
        self._tray.set_capture_running(True)
        if self._settings.get("capture/show_in") == "window":
            self._window.bring_forward()
        else:
            self.popover.begin(picture)
            self.popover.present_near(self._anchor())
        self.submitted.emit(self.job)

    # ------------------------------------------------------------------ the job
    def _keep(self, job: int, kept: tuple[bytes, int, int] | None) -> None:
        if kept is None:
            return
        if self.last_result is not None and self.last_result.job_id == job:  # the reading was quicker
            if self.last_result.status is JobStatus.DONE:
                self._store(self.last_result.history_id, kept)
        else:
            self._kept[job] = kept

    def _store(self, record: int | None, kept: tuple[bytes, int, int]) -> None:
        if record is not None and self._history is not None:
            history = self._history
            run_in_background(lambda: history.set_image(record, *kept), lambda *_: None)

    def _on_started(self, info: JobInfo) -> None:
        if info.job_id == self.job:
            self._tray.hold_notifications(True)  # this flow says what happened, once

    def _on_delta(self, delta: TextDelta) -> None:
        if delta.job_id != self.job:
            return
        first = not self._text
        self._text.append(delta.text)
        self.popover.append(delta.text)
        if first:
            self.firstText.emit(delta.job_id)

    def _on_ended(self, result: JobResult) -> None:
        if result.job_id != self.job:
            return
        self.job = None
        self._tray.hold_notifications(False)
        self._tray.set_capture_running(False)
        kept = self._kept.pop(result.job_id, None)
        self.last_result = result
        text = self._window.job_text(result.job_id) if result.pages else ""
        text = text or result.text
        if result.status is JobStatus.DONE:
            self.popover.set_text(text)
            copied = bool(text.strip()) and bool(self._settings.get("capture/copy"))
            if copied:
                QGuiApplication.clipboard().setText(text)
            count = plural(len(text), "character")
            status = f"Copied {count}" if copied else (f"{count} read" if text.strip() else "No text found")
            self.popover.finish(status, bool(text.strip()))
            self._notify(status, text)
            if kept is not None:
                self._store(result.history_id, kept)
        elif result.status is JobStatus.CANCELLED:
            self.popover.finish("Cancelled", bool(text.strip()))
            self.popover.hide()
        else:
            self.popover.show_problem(result.error or "The capture could not be read")
            if not self.popover.isVisible():
                self._window.show_message(result.error or "The capture could not be read")
        self.finished.emit(result)

    def _notify(self, status: str, text: str) -> None:
        snippet = " ".join(text.split())
        snippet = snippet[:90] + ("…" if len(snippet) > 90 else "")
        self._tray.notify(status, snippet or "Click to see the capture", tag="capture")

    def _on_notification_clicked(self, tag: str) -> None:
        if tag == "capture":
            self.show_last()

    def show_last(self) -> None:
        if self.last_result is None:
            return
        if self._settings.get("capture/show_in") == "window":
            self._window.bring_forward()
        else:
            self.popover.present_near(self._anchor())

    # ------------------------------------------------------------------ the person's requests
    def cancel(self) -> None:
        if self.picking and self.picker is not None:
            self.picker.cancel()
        elif self.job is not None:
            self._controller.cancel(self.job)
        else:
            self.popover.hide()

    def copy(self) -> None:
        text = self.popover.text.toPlainText()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.popover.status.setText(f"Copied {plural(len(text), 'character')}")

    def _open_window(self) -> None:
        self.popover.hide()
        self._window.bring_forward()

    def _anchor(self) -> QRect | None:
        icon = getattr(self._tray, "icon", None)
        if icon is None:
            return None
        rect = icon.geometry()
        return rect if rect.isValid() and not rect.isEmpty() else None

    def _new_path(self) -> str:
        if self._folder is None or not os.path.isdir(self._folder):
            self._folder = str(self._controller.temp_dir("capture"))
        stamp = time.strftime("%Y-%m-%d at %H.%M.%S")
        return os.path.join(self._folder, f"Screen capture {stamp} ({next(self._numbers)}).png")

    def shutdown(self) -> None:
        self._closing = True
        if self.picker is not None and self.picker.is_open:
            self.picker.cancel()
        grab.close_all()  # our X connection for the screens' grabs
        self.shortcut.unregister()
        close = getattr(self.shortcut, "close", None)
        if close is not None:
            close()
        self.popover.close()


def prepare(image: QImage | None, path: str) -> tuple[str, QImage]:
    """(pool thread) Write ``image`` to ``path`` (0600), or read the picture the system's picker wrote there."""
    if image is None:
        image = QImage(path)
        if image.isNull():
            raise OSError("the captured picture could not be read")
    else:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        if not image.save(path, "PNG"):
            raise OSError(f"could not write {os.path.basename(path)}")
    return path, image


def bounded_png(image: QImage, max_pixels: int = MAX_KEPT_PIXELS,
                max_bytes: int = MAX_KEPT_BYTES) -> tuple[bytes, int, int] | None:
    """The picture as PNG bytes, shrunk to at most ``max_pixels`` and ``max_bytes`` (None: it cannot be)."""
    scale = min(1.0, math.sqrt(max_pixels / max(1, image.width() * image.height())))
    for _ in range(8):
        w, h = max(1, int(image.width() * scale)), max(1, int(image.height() * scale))
        shown = image if scale >= 1.0 else image.scaled(w, h, Qt.AspectRatioMode.IgnoreAspectRatio,
                                                        Qt.TransformationMode.SmoothTransformation)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        shown.save(buffer, "PNG")
        buffer.close()
        if data.size() <= max_bytes:
            return bytes(data.data()), shown.width(), shown.height()
        scale *= 0.7
    return None
