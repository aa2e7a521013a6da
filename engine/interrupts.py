"""Ctrl+C and SIGTERM into a Qt event loop: the signal wakes the loop and a callback runs there.

Python runs a signal handler only between bytecodes of the main thread, and a Qt event loop
waiting in C++ runs none: a Ctrl+C while a model loads would wait for the next Python slot, and
one that lands inside a slot raises KeyboardInterrupt there (a traceback, and the job goes on).
The handler here only writes to a pipe (``signal.set_wakeup_fd``); a ``QSocketNotifier`` on the
other end runs ``callback(signum)`` in the event loop.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QSocketNotifier


def on_signals(
    parent: QObject, callback: Callable[[int], None], signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM)
) -> QSocketNotifier | None:
    """Run ``callback(signum)`` in ``parent``'s event loop for each of ``signals``; None where not possible."""
    try:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        os.set_blocking(read_fd, False)
        signal.set_wakeup_fd(write_fd)
    except (OSError, ValueError, AttributeError):  # not the main thread, or no pipes here
        return None
    for sig in signals:
        signal.signal(sig, lambda *_: None)  # the wakeup fd carries the signal number into the loop
    notifier = QSocketNotifier(read_fd, QSocketNotifier.Type.Read, parent)

    def on_ready() -> None:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        for signum in data:
            callback(signum)

    notifier.activated.connect(on_ready)
    return notifier
