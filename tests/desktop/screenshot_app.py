"""Run the real app on a real X display and save screenshots (used by test_screenshots.py, in a subprocess).

    QT_QPA_PLATFORM=xcb DISPLAY=:99 python tests/desktop/screenshot_app.py OUT_DIR MODEL_DIR WORK_DIR

Reads two born-digital PDFs (their text layer, so the words on screen are real), then
saves the window while a scanned PDF is being read, the results of recorded model answers
rendered as the app renders them (a table, formulas, a Markdown page: ``RESULT_SHOTS``), the
settings panel and the tray menu.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

LETTER = [
    ("Invoice 2025-0412", [
        "Northwind Bakery · 14 Harbour Street · Bristol BS1 4QA",
        "Bill to: Ada Lovelace, 12 St James's Square, London",
        "",
        "2 × Sourdough loaf (800 g)        £ 9.00",
        "1 × Almond croissants, box of 6   £ 13.50",
        "1 × Celebration cake, lemon        £ 32.00",
        "",
        "Subtotal £ 54.50 · VAT 0% · Total due £ 54.50",
        "Payment within 14 days. Thank you for your order!",
    ]),
    ("Terms", [
        "Orders can be changed until 18:00 the day before delivery.",
        "Cakes are made to order; allergens are listed on every label.",
        "Questions: hello@northwind.example · 0117 496 0000",
    ]),
]
NOTES = [
    ("Meeting notes, 3 March", [
        "Attendees: Grace, Linus, Margaret",
        "1. Ship the menu-bar build to the beta group on Friday.",
        "2. Idle unload stays at 5 minutes by default.",
        "3. Margaret checks the PDF text-layer labels.",
        "4. Next review: Thursday 10:00, room 2.",
        "",
        "Actions: Grace drafts the release notes; Linus signs the build.",
    ]),
]


# (file name, preset, task, pages): each page (document name, page, pages, recorded answer, its format), shown
# through MainWindow.show_pages as the app shows finished pages; the answers are tests/engine/formats/samples.py's
RESULT_SHOTS = (
    ("results-table.png", "paddleocr-vl", "table", [
        ("Regional sales.png", 1, 1, "OTSL_SPANNED", "otsl"),
        ("Grant report.pdf", 4, 9, "GLM_TABLE", "html"),
        ("Sales chart.png", 1, 1, "PADDLE_CHART", "pipe-table"),
    ]),
    ("results-formula.png", "paddleocr-vl", "formula", [
        ("Lecture 7.pdf", 2, 12, "PADDLE_FORMULA", "latex"),
        ("Lecture 7.pdf", 3, 12, "PADDLE_TEXT", "plain"),
        ("Physics notes.png", 1, 1, "GLM_FORMULA", "latex"),
        ("Calculus notes.pdf", 7, 20, "GLM_FORMULA_ALIGNED", "latex"),
    ]),
    ("results-markdown.png", "lightonocr-2", "markdown", [
        ("Paper.pdf", 5, 14, "LIGHTON_PAGE", "markdown"),
        ("Install guide.png", 1, 1, "GLM_TEXT", "markdown"),
    ]),
)


def write_text_pdf(path: Path, pages) -> Path:
    import pymupdf

    doc = pymupdf.open()
    for title, lines in pages:
        page = doc.new_page(width=420, height=300)
        page.insert_text((28, 40), title, fontsize=15)
        page.insert_textbox(pymupdf.Rect(28, 56, 400, 290), "\n".join(lines), fontsize=10)
    doc.save(str(path))
    doc.close()
    return path


def main(out_dir: str, model_dir: str, work_dir: str) -> int:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QTextEdit

    from desktop.app import OcrTrayApp
    from desktop.application import Application
    from engine.settings import Settings
    from engine.testing import samples

    out, work = Path(out_dir), Path(work_dir)
    out.mkdir(parents=True, exist_ok=True)
    qapp = Application(sys.argv[:1])
    qapp.setApplicationName("OCR Tray")
    qapp.setQuitOnLastWindowClosed(False)
    settings = Settings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    settings.set("model/preset", "custom")
    settings.set("model/custom_source", model_dir)
    settings.set("ocr/max_tokens", 12)
    from engine.history import HistoryStore

    history = HistoryStore(work / "history.sqlite3")
    app = OcrTrayApp(settings, tray=False, show_window=True, history=history)
    window = app.window
    window.resize(980, 640)
    window.move(40, 40)
    docs = [
        write_text_pdf(work / "Invoice 2025-0412.pdf", LETTER),
        write_text_pdf(work / "Meeting notes.pdf", NOTES),
    ]
    done = []
    app.engine.jobFinished.connect(done.append)
    app.engine.jobFailed.connect(done.append)
    app.submit(docs)
    deadline = time.monotonic() + 120
    while len(done) < len(docs) and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    if len(done) < len(docs):
        print("the documents were not read in time", file=sys.stderr)
        return 2
    # a scanned document being read, and one waiting: the queue and status bar at work
    started = []
    app.engine.pageStarted.connect(lambda p: started.append(p.page))
    scans = [samples.write_pdf(work / "Receipts (scanned).pdf", pages=12, text_pages=set()),
             samples.write_png(work / "Whiteboard.png", 96, 96)]
    app.submit(scans)
    deadline = time.monotonic() + 60
    while (not started or max(started) < 2) and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    window.findChild(QTextEdit, "resultView").verticalScrollBar().setValue(0)
    settle(qapp, 0.2)
    window.findChild(QTextEdit, "resultView").verticalScrollBar().setValue(0)
    ok = window.grab().save(str(out / "main-window.png"))
    app.engine.cancel_all()

    app.open_settings()
    panel = app.settings_panel
    panel.move(80, 80)
    settle(qapp, 0.5)
    ok &= panel.grab().save(str(out / "settings.png"))

    menu = app.tray.menu
    menu.popup(window.mapToGlobal(window.rect().center()))
    settle(qapp, 0.4)
    ok &= menu.grab().save(str(out / "tray-menu.png"))
    menu.hide()
    panel.close()

    ok &= capture_screenshots(qapp, app, window, out, [p for r in done[:len(docs)] for p in r.pages])
    deadline = time.monotonic() + 30
    while app.engine.busy and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    ok &= history_shot(qapp, window, history, out)
    ok &= failure_shot(app, qapp, out, work)
    ok &= result_shots(app, qapp, out, work)  # last: it switches the model, which unloads the test model

    QTimer.singleShot(0, app.quit)
    qapp.exec()
    return 0 if ok else 3


def result_shots(app, qapp, out: Path, work: Path) -> bool:
    """The window with recorded answers of each task, converted and rendered (``RESULT_SHOTS``)."""
    from PySide6.QtWidgets import QTextEdit

    from engine.jobs import PageResult, PageSource
    from engine.models.presets import preset
    from tests.engine.formats import samples as answers

    window, ok = app.window, True
    for n, (name, model, task, pages) in enumerate(RESULT_SHOTS):
        window.clear()
        app.settings.set("model/preset", model)
        app.settings.set("ocr/task", task)
        window.show_pages([
            PageResult(-(n + 1) * 10 - i, str(work / doc), page, count, getattr(answers, sample), PageSource.MODEL,
                       model=preset(model).label, output=fmt)
            for i, (doc, page, count, sample, fmt) in enumerate(pages)
        ])
        view = window.findChild(QTextEdit, "resultView")
        settle(qapp, 0.3)
        view.verticalScrollBar().setValue(0)
        settle(qapp, 0.1)
        ok &= window.grab().save(str(out / name))
    window.clear()
    return ok


def capture_screenshots(qapp, app, window, out: Path, pages) -> bool:
    """Capture Text: the overlay mid-selection over the window's invoice, then the result popover."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QTextEdit

    window.clear()
    window.show_pages(pages)
    window.raise_()
    for _ in range(2):  # the view lays its text out after it is shown: scroll to the top once it has
        settle(qapp, 0.3)
        window.findChild(QTextEdit, "resultView").verticalScrollBar().setValue(0)
    ended = []
    app.capture.finished.connect(ended.append)
    if not app.capture.start("region"):
        print("the capture overlay did not open", file=sys.stderr)
        return False
    settle(qapp, 0.4)
    overlay = app.capture.picker.windows[0]
    view = window.findChild(QTextEdit, "resultView")
    top_left = overlay.mapFromGlobal(view.viewport().mapToGlobal(QPoint(8, 6)))
    bottom_right = top_left + QPoint(400, 150)
    QTest.mousePress(overlay, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, top_left)
    for k in range(1, 9):
        QTest.mouseMove(overlay, top_left + (bottom_right - top_left) * k / 8)
        settle(qapp, 0.02)
    settle(qapp, 0.3)
    ok = overlay.grab().save(str(out / "capture-overlay.png"))
    QTest.mouseRelease(overlay, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, bottom_right)
    deadline = time.monotonic() + 90
    while not ended and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    settle(qapp, 0.4)
    popover = app.capture.popover
    ok &= bool(ended) and popover.grab().save(str(out / "capture-popover.png"))
    popover.hide()
    return ok


