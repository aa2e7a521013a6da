"""The History tab wired into the whole app: jobs land in it, Open shows their text, Resume finishes an
interrupted document."""

from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import QTabWidget, QWidget

from engine.history import HistoryStore
from engine.jobs import JobStatus, PageResult
from engine.testing import samples

from .conftest import WAIT_MS, Jobs, action, message_bar, result_view, tabs
from .views.test_history_view import _interrupted

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "history" / "history.sqlite3")
    yield s
    s.close()


def listed(app):
    tree = app.history_view.tree
    return [(tree.topLevelItem(i).text(0).split("  ·  ")[0], tree.topLevelItem(i).text(1))
            for i in range(tree.topLevelItemCount())]


def test_no_history_tab_without_a_store(make_app):
    app = make_app()
    assert app.history_view is None
    assert app.window.findChild(QTabWidget, "resultTabs") is None
    assert app.window.findChild(QWidget, "historyView") is None


def test_a_finished_job_is_listed_and_reopens_into_the_results(qtbot, make_app, store, tmp_path):
    app = make_app(history=store)
    window, view = app.window, app.history_view
    assert window.findChild(QWidget, "historyView") is view
    assert tabs(app).indexOf(view) == 1 and tabs(app).currentWidget() is result_view(app)
    qtbot.waitUntil(lambda: view._busy == 0, timeout=WAIT_MS)  # the load at start is over
    assert listed(app) == []

    jobs = Jobs(app.engine)
    png = samples.write_png(tmp_path / "note.png")
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):  # the debounced refresh after the job ends
        app.submit([str(png)])
        [result] = jobs.wait(qtbot, 1)
    assert result.status == JobStatus.DONE
    assert listed(app) == [("note.png", "Done · 1 page")]

    # shown again: the list is re-read (a document another process added appears)
    other = store.start_document(str(png), 1, "elsewhere")
    store.add_page(other, PageResult(1, str(png), 1, 1, "from elsewhere", "model", "elsewhere"))
    store.finish_document(other, JobStatus.DONE)
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        window.show_history()
    assert tabs(app).currentWidget() is view
    assert len(listed(app)) == 2

    # Open: the stored text goes into the result view, and the results are shown
    record = store.documents()[-1]  # the app's own job (oldest)
    assert record.id != other
    stored = [p.text for p in store.pages(record.id)]
    window.clear()
    assert view.select(record.id)
    view.open_selected()
    qtbot.waitUntil(lambda: bool(result_view(app).sections), timeout=WAIT_MS)
    assert tabs(app).currentWidget() is result_view(app)
    [section] = result_view(app).sections
    assert (section.job_id, os.path.basename(section.path), section.page, section.text) == \
        (-record.id, "note.png", 1, stored[0])
    assert section.text == result.pages[0].text  # what the engine read is what comes back
    assert action(app, "copyText").isEnabled() == bool(stored[0])


def test_an_interrupted_document_is_announced_and_resumed(qtbot, make_app, store, tmp_path):
    pdf = str(samples.write_pdf(tmp_path / "scan.pdf", pages=2, text_pages={1}))
    record = _interrupted(store, pdf, 2, 1)  # a writer killed after page 1

    app = make_app(history=store)
    view = app.history_view
    qtbot.waitUntil(lambda: listed(app) == [("scan.pdf", "Interrupted · 1 of 2 pages")], timeout=WAIT_MS)
    assert "1 document was interrupted" in message_bar(app).text()
    assert view.banner.isVisibleTo(view)

    jobs = Jobs(app.engine)
    started = []
    app.engine.pageStarted.connect(lambda p: started.append(p.page))
    assert view.select(record)
    qtbot.waitUntil(view.resume_button.isEnabled, timeout=WAIT_MS)
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):  # the list follows the job's end
        view.resume_selected()
        [result] = jobs.wait(qtbot, 1)
    assert result.status == JobStatus.DONE
    assert started == [2]  # only the missing page was read
    assert [p.page for p in result.pages] == [2]
    assert tabs(app).currentWidget() is result_view(app)

    doc = store.document(record)
    assert (doc.status, doc.pages_done) == (JobStatus.DONE, (1, 2))
    assert len(store.documents()) == 1  # resumed into the same record
    pages = store.pages(record)
    assert pages[0].text == "kept page 1"  # the page read before the kill is kept as it was
    assert pages[1].text == result.pages[0].text
    assert listed(app) == [("scan.pdf", "Done · 2 pages")]
    assert not view.banner.isVisibleTo(view)
