"""The QApplication: files opened by Finder ("Open With", a drop on the app), before and after the app is wired."""

from __future__ import annotations

from engine.jobs import JobStatus
from engine.testing import samples

from .conftest import Jobs


def test_finder_open_event_queues_the_file(qtbot, make_app, qapp, tmp_path):
    from PySide6.QtGui import QFileOpenEvent

    app = make_app()
    jobs = Jobs(app.engine)
    png = samples.write_png(tmp_path / "from-finder.png")
    qapp.sendEvent(qapp, QFileOpenEvent(str(png)))
    [result] = jobs.wait(qtbot, 1)
    assert result.path == str(png) and result.status == JobStatus.DONE
    assert app.window.isVisible()


def test_files_opened_before_the_app_was_wired_are_not_lost(qtbot, qapp, make_app, tmp_path):
    """A launch by Finder's "Open With": the FileOpen event can come before the window exists."""
    from PySide6.QtGui import QFileOpenEvent

    png = samples.write_png(tmp_path / "early.png")
    qapp._early = []  # as right after the QApplication was made
    qapp.sendEvent(qapp, QFileOpenEvent(str(png)))
    app = make_app()
    jobs = Jobs(app.engine)
    [result] = jobs.wait(qtbot, 1)
    assert result.path == str(png) and result.status == JobStatus.DONE
