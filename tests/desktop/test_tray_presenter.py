"""The tray's first row, tooltip and Unload wording follow the engine."""

from __future__ import annotations

from engine.jobs import JobStatus
from engine.lifecycle import Mode, State
from engine.testing import samples

from .conftest import Jobs, wait_state


def test_unload_from_the_tray(qtbot, make_app, tmp_path):
    app = make_app(mode=Mode.KEEP_RESIDENT)
    jobs = Jobs(app.engine)
    unload = app.tray.action("unloadModel")
    first_row = app.tray.menu.actions()[0]
    assert first_row.objectName() == "modelStatus" and not first_row.isEnabled()
    assert first_row.text().endswith("· not loaded") and not unload.isEnabled()

    app.submit([samples.write_png(tmp_path / "a.png")])
    jobs.wait(qtbot, 1)
    wait_state(qtbot, app, State.READY)
    assert " · ready · " in first_row.text() and first_row.text().endswith("B")  # "… · ready · 12.3 MB"
    assert app.tray.tooltip.startswith("OCR Tray — ")
    assert unload.isEnabled() and unload.text() == "Unload Model"
    unload.trigger()
    wait_state(qtbot, app, State.UNLOADED)
    assert first_row.text().endswith("· not loaded")
    assert not unload.isEnabled()
    assert app.engine.status.model_bytes == 0


def test_unload_mid_job_waits_for_the_job(qtbot, make_app, tmp_path):
    app = make_app(mode=Mode.KEEP_RESIDENT)
    jobs = Jobs(app.engine)
    unload = app.tray.action("unloadModel")
    pdf = samples.write_pdf(tmp_path / "three.pdf", pages=3, text_pages=set())
    states = []
    app.engine.stateChanged.connect(lambda s: states.append((s.state, len(jobs.done))))
    texts_when_busy = []

    def on_page(progress):
        if progress.page == 1:
            texts_when_busy.append((unload.text(), unload.isEnabled()))
            unload.trigger()

    app.engine.pageStarted.connect(on_page)
    app.submit([pdf])
    [result] = jobs.wait(qtbot, 1)
    wait_state(qtbot, app, State.UNLOADED)
    assert texts_when_busy == [("Unload After Current Job", True)]
    assert result.status == JobStatus.DONE and len(result.pages) == 3  # the job was not cut short
    unloading = [done for state, done in states if state is State.UNLOADING]
    assert unloading and unloading[0] == 1  # the unload began only after the job ended
    assert any(state is State.BUSY for state, _ in states)
    assert app.tray.menu.actions()[0].text().endswith("· not loaded")
