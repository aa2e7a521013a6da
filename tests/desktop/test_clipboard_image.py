"""OCR Clipboard Image: through a private temporary PNG that is removed after its job; an empty clipboard says so."""

from __future__ import annotations

import os

from PySide6.QtGui import QGuiApplication

from engine.jobs import JobStatus

from .conftest import Jobs, message_bar, samples_qimage


def test_clipboard_image_goes_through_a_private_file_that_is_removed(qtbot, make_app):
    app = make_app()
    jobs = Jobs(app.engine)
    QGuiApplication.clipboard().setImage(samples_qimage())
    app.tray.action("ocrClipboard").trigger()
    [result] = jobs.wait(qtbot, 1)
    assert result.status == JobStatus.DONE
    folder = app.clipboard_images.folder
    assert folder is not None and os.path.dirname(result.path) == folder
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert not os.path.exists(result.path)  # deleted when its job ended
    app.shutdown()
    assert not os.path.exists(folder)


def test_empty_clipboard_says_so(qtbot, make_app):
    app = make_app()
    QGuiApplication.clipboard().clear()
    app.tray.action("ocrClipboard").trigger()
    assert "clipboard holds no image" in message_bar(app).text()
