"""When a job ends: "Copy when done", and a notification while the window is hidden."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication

from engine.testing import samples

from .conftest import Jobs, action, checkbox, job_queue, result_view


def test_auto_copy_and_clear(qtbot, make_app, tmp_path):
    app = make_app()
    jobs = Jobs(app.engine)
    checkbox(app, "autoCopy").setChecked(True)
    assert app.settings.get("ui/auto_copy") is True
    QGuiApplication.clipboard().clear()
    app.submit([samples.write_pdf(tmp_path / "auto.pdf", pages=1, text_pages={1})])
    [result] = jobs.wait(qtbot, 1)
    assert QGuiApplication.clipboard().text().strip() == result.text.strip() != ""
    action(app, "clearResults").trigger()
    assert result_view(app).toPlainText() == "" and job_queue(app).job_ids() == []
    assert not action(app, "copyText").isEnabled()


def test_notification_when_a_job_ends_while_the_window_is_hidden(qtbot, make_app, tmp_path, monkeypatch):
    app = make_app()
    jobs = Jobs(app.engine)
    notes = []
    monkeypatch.setattr(app.tray, "notify", lambda title, text: notes.append((title, text)) or True)
    app.window.hide()
    app.submit([samples.write_png(tmp_path / "hidden.png")])
    jobs.wait(qtbot, 1)
    assert notes == [("Text ready", "hidden.png · 1 page")]
    checkbox(app, "notifyWhenDone").setChecked(False)
    app.submit([samples.write_png(tmp_path / "quiet.png")])
    jobs.wait(qtbot, 2)
    checkbox(app, "notifyWhenDone").setChecked(True)
    app.window.show()
    app.submit([samples.write_png(tmp_path / "seen.png")])
    jobs.wait(qtbot, 3)
    assert len(notes) == 1  # not when switched off, nor when the window is in view
