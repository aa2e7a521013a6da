"""Run small disk chores (walking a dropped folder, writing a clipboard PNG) off the calling (GUI) thread.

Never for MLX: the model belongs to the engine thread alone. The result comes back to
the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object, object)  # result, exception


_in_flight: set[_Relay] = set()


def run_in_background(work: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None],
                      owner: QObject | None = None) -> None:
    """Call ``work()`` on a pool thread, then ``on_done(result, error)`` on the calling (GUI) thread;
    not at all if ``owner`` (the widget the answer is for) was deleted meanwhile."""
    relay = _Relay()
    _in_flight.add(relay)

    def finish(result, error) -> None:
        _in_flight.discard(relay)
        relay.deleteLater()
        if owner is not None and not shiboken6.isValid(owner):
            log.debug("a background chore finished after its window closed; its result is dropped")
            return
        on_done(result, error)

    relay.done.connect(finish)

    def run() -> None:
        try:
            result, error = work(), None
        except Exception as e:  # reported to the caller, who names the file
            result, error = None, e
        try:
            relay.done.emit(result, error)
        except RuntimeError:  # the app quit meanwhile and Qt deleted the relay: nobody is waiting
            log.debug("a background chore finished after the app quit; its result is dropped")

    QThreadPool.globalInstance().start(run)


def wait(seconds: float) -> bool:
    """At quit: let running chores end while Qt is still alive (bounded). True when none is left."""
    return QThreadPool.globalInstance().waitForDone(int(seconds * 1000))


def pending() -> int:
    """Chores not yet reported back (tests wait on this)."""
    return len(_in_flight)
