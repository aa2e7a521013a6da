"""The main window on its own: what the app tells it (intent methods), what it asks for (signals), its actions."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QTextEdit

from desktop.views.main_window import MainWindow
from engine.jobs import EngineStatus, JobInfo, JobResult, JobStatus, PageProgress, PageResult, PageSource, TextDelta
from engine.lifecycle import Mode, State
from engine.settings import Settings


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(w)
    return w


def _read(window, job, path, pages):
    window.job_queued(JobInfo(job, path))
    window.job_started(JobInfo(job, path))
    for page, text in pages:
        window.page_started(PageProgress(job, path, page, len(pages)))
        window.text_delta(TextDelta(job, page, text))
        window.page_finished(PageResult(job, path, page, len(pages), text, PageSource.MODEL))
    window.job_ended(JobResult(job, path, JobStatus.DONE, page_count=len(pages)))


def test_a_job_told_to_the_window_fills_the_queue_and_the_results(window):
    assert not window.copy_action.isEnabled() and not window.save_action.isEnabled()
    _read(window, 1, "/d/a.pdf", [(1, "first"), (2, "second")])
    _read(window, 2, "/d/b.png", [(1, "other")])
    assert window.job_text(2) == "other\n"
    assert "first" in window.job_text(1) and "second" in window.job_text(1) and "other" not in window.job_text(1)
    assert window.copy_action.isEnabled() and window.save_action.isEnabled()
    assert "first" in window.findChild(QTextEdit, "resultView").toPlainText()


def test_messages_status_and_stored_pages(window):
    window.show_message("x.pdf: damaged")
    assert "x.pdf: damaged" in window.messages.text()
    window.set_engine_status(EngineStatus(State.READY, Mode.KEEP_RESIDENT, 300, "Tiny", model_bytes=10_000_000))
    assert window.status.model_label.text() == "Tiny · ready · 10.0 MB"
    window.show_pages([PageResult(-4, "/d/old.pdf", 1, 1, "stored text", PageSource.TEXT_LAYER)])
    assert window.job_text(-4) == "stored text\n"


def test_requests_go_out_as_signals(window, qtbot):
    _read(window, 1, "/d/a.pdf", [])
    window.job_queued(JobInfo(3, "/d/c.pdf"))
    with qtbot.waitSignal(window.cancelRequested, timeout=1000) as cancel:
        window.job_queue.cancel_button(3).click()
    assert cancel.args == [3]
    with qtbot.waitSignal(window.cancelAllRequested, timeout=1000):
        window.job_queue.cancel_all.click()
    with qtbot.waitSignal(window.downloadCancelRequested, timeout=1000):
        window.download_bar.cancel.click()


def test_hidden_and_closing_only_hides(window, qtbot):
    window.show()
    assert not window.is_hidden()
    with qtbot.waitSignal(window.closed, timeout=1000):
        window.close()
    assert window.is_hidden()


def test_read_a_page_again_goes_out_with_its_history_record(window, qtbot):
    from engine.jobs import TextLayer

    _read(window, 5, "/d/a.pdf", [(1, "text")])
    window.job_ended(JobResult(5, "/d/a.pdf", JobStatus.DONE, page_count=1, history_id=42))
    [section] = window.result_view.sections
    with qtbot.waitSignal(window.rereadRequested, timeout=1000) as asked:
        window.result_view.rereadRequested.emit(section, TextLayer.NEVER)
    assert asked.args == ["/d/a.pdf", 1, TextLayer.NEVER, 42]
    window.show_pages([PageResult(-7, "/d/old.pdf", 3, 4, "stored", PageSource.TEXT_LAYER)])
    stored = window.result_view.sections[-1]
    with qtbot.waitSignal(window.rereadRequested, timeout=1000) as asked:
        window.result_view.rereadRequested.emit(stored, TextLayer.NEVER)
    assert asked.args == ["/d/old.pdf", 3, TextLayer.NEVER, 7]  # a page opened from the history: its record
