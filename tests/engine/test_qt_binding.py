"""The Qt binding must not leak references per signal emit (PySide6 6.12.0 on Python 3.11 did; ADR 0007)."""

import sys

from PySide6.QtCore import QCoreApplication, QObject, Signal


class _Emitter(QObject):
    payload = Signal(object, object)


def test_signal_emit_keeps_refcounts():
    app = QCoreApplication.instance() or QCoreApplication([])
    emitter = _Emitter()
    got = []
    emitter.payload.connect(lambda a, b: got.append(a))
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(2000):
        emitter.payload.emit(1, None)
    app.processEvents()
    assert len(got) == 2000
    # the broken binding lost one reference per emit (2000 here); a few may move for other reasons
    assert abs(sys.getrefcount(True) - before[0]) < 50
    assert abs(sys.getrefcount(None) - before[1]) < 50
