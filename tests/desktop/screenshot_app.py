"""Run the real app on a real X display and save screenshots (used by test_screenshots.py, in a subprocess).

    QT_QPA_PLATFORM=xcb DISPLAY=:99 python tests/desktop/screenshot_app.py OUT_DIR MODEL_DIR WORK_DIR

Reads two born-digital PDFs (their text layer, so the words on screen are real), then
saves the window while a scanned PDF is being read, the settings panel and the tray menu.
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

    app = OcrTrayApp(settings, tray=False, show_window=True, history=HistoryStore(work / "history.sqlite3"))
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

    QTimer.singleShot(0, app.quit)
    qapp.exec()
    return 0 if ok else 3


def settle(qapp, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
