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


def test_an_ocrtray_url_opened_by_the_system_starts_a_capture_without_an_app_wide_event_filter(qtbot, make_app,
                                                                                                 qapp, monkeypatch):
    """ocrtray://capture (Shortcuts, Raycast, Alfred) arrives as a FileOpen event on the application. It is taken
    in Application.event: an application-wide event filter in Python would run for every event of every widget,
    and each call waits for the GIL while the page helper holds it (figure 4: 144-172 ms stalls)."""
    from PySide6.QtCore import QObject, QUrl
    from PySide6.QtGui import QFileOpenEvent

    installed: list[QObject] = []
    real_install = type(qapp).installEventFilter

    def spy(self, watcher):
        if self is qapp:
            installed.append(watcher)
        return real_install(self, watcher)
    monkeypatch.setattr(type(qapp), "installEventFilter", spy)
    app = make_app()
    assert installed == []  # nothing filters every event of the application
    started: list[str] = []
    monkeypatch.setattr(app.capture, "start", lambda mode: started.append(mode) or True)
    qapp.sendEvent(qapp, QFileOpenEvent(QUrl("ocrtray://capture?mode=window")))
    qtbot.waitUntil(lambda: started == ["window"], timeout=5000)


def test_the_app_has_page_preparation_give_way_to_its_window(qapp):
    """A process with a window prepares pages in steps with pauses between them (engine.documents), and a
    thread waiting for Python's lock asks for it after 1 ms, not 5 (ADR 0021)."""
    import sys

    from desktop.application import GIL_SWITCH_INTERVAL_S
    from engine import documents

    assert documents._give_way is True
    assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S == 0.001
