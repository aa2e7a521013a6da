"""The history view: list, search, open, resume (interrupted), delete, clear all — on a real store, off the GUI
thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from desktop.views.history_view import (
    FILE_ROLE,
    NAME,
    HistoryView,
    fit_name_and_folder,
    short_folder,
    status_text,
    when_text,
)
from desktop.views.result_view import ResultView
from engine.history import HistoryStore
from engine.jobs import DocumentStatus, JobStatus, PageResult

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
WAIT_MS = 10_000


def _page(path, n, pages, text):
    return PageResult(1, path, n, pages, text, "model", "tiny", 5, 3, 0.5)


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "history.sqlite3")
    yield s
    s.close()


@pytest.fixture
def files(tmp_path):
    made = {}
    for name in ("report.pdf", "receipt.png", "scan.pdf"):
        f = tmp_path / name
        f.write_bytes(b"stand-in " + name.encode())
        made[name] = str(f)
    return made


def _finished(store, path, pages, texts, status=JobStatus.DONE):
    r = store.start_document(path, pages, "tiny")
    for n, text in texts.items():
        store.add_page(r, _page(path, n, pages, text))
    store.finish_document(r, status)
    return r


def _interrupted(store, path, pages, done):
    """A document whose writer was killed after ``done`` pages (a real separate process)."""
    code = f"import sys\nsys.path.insert(0, {ROOT!r})\n" + textwrap.dedent("""
        from engine.history import HistoryStore
        from engine.jobs import PageResult
        s = HistoryStore(sys.argv[1])
        r = s.start_document(sys.argv[2], int(sys.argv[3]), "tiny")
        for n in range(1, int(sys.argv[4]) + 1):
            s.add_page(r, PageResult(1, sys.argv[2], n, int(sys.argv[3]), f"kept page {n}", "model", "tiny"))
        print(r, flush=True)
        sys.stdin.readline()
    """)
    child = subprocess.Popen([sys.executable, "-c", code, str(store.path), path, str(pages), str(done)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    record = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    return record


@pytest.fixture
def view(qtbot, store):
    v = HistoryView(store)
    qtbot.addWidget(v)
    return v


def load(qtbot, view):
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.refresh()


def rows(view):
    """(file name, status) per document row; the row also names the folder ("name  ·  ~/folder")."""
    return [(view.tree.topLevelItem(i).text(0).split("  ·  ")[0], view.tree.topLevelItem(i).text(1))
            for i in range(view.tree.topLevelItemCount())]


def test_lists_newest_first_with_status_and_interrupted_banner(qtbot, view, store, files):
    _finished(store, files["report.pdf"], 2, {1: "annual report", 2: "page two"})
    _finished(store, files["receipt.png"], 1, {1: "coffee 3.50"}, status=JobStatus.CANCELLED)
    _interrupted(store, files["scan.pdf"], 20, 5)
    load(qtbot, view)
    assert rows(view) == [("scan.pdf", "Interrupted · 5 of 20 pages"), ("receipt.png", "Cancelled · 1 of 1 page"),
                          ("report.pdf", "Done · 2 pages")]
    assert view.banner.isVisibleTo(view) and "1 document was interrupted" in view.banner.text()
    assert not view.empty.isVisibleTo(view)


def test_search_filters_by_text_after_a_pause(qtbot, view, store, files):
    _finished(store, files["report.pdf"], 1, {1: "Annual Report 2024"})
    _finished(store, files["receipt.png"], 1, {1: "coffee and cake"})
    load(qtbot, view)
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.search.setText("COFFEE")
    assert [r[0] for r in rows(view)] == ["receipt.png"]
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.search.setText("nothing like this")
    assert rows(view) == [] and view.empty.text() == "No documents match."


def test_open_emits_the_pages_and_fills_a_result_view(qtbot, view, store, files):
    r = _finished(store, files["report.pdf"], 2, {1: "first page text", 2: "second page text"})
    load(qtbot, view)
    assert view.select(r)
    assert view.open_button.isEnabled() and not view.resume_button.isEnabled()
    with qtbot.waitSignal(view.openRequested, timeout=WAIT_MS) as sig:
        view.open_button.click()
    doc, pages = sig.args
    assert doc.id == r
    assert [(p.page, p.text, p.job_id) for p in pages] == [(1, "first page text", -r), (2, "second page text", -r)]
    results = ResultView()
    qtbot.addWidget(results)
    results.show_pages(pages)
    assert [s.text for s in results.sections] == ["first page text", "second page text"]
    assert "first page text" in results.toPlainText() and "page 2 of 2" in results.toPlainText()


def test_resume_an_interrupted_document_asks_for_only_the_missing_pages(qtbot, view, store, files):
    r = _interrupted(store, files["scan.pdf"], 8, 3)
    load(qtbot, view)
    view.select(r)
    assert view.resume_button.isEnabled()
    with qtbot.waitSignal(view.resumeRequested, timeout=WAIT_MS) as sig:
        view.resume_button.click()
    plan = sig.args[0]
    assert (plan.history_id, plan.path, plan.pages) == (r, files["scan.pdf"], frozenset(range(4, 9)))


def test_resume_of_a_changed_file_is_a_one_line_message(qtbot, view, store, files):
    r = _interrupted(store, files["scan.pdf"], 4, 1)
    load(qtbot, view)
    view.select(r)
    with open(files["scan.pdf"], "ab") as f:
        f.write(b"changed")
    messages = []
    view.message.connect(messages.append)
    view.resumeRequested.connect(lambda plan: messages.append("resumed anyway"))
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.resume_button.click()
    assert messages == ["scan.pdf: the file changed since it was read; OCR it again from the start"]


def test_delete_one_and_clear_all_after_confirmation(qtbot, view, store, files):
    a = _finished(store, files["report.pdf"], 1, {1: "a"})
    _finished(store, files["receipt.png"], 1, {1: "b"})
    load(qtbot, view)
    view.select(a)
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.delete_button.click()
    assert [r[0] for r in rows(view)] == ["receipt.png"]
    assert [d.name for d in store.documents()] == ["receipt.png"]

    view.clear_button.click()  # asks first; Cancel keeps everything
    box = view.findChild(QMessageBox, "historyClearConfirm")
    assert box is not None and box.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()
    QApplication.processEvents()
    assert len(store.documents()) == 1

    view.clear_button.click()
    box = view.findChild(QMessageBox, "historyClearConfirm")
    delete = next(b for b in box.buttons() if b.text() == "Delete All")
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        delete.click()
    assert store.documents() == [] and rows(view) == [] and view.empty.isVisibleTo(view)
    assert not view.clear_button.isEnabled()


def test_a_running_document_cannot_be_deleted(qtbot, view, store, files):
    running = store.start_document(files["scan.pdf"], 3, "tiny")
    load(qtbot, view)
    view.select(running)
    assert rows(view) == [("scan.pdf", "Reading · 0 of 3 pages")]
    assert not view.delete_button.isEnabled() and not view.resume_button.isEnabled()
    store.finish_document(running, JobStatus.DONE)


def test_unreadable_history_is_a_message_not_a_crash(qtbot, tmp_path):
    bad = tmp_path / "h.sqlite3"
    import sqlite3

    db = sqlite3.connect(bad)
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    store = HistoryStore(bad)
    view = HistoryView(store)
    qtbot.addWidget(view)
    messages = []
    view.message.connect(messages.append)
    load(qtbot, view)
    assert rows(view) == [] and len(messages) == 1 and "newer OCR Tray" in messages[0]
    store.close()


def test_status_words():
    from engine.history import HistoryDocument

    def doc(status, done, pages):
        return HistoryDocument(1, "/a.pdf", "a.pdf", pages, "m", status, None, 0.0, None, tuple(range(1, done + 1)))

    assert status_text(doc(JobStatus.DONE, 1, 1)) == "Done · 1 page"
    assert status_text(doc(DocumentStatus.INCOMPLETE, 2, 3)) == "Incomplete · 2 of 3 pages"
    assert status_text(doc(JobStatus.FAILED, 0, 3)) == "Failed"


def test_many_refreshes_on_pool_threads_keep_the_connections_few(qtbot, view, store, files):
    from engine.history import POOL_SIZE

    _finished(store, files["report.pdf"], 1, {1: "a"})
    for _ in range(30):
        load(qtbot, view)
    assert store.opened <= POOL_SIZE


def test_rows_name_the_folder_and_a_search_shows_where_it_found_the_words(qtbot, view, store, files):
    _finished(store, files["report.pdf"], 1, {1: "The quarterly figures improved considerably across regions."})
    load(qtbot, view)
    top = view.tree.topLevelItem(0)
    assert top.text(0) == f"report.pdf  ·  {short_folder(files['report.pdf'])}"
    home = os.path.expanduser("~")
    assert short_folder(os.path.join(home, "Downloads", "a.png")) == "~/Downloads"
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.search.setText("considerably")
    top = view.tree.topLevelItem(0)
    assert top.childCount() == 1
    snippet = top.child(0).text(0)
    assert "considerably" in snippet and not snippet.lstrip("…").startswith(("he ", "e ", "arterly"))


def test_a_narrow_row_keeps_the_name_readable_and_drops_the_folder_first(qtbot, view):
    from PySide6.QtGui import QFontMetrics

    metrics = QFontMetrics(view.tree.font())
    name, folder = "Screen capture 2026-12-03 at 06.27.27 (1).png", "~/Library/Application Support/OCR Tray/captures"
    full = f"{name}  ·  {folder}"
    wide = metrics.horizontalAdvance(full) + 4
    assert fit_name_and_folder(name, folder, metrics, wide) == full
    # a little narrower: the whole name, and what fits of the folder (elided in its middle)
    some = fit_name_and_folder(name, folder, metrics, wide - 60)
    assert some.startswith(f"{name}  ·  ~/") and some.endswith("captures") and "…" in some
    # narrower than the name: the folder is gone, the name keeps its start and its ending
    for width in (220, 120, 80):
        text = fit_name_and_folder(name, folder, metrics, width)
        assert "·" not in text and text.startswith("Scr") and text.endswith(".png"), (width, text)
        assert metrics.horizontalAdvance(text) <= width, (width, text)
    assert fit_name_and_folder("a.png", "", metrics, 200) == "a.png"


def test_the_document_column_draws_the_fitted_name_at_the_width_it_has(qtbot, view, store, tmp_path):
    from PySide6.QtWidgets import QStyleOptionViewItem

    path = tmp_path / "Screen capture 2026-12-03 at 06.27.27 (1).png"
    path.write_bytes(b"stand-in")
    _finished(store, str(path), 1, {1: "text"})
    load(qtbot, view)
    item = view.tree.topLevelItem(0)
    assert item.data(NAME, FILE_ROLE) == (path.name, short_folder(str(path)))
    index = view.tree.indexFromItem(item, NAME)
    delegate = view.tree.itemDelegateForColumn(NAME)
    shown = {}
    for width in (1000, 90):
        option = QStyleOptionViewItem()
        option.initFrom(view.tree)
        option.rect.setWidth(width)
        option.rect.setHeight(20)
        delegate.initStyleOption(option, index)
        shown[width] = option.text
    assert shown[1000] == item.text(NAME)  # room for all of it: the name and its folder
    assert shown[90].startswith("Scr") and shown[90].endswith(").png") and "·" not in shown[90]


def test_when_a_document_was_read_is_said_as_mail_says_it():
    import time

    now = time.mktime((2026, 12, 3, 15, 0, 0, 0, 0, -1))

    def at(*when):
        return time.mktime((*when, 0, 0, 0, -1))

    assert when_text(at(2026, 12, 3, 6, 27), now) == "06:27"
    assert when_text(at(2026, 12, 2, 23, 5), now) == "Yesterday 23:05"
    november = at(2026, 11, 30, 9, 0)
    assert when_text(november, now) == f"30 {time.strftime('%b', time.localtime(november))} 09:00"
    assert when_text(at(2025, 12, 3, 9, 0), now).endswith(" 2025")
    new_year = time.mktime((2027, 1, 1, 8, 0, 0, 0, 0, -1))
    assert when_text(at(2026, 12, 31, 22, 0), new_year) == "Yesterday 22:00"  # across the year's end


# ------------------------------------------------------------------ the picture a capture read
def _png(width, height):
    """A PNG whose pixels all differ from their neighbours (a wrong scale or crop shows)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QColor, QImage

    image = QImage(width, height, QImage.Format.Format_RGB32)
    for y in range(height):
        for x in range(width):
            image.setPixelColor(x, y, QColor((x * 7) % 256, (y * 13) % 256, 90))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data()), image


