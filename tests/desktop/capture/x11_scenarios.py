"""Capture Text on a real X server, driven from outside like a person (run by test_x11_capture.py in a subprocess).

    QT_QPA_PLATFORM=xcb DISPLAY=:N python tests/desktop/capture/x11_scenarios.py MODEL_DIR WORK_DIR

The app registers Ctrl+Shift+2 with XGrabKey; ``xdotool key ctrl+shift+2`` opens the overlay on every screen;
the screens are grabbed through shared memory and each frozen picture is compared with Qt's own grab of
that screen; an ``xdotool`` drag on the second screen picks a 600×200 region (logical pixels); the picture
the engine gets and the frozen grab's same region are compared; the grabs' shared memory is gone once the
overlay is; Esc and a click cancel; a long PDF is overtaken by a capture; another X client that holds a
combination makes the app say so. One JSON object is printed at the end.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REGION = (600, 200)  # logical pixels
START = (20, 40)  # logical, on the second screen


def main(model_dir: str, work_dir: str) -> int:
    from PySide6.QtCore import QRect, QSettings, Qt
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPixmap
    from PySide6.QtWidgets import QLabel

    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from desktop.capture import xshm
    from desktop.capture.overlay import screen_key
    from engine.history import HistoryStore
    from engine.jobs import Client
    from engine.settings import Settings
    from engine.testing import samples

    work = Path(work_dir)
    qapp = Application(sys.argv[:1])
    qapp.setQuitOnLastWindowClosed(False)
    settings = Settings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    for key, value in (("model/preset", "custom"), ("model/custom_source", model_dir), ("ocr/max_tokens", 3),
                       ("memory/mode", "keep-resident")):
        settings.set(key, value)
    app = OcrTrayApp(settings, tray=False, history=HistoryStore(work / "history.sqlite3"))
    app.window.hide()
    out: dict = {"screens": [], "errors": []}

    def pump(seconds: float, until=None) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            qapp.processEvents()
            if until is not None and until():
                return True
            time.sleep(0.005)
        return until() if until is not None else True

    def xdo(*args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, timeout=20)

    screens = QGuiApplication.screens()
    for s in screens:
        out["screens"].append({"name": s.name(), "geometry": s.geometry().getRect(), "dpr": s.devicePixelRatio()})
    target = screens[-1]
    dpr = target.devicePixelRatio()
    target_key = screen_key(target)  # Qt may make new QScreen objects later (it does after the first capture)

    # something to read on the second screen: a picture whose pixels all differ
    art = QImage(REGION[0] + 200, REGION[1] + 160, QImage.Format.Format_RGB32)
    art.fill(QColor("white"))
    p = QPainter(art)
    for x in range(0, art.width(), 3):
        p.setPen(QColor((x * 5) % 256, (x * 11) % 256, 90))
        p.drawLine(x, 0, x, art.height())
    p.setPen(QColor("black"))
    font = p.font()
    font.setPointSize(28)
    p.setFont(font)
    p.drawText(art.rect(), Qt.AlignmentFlag.AlignCenter, "Invoice 2025-0412")
    p.end()
    label = QLabel()
    label.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.BypassWindowManagerHint)
    label.setPixmap(QPixmap.fromImage(art))
    label.setScreen(target)
    label.setGeometry(QRect(target.geometry().topLeft(), art.size()))
    label.show()
    pump(0.8)

    flow = app.capture
    out["shortcut"] = {"kind": flow.shortcut.kind, "ok": flow.shortcut_ok, "words": flow.shortcut_words}
    notes: list = []
    real_notify = app.tray.notify
    app.tray.notify = lambda title, message, tag="": (notes.append([title, tag]), real_notify(title, message, tag))[1]
    queued: list = []
    inputs: dict = {}

    def on_queued(info) -> None:
        queued.append({"client": info.client.value, "priority": info.priority, "path": info.path})
        if info.client is Client.CAPTURE:
            inputs[info.job_id] = QImage(info.path)  # the file the engine will read (removed after the job)

    app.controller.jobQueued.connect(on_queued)
    ended: list = []
    app.controller.jobEnded.connect(ended.append)
    picks: list = []
    frozen_now: list = []  # the grabs the open overlay shows
    grabs: dict = {}  # how the open overlay's screens were grabbed

    def temp_files() -> list[str]:
        folder = flow._folder
        return sorted(os.listdir(folder)) if folder and os.path.isdir(folder) else []

    def segments_left() -> int:
        gc.collect()
        return xshm.live_segments()

    def open_by_shortcut() -> bool:
        xdo("key", "--clearmodifiers", "ctrl+shift+2")
        ok = pump(10, lambda: flow.picking and flow.picker.complete)
        if ok:
            grabs["shared_memory"] = flow.grabber is not None and flow.grabber.shared_memory
            frozen_now[:] = list(flow.picker.frozen)
            flow.picker.picked.connect(lambda image, region: picks.append((image, region)))
            pump(0.4)
        return ok

    # ---------------------------------------------------------------- 1: shortcut, overlay on every screen, drag
    qt_grabs = {s.name() + str(s.geometry().getRect()): s.grabWindow(0).toImage() for s in screens}  # nothing of ours
    out["opened"] = open_by_shortcut()
    out["grabbed_by_shared_memory"] = grabs.get("shared_memory")
    out["frozen_equals_qt_grab"] = [
        f.image.size() == qt_grabs[f.screen.name() + str(f.geometry.getRect())].size()
        and f.image == qt_grabs[f.screen.name() + str(f.geometry.getRect())] for f in frozen_now]
    if out["opened"]:
        out["overlays"] = [{"screen": w.frozen.name, "visible": w.isVisible(), "on": w.screen().name(),
                            "geometry": w.geometry().getRect()} for w in flow.picker.windows]
        screen_index = screens.index(target)
        x0, y0 = round(START[0] * dpr), round(START[1] * dpr)
        x1, y1 = x0 + round(REGION[0] * dpr), y0 + round(REGION[1] * dpr)
        xdo("mousemove", "--screen", str(screen_index), str(x0), str(y0))
        pump(0.2)
        xdo("mousedown", "1")
        for k in range(1, 6):
            xdo("mousemove", "--screen", str(screen_index), str(x0 + (x1 - x0) * k // 5), str(y0 + (y1 - y0) * k // 5))
            pump(0.05)
        pump(0.2)
        xdo("mouseup", "1")
        pump(60, lambda: bool(ended))
        if picks:
            image, region = picks[0]
            frozen = next((f for f in frozen_now if f.name == region.screen), None)
            out["picked"] = {"size": [image.width(), image.height()], "screen": region.screen,
                             "logical": region.logical.getRect(), "device": region.device.getRect()}
            engine_image = next(iter(inputs.values()), QImage())
            out["engine_input"] = [engine_image.width(), engine_image.height()]
            out["engine_input_equals_crop"] = engine_image.convertToFormat(QImage.Format.Format_RGB32) == \
                image.convertToFormat(QImage.Format.Format_RGB32)
            if frozen is not None:
                same = frozen.image.copy(region.device).convertToFormat(QImage.Format.Format_RGB32)
                out["crop_equals_frozen_region"] = same == image.convertToFormat(QImage.Format.Format_RGB32)
            # and the frozen grab is the screen as it was: the art's pixels where it was painted
            art_part = art.copy(QRect(START[0], START[1], *REGION)).scaled(
                image.size(), Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation)
            out["crop_equals_screen_content"] = dpr != 1 or art_part.convertToFormat(QImage.Format.Format_RGB32) == \
                image.convertToFormat(QImage.Format.Format_RGB32)
        if ended:
            r = ended[0]
            out["first_job"] = {"status": r.status.value, "client": r.client.value, "pages": len(r.pages)}
            text = flow.popover.text.toPlainText()
            out["popover_text"] = text
            out["clipboard_equals_popover"] = QGuiApplication.clipboard().text() == text
            out["notes"] = list(notes)
        pump(1.0, lambda: not temp_files())
        out["temp_after_job"] = temp_files()
    frozen_now.clear()
    picks.clear()
    frozen = None  # the test's own hold on a grab
    out["segments_after_pick"] = segments_left()

    # ---------------------------------------------------------------- 2 and 3: Esc and a click without a drag
    for how in ("escape", "click"):
        before = len(queued)
        opened = open_by_shortcut()
        if opened:
            if how == "escape":
                xdo("key", "Escape")
            else:
                xdo("mousemove", "--screen", "0", "300", "300")
                pump(0.1)
                xdo("click", "1")
            pump(5, lambda: not flow.picking)
        pump(0.5)
        frozen_now.clear()
        out[how] = {"opened": opened, "still_open": flow.picking, "new_jobs": len(queued) - before,
                    "temp_files": temp_files(), "segments": segments_left()}

    # ---------------------------------------------------------------- window mode: the second X screen's windows too
    before = len(ended)
    flow.start("window")
    if pump(10, lambda: flow.picking and flow.picker.complete):
        on_target = next(w for w in flow.picker.windows if w.frozen.name == target_key)
        out["window_mode"] = {"windows": [r.getRect() for r in on_target.frozen.windows],
                              "label": QRect(0, 0, art.width(), art.height()).intersected(  # as much as is on it
                                  QRect(0, 0, on_target.width(), on_target.height())).getRect()}
        flow.picker.picked.connect(lambda image, region: out["window_mode"].update(picked=[image.width(),
                                                                                           image.height()]))
        i = screens.index(target)
        x, y = round(art.width() / 2 * dpr), round(art.height() / 2 * dpr)
        xdo("mousemove", "--screen", str(i), str(x - 3), str(y - 3))
        pump(0.1)
        xdo("mousemove", "--screen", str(i), str(x), str(y))
        pump(0.2)
        xdo("click", "1")
        pump(60, lambda: len(ended) > before)
    frozen_now.clear()

    # ---------------------------------------------------------------- 4: a capture overtakes a long PDF
    ended.clear()
    pages: list = []
    app.controller.pageStarted.connect(lambda pr: pages.append([pr.job_id, pr.page]))
    pdf = samples.write_pdf(work / "long.pdf", pages=40, text_pages=set())
    settings.set("ocr/max_tokens", 12)  # pages slow enough that the person's drag lands inside the document
    app.submit([str(pdf)])
    pump(60, lambda: len(pages) >= 2)
    if open_by_shortcut():
        i = screens.index(target)
        xdo("mousemove", "--screen", str(i), "40", "40")
        xdo("mousedown", "1")
        xdo("mousemove", "--screen", str(i), str(round(300 * dpr)), str(round(120 * dpr)))
        pump(0.1)
        xdo("mouseup", "1")
    pump(240, lambda: len(ended) >= 2)
    out["pdf_run"] = [{"client": r.client.value, "status": r.status.value, "pages": [p.page for p in r.pages]}
                      for r in ended]

    # ---------------------------------------------------------------- 5: a combination another client holds
    from Xlib import XK, X
    from Xlib.display import Display

    other = Display()
    root = other.screen().root
    code = other.keysym_to_keycode(XK.string_to_keysym("5"))
    root.grab_key(code, X.ControlMask | X.ShiftMask, True, X.GrabModeAsync, X.GrabModeAsync)
    other.sync()
    settings.set("capture/shortcut", "Ctrl+Shift+5")
    pump(0.3)
    out["conflict"] = {"ok": flow.shortcut_ok, "words": flow.shortcut_words,
                       "window_says": app.window.messages.findChildren(QLabel) and any(
                           "already used" in lab.text() for lab in app.window.messages.findChildren(QLabel))}
    other.close()

    app.shutdown()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
