"""Disk chores off the GUI thread: the result comes back on the caller's thread; quit waits, bounded."""

from __future__ import annotations


def test_quit_waits_for_background_chores_before_closing(qtbot):
    """A chore still running at quit (a history read) ends before the history is closed, bounded in time."""
    import threading
    import time as _time

    from engine import background

    ended = threading.Event()

    def slow():
        _time.sleep(0.3)
        ended.set()
        return 1

    background.run_in_background(slow, lambda result, error: None)
    assert background.wait(5.0) is True
    assert ended.is_set()
    qtbot.waitUntil(lambda: background.pending() == 0, timeout=2000)


def test_an_answer_for_a_deleted_widget_is_dropped_and_one_for_a_live_one_arrives(qtbot):
    """A history entry's picture still being read when its view is closed: the answer must not reach the
    deleted view (Qt raises "Internal C++ object already deleted")."""
    import threading

    import shiboken6
    from PySide6.QtCore import QObject

    from engine import background

    gone, alive = QObject(), QObject()
    release = threading.Event()
    answers: list[str] = []
    background.run_in_background(lambda: release.wait(10), lambda *_: answers.append("gone"), owner=gone)
    background.run_in_background(lambda: release.wait(10), lambda *_: answers.append("alive"), owner=alive)
    shiboken6.delete(gone)
    release.set()
    qtbot.waitUntil(lambda: background.pending() == 0, timeout=10_000)
    assert answers == ["alive"]