class WatchedStore:
    """The real store, noting which thread read each picture; a picture read can be held back."""

    def __init__(self, store):
        self._store = store
        self.picture_threads = []
        self.hold = {}  # record -> threading.Event the read waits for

    def __getattr__(self, name):
        return getattr(self._store, name)

    def image(self, record):
        import threading

        self.picture_threads.append(threading.current_thread() is threading.main_thread())
        if record in self.hold:
            self.hold[record].wait(WAIT_MS / 1000)
        return self._store.image(record)


@pytest.fixture
def capture(store, files, tmp_path):
    """(a capture with its kept picture, a document without one, the picture)."""
    shot = str(tmp_path / "Screen capture 2026-12-01 at 10.00.00 (1).png")
    r = _finished(store, shot, 1, {1: "Invoice 2025-0412"})
    png, image = _png(600, 200)
    assert store.set_image(r, png, 600, 200)
    plain = _finished(store, files["report.pdf"], 1, {1: "annual report"})
    return r, plain, image


def test_a_capture_shows_its_picture_beside_the_list_read_off_the_gui_thread(qtbot, store, capture):
    from PySide6.QtCore import QSize

    r, plain, image = capture
    watched = WatchedStore(store)
    view = HistoryView(watched)
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    load(qtbot, view)
    panel = view.picture_panel
    assert not panel.isVisible()  # nothing selected: the list has the whole width

    view.select(r)
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=WAIT_MS)
    assert view.picture_id == r and view.picture.size() == QSize(600, 200)
    assert view.picture.convertToFormat(image.format()) == image  # the picture that was read, unchanged
    thumb = view.thumbnail.pixmap()
    assert thumb.deviceIndependentSize().toSize() == QSize(240, 80)  # fits 240 × 240, aspect kept
    assert view.picture_caption.text() == "600 × 200 pixels"
    assert view.tree.width() < view.width() - panel.width()
    assert watched.picture_threads and not any(watched.picture_threads)  # never read on the GUI thread

    view.select(plain)  # a document without a picture looks as it did: no panel
    qtbot.waitUntil(lambda: not panel.isVisible(), timeout=WAIT_MS)
    assert view.picture is None and view.picture_id is None
    qtbot.waitUntil(lambda: view.tree.width() >= view.width() - 2, timeout=WAIT_MS)


