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
