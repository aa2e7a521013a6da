"""Run small disk chores (walking a dropped folder, writing a clipboard PNG) off the GUI thread.

Never for MLX: the model belongs to the engine thread alone. The result comes back to
the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object, object)  # result, exception


_in_flight: set[_Relay] = set()


def run_in_background(work: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
    """Call ``work()`` on a pool thread, then ``on_done(result, error)`` on the calling (GUI) thread."""
    relay = _Relay()
    _in_flight.add(relay)

    def finish(result, error) -> None:
        _in_flight.discard(relay)
        relay.deleteLater()
        on_done(result, error)

    relay.done.connect(finish)

    def run() -> None:
        try:
            result, error = work(), None
        except Exception as e:  # reported to the caller, who names the file
            result, error = None, e
        relay.done.emit(result, error)

    QThreadPool.globalInstance().start(run)


def pending() -> int:
    """Chores not yet reported back (tests wait on this)."""
    return len(_in_flight)