def test_the_picture_opens_full_size_with_a_click_or_space_and_can_be_copied(qtbot, view, store, capture):
    from PySide6.QtCore import QSize, Qt
    from PySide6.QtGui import QGuiApplication

    r, _plain, image = capture
    view.show()
    load(qtbot, view)
    view.select(r)
    qtbot.waitUntil(lambda: view.picture_panel.isVisible(), timeout=WAIT_MS)

    qtbot.mouseClick(view.thumbnail, Qt.MouseButton.LeftButton)
    viewer = view.viewer
    assert viewer is not None and viewer.isVisible() and viewer.objectName() == "historyPictureViewer"
    assert viewer.windowTitle() == "Screen capture 2026-12-01 at 10.00.00 (1).png"
    shown = viewer.image.pixmap()
    assert shown.size() == QSize(600, 200) and shown.toImage().convertToFormat(image.format()) == image
    viewer.findChild(QPushButton, "historyPictureCopy").click()
    assert QGuiApplication.clipboard().image().convertToFormat(image.format()) == image
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: view.viewer is None, timeout=WAIT_MS)

    view.tree.setFocus()
    qtbot.keyClick(view.tree, Qt.Key.Key_Space)  # Quick Look's key opens it, and closes it again
    assert view.viewer is not None and view.viewer.isVisible()
    qtbot.keyClick(view.viewer, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: view.viewer is None, timeout=WAIT_MS)


