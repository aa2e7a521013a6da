"""Prewarm on intent in the whole app (ADR 0018): the model starts loading when a drag with files enters the
window, when "OCR File…" opens its dialog and when the clipboard action is chosen, not when the job arrives;
the window says so at once; a drag that leaves does not stop the load."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLabel

from engine.jobs import JobStatus
from engine.lifecycle import PREWARM_WAIT_S, Mode, State
from engine.testing import samples
from tests.clock import SteppedClock

from .conftest import WAIT_MS, Jobs, drag_enter, drag_leave, drop, job_queue, part, samples_qimage, wait_state

pytestmark = pytest.mark.slow


def model_state(app) -> QLabel:
    return part(app, QLabel, "modelState")


def test_a_drag_entering_shows_loading_at_once_and_leaving_does_not_stop_the_load(qtbot, make_app, make_settings,
                                                                                   tmp_path, monkeypatch):
    from engine.page_prefetch import PagePrefetch

    prepared: list[str] = []  # every document whose pages are prepared, in order
    real_init = PagePrefetch.__init__
    monkeypatch.setattr(PagePrefetch, "__init__", lambda self, path, **kw: (prepared.append(path),
                                                                            real_init(self, path, **kw))[-1])
    settings = make_settings(memory__mode=Mode.AUTO_RELEASE.value, ocr__max_tokens=4)
    clock = SteppedClock()
    app = make_app(settings, clock=clock)
    app.window.show()
    pdf = samples.write_pdf(tmp_path / "scan.pdf", pages=2, text_pages=set())
    shown: list[str] = []
    app.engine.stateChanged.connect(lambda _s: shown.append(model_state(app).text()))
    assert app.engine.status.state is State.UNLOADED

    assert drag_enter(app.window, [pdf])  # the drag is over the window; nothing is dropped yet
    # the window says so before anything is dropped (every text it showed is recorded: the tiny model may be
    # ready a moment later, between two looks at the label)
    qtbot.waitUntil(lambda: any(text.startswith("Loading ") for text in shown), timeout=WAIT_MS)
    assert job_queue(app).job_ids() == []  # only announced: no job
    assert prepared == [str(pdf)]  # and its first page is being prepared already, beside the load
    drag_leave(app.window)  # it leaves without dropping: the load goes on
    wait_state(qtbot, app, State.READY)
    assert app.engine.status.loads == 1
    assert app.engine.status.deadline == clock() + PREWARM_WAIT_S  # auto-release: held for the file, a while

    jobs = Jobs(app.engine)
    assert drop(app.window, [pdf])  # it comes back and drops: read with the model already there
    [result] = jobs.wait(qtbot, 1)
    assert result.status is JobStatus.DONE and len(result.pages) == 2
    assert prepared == [str(pdf)]  # the drop's job read the pages the drag had started on
    wait_state(qtbot, app, State.UNLOADED)  # auto-release: the job it announced ended, so the model goes
    assert app.engine.status.loads == 1  # one load for the drag and its drop
    assert any(text.startswith("Loading ") for text in shown)


def test_a_prewarm_no_job_follows_is_released_when_its_wait_runs_out(qtbot, make_app, make_settings, tmp_path):
    settings = make_settings(memory__mode=Mode.AUTO_RELEASE.value)
    clock = SteppedClock()
    app = make_app(settings, clock=clock)
    assert drag_enter(app.window, [tmp_path / "later.png"])
    wait_state(qtbot, app, State.READY)
    drag_leave(app.window)
    clock.advance(PREWARM_WAIT_S - 1)
    app.engine.set_mode(Mode.AUTO_RELEASE)  # makes the engine look at its clock now (its timer would, later)
    app.engine.request_status()
    qtbot.waitUntil(lambda: app.engine.status.deadline is not None, timeout=WAIT_MS)
    assert app.engine.status.state is State.READY  # still inside the wait
    clock.advance(1)
    app.engine.set_mode(Mode.AUTO_RELEASE)
    wait_state(qtbot, app, State.UNLOADED)  # released by the mode, as if the announced job had ended then


def test_ocr_file_and_the_clipboard_action_start_the_load_before_the_job(qtbot, make_app, make_settings):
    app = make_app(make_settings(memory__mode=Mode.KEEP_RESIDENT.value, ocr__max_tokens=4))
    queued = []
    app.engine.jobQueued.connect(queued.append)
    app.tray.ocrFileRequested.emit()  # "OCR File…": the dialog opens, and the model loads meanwhile
    dialog = app.window.findChild(QFileDialog, "openDialog")
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: app.engine.status.state in (State.LOADING, State.READY), timeout=WAIT_MS)
    assert queued == []
    dialog.reject()
    wait_state(qtbot, app, State.READY)
    app.controller.unload_now()
    wait_state(qtbot, app, State.UNLOADED)

    QGuiApplication.clipboard().setImage(samples_qimage())
    loading = []  # what the engine had queued when it first said it was loading
    app.engine.stateChanged.connect(lambda s: loading.append(s.queued) if s.state is State.LOADING else None)
    jobs = Jobs(app.engine)
    app.tray.ocrClipboardRequested.emit()  # the picture is written on a pool thread, then queued
    [result] = jobs.wait(qtbot, 1)
    assert result.status is JobStatus.DONE
    assert loading and loading[0] == 0  # the load began before the job was queued (the engine's own order)
