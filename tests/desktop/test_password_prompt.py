"""A protected PDF: the app asks for its password (a non-blocking dialog) and reads it with it."""

from __future__ import annotations

from engine.jobs import ErrorKind, JobStatus
from engine.testing import samples

from .conftest import Jobs


def test_password_protected_pdf_asks_and_reads_it(qtbot, make_app, tmp_path):
    import pymupdf
    from PySide6.QtWidgets import QInputDialog

    plain = samples.write_pdf(tmp_path / "plain.pdf", pages=1, text_pages={1})
    locked = tmp_path / "locked.pdf"
    doc = pymupdf.open(plain)
    doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="s3cret")
    doc.close()

    app = make_app()
    jobs = Jobs(app.engine)
    app.submit([locked])
    [first] = jobs.wait(qtbot, 1)
    assert first.error_kind == ErrorKind.PASSWORD
    qtbot.waitUntil(lambda: app.window.findChild(QInputDialog, "passwordDialog") is not None, timeout=5000)
    dialog = app.window.findChild(QInputDialog, "passwordDialog")
    assert "locked.pdf" in dialog.labelText()
    dialog.setTextValue("wrong")
    dialog.accept()
    [_, second] = jobs.wait(qtbot, 2)
    assert second.error_kind == ErrorKind.PASSWORD
    qtbot.waitUntil(lambda: (d := app.window.findChild(QInputDialog, "passwordDialog")) is not None
                    and d is not dialog and d.isVisible(), timeout=5000)
    dialog = app.window.findChild(QInputDialog, "passwordDialog")
    assert "wrong" in dialog.labelText()
    dialog.setTextValue("s3cret")
    dialog.accept()
    [_, _, third] = jobs.wait(qtbot, 3)
    assert third.status == JobStatus.DONE and "Page 1" in third.text
