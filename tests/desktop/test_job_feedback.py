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


def test_jobs_from_other_programs_never_reach_the_clipboard_or_a_notification(qtbot, make_app, tmp_path,
                                                                              monkeypatch):
    """A local API client's or the command line's job answers to that program: with Copy when done
    and notifications on and the window hidden, its text is not copied, nothing is announced, and
    its failure is not put in the window's message strip (the program gets it)."""
    from engine.jobs import Client, JobStatus

    from .conftest import message_bar

    app = make_app()
    jobs = Jobs(app.engine)
    checkbox(app, "autoCopy").setChecked(True)
    notes = []
    monkeypatch.setattr(app.tray, "notify", lambda title, text, **kw: notes.append((title, text)) or True)
    app.window.hide()
    QGuiApplication.clipboard().setText("what the person copied")
    letter = samples.write_pdf(tmp_path / "letter.pdf", pages=1, text_pages={1})
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    app.controller.submit_files([str(letter)], client=Client.API, client_name="curl/8.5")
    app.controller.submit_files([str(broken)], client=Client.API, client_name="curl/8.5")
    app.controller.submit_files([str(samples.write_png(tmp_path / "handed.png"))], client=Client.CLI)
    done = jobs.wait(qtbot, 3)
    assert [r.status for r in done] == [JobStatus.DONE, JobStatus.FAILED, JobStatus.DONE]
    assert QGuiApplication.clipboard().text() == "what the person copied"
    assert notes == [] and message_bar(app).messages == []
    app.submit([samples.write_png(tmp_path / "mine.png")])  # the person's own job still is
    jobs.wait(qtbot, 4)
    assert notes == [("Text ready", "mine.png · 1 page — copied to the clipboard")]


def test_a_failure_that_can_be_retried_gets_retry_on_its_queue_row_and_in_the_strip(qtbot, make_app, make_settings,
                                                                                  tiny_model_dir, tmp_path):
    """The model folder is gone: the failure's one line has Retry, and so does its queue row (the
    feedback hears of the failure before the row ends; the button must still come), and the row's
    Retry, once the folder is back, reads the document."""
    import shutil

    from engine.jobs import ErrorKind, JobStatus

    from .conftest import message_bar

    settings = make_settings()
    gone = tmp_path / "models" / "Finance-OCR"
    settings.set("model/preset", "custom")
    settings.set("model/custom_source", str(gone))
    app = make_app(settings)
    jobs = Jobs(app.engine)
    app.submit([samples.write_pdf(tmp_path / "Statement.pdf", pages=2, text_pages=set())])
    [failed] = jobs.wait(qtbot, 1)
    assert failed.status is JobStatus.FAILED and failed.error_kind is ErrorKind.MODEL_MISSING
    queue = job_queue(app)
    qtbot.waitUntil(lambda: queue.retry_button(failed.job_id) is not None, timeout=10_000)
    button = queue.retry_button(failed.job_id)
    assert button.isVisibleTo(app.window) and button.width() > 0
    assert any(m.startswith("Statement.pdf: ") for m in message_bar(app).messages)
    shutil.copytree(tiny_model_dir, gone)  # the folder is back
    button.click()
    done = jobs.wait(qtbot, 2)
    assert done[1].status is JobStatus.DONE and len(done[1].pages) == 2