def history_shot(qapp, window, history, out: Path) -> bool:
    """The History tab with the capture just read selected: its kept picture beside the list."""
    [capture] = history.documents(limit=1)
    window.show_history()
    view = window.history_view
    settle(qapp, 0.3)
    view.select(capture.id)
    wait_for(qapp, lambda: view.picture_panel.isVisible(), 20)
    settle(qapp, 0.3)
    if not view.picture_panel.isVisible():
        print(f"capture-history.png: no picture shown for {capture.name}", file=sys.stderr)
        return False
    ok = window.grab().save(str(out / "capture-history.png"))
    window.show_results()
    return ok


def failure_shot(app, qapp, out: Path, work: Path) -> bool:
    """Two things going wrong at once, as a person sees them: a file that is no picture (one line, nothing
    to retry) and a document whose model folder is gone (one line with Retry, on its queue row too)."""
    from engine.testing import samples

    window = app.window
    window.clear()
    model = app.settings.get("model/custom_source")
    broken = work / "Scan 03.png"
    broken.write_bytes(b"this was never a picture")
    done = []
    app.engine.jobFinished.connect(done.append)
    app.engine.jobFailed.connect(done.append)
    app.submit([str(broken)])  # refused before it is queued: a line in the message bar, no job
    wait_for(qapp, lambda: len(window.messages.messages) >= 1, 60)
    app.settings.set("model/custom_source", str(work / "models" / "Finance-OCR"))  # a folder that was removed
    app.submit([str(samples.write_pdf(work / "Statement March.pdf", pages=2, text_pages=set()))])
    wait_for(qapp, lambda: len(done) >= 1 and len(window.messages.messages) >= 2, 60)
    settle(qapp, 0.4)
    ok = window.grab().save(str(out / "failures.png"))
    app.settings.set("model/custom_source", model)
    if len(done) < 1 or len(window.messages.messages) < 2:
        print(f"failures.png: {len(done)} failed job(s), messages {window.messages.messages}", file=sys.stderr)
        return False
    return ok


def wait_for(qapp, predicate, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not predicate() and time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)


def settle(qapp, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