def test_only_the_picture_of_the_entry_selected_now_is_shown(qtbot, store, capture):
    import threading

    r, plain, _image = capture
    watched = WatchedStore(store)
    watched.hold[r] = threading.Event()
    view = HistoryView(watched)
    qtbot.addWidget(view)
    view.show()
    load(qtbot, view)
    view.select(r)  # its picture is read slowly...
    view.select(plain)  # ...and the person has moved on: no picture
    qtbot.waitUntil(lambda: len(watched.picture_threads) >= 2, timeout=WAIT_MS)
    qtbot.wait(100)
    watched.hold[r].set()
    from engine import background

    qtbot.waitUntil(lambda: background.pending() == 0, timeout=WAIT_MS)
    assert not view.picture_panel.isVisible() and view.picture is None


def test_a_damaged_picture_is_one_line_and_no_panel(qtbot, view, store, capture):
    import sqlite3

    r, _plain, _image = capture
    db = sqlite3.connect(store.path)
    db.execute("UPDATE images SET png = ? WHERE document_id = ?", (b"\x89PNG\r\n\x1a\n" + bytes(64), r))
    db.commit()
    db.close()
    messages = []
    view.message.connect(messages.append)
    view.show()
    load(qtbot, view)
    view.select(r)
    qtbot.waitUntil(lambda: bool(messages), timeout=WAIT_MS)
    assert messages == ["Screen capture 2026-12-01 at 10.00.00 (1).png: the kept picture cannot be shown "
                        "(the kept picture cannot be read)"]
    assert not view.picture_panel.isVisible()
