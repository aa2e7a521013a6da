"""The QApplication, plus macOS's "Open With" / drop-on-the-app files (``QFileOpenEvent``)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QEvent, QUrl, Signal
from PySide6.QtWidgets import QApplication

from engine import documents

GIL_SWITCH_INTERVAL_S = 0.001


class Application(QApplication):
    """The QApplication, plus macOS's "Open With" / drop-on-the-app files (``QFileOpenEvent``).

    Files that arrive before the app is wired (a launch by "Open With") are kept until
    ``take_early_files()``; later ones go out through ``fileOpened``.
    """

    fileOpened = Signal(str)
    urlOpened = Signal(QUrl)  # a URL that is not a file (``ocrtray://capture``), from a FileOpen event

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self._early: list[str] | None = []
        documents.give_way_to_window()  # pages are prepared beside this GUI thread: it gets its turns
        # a thread waiting for Python's lock asks the holder to let go after this long (default 5 ms): each of
        # the window's crossings into Python waits at most about this while a helper runs Python (ADR 0021)
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.FileOpen:
            path = e.file() or e.url().toLocalFile()
            if not path and e.url().scheme():
                # here, not in an application-wide event filter: such a filter calls into Python for every
                # event of every widget, and each call waits for the GIL while a helper thread holds it
                self.urlOpened.emit(e.url())
            elif path and self._early is not None:
                self._early.append(path)
            elif path:
                self.fileOpened.emit(path)
            return True
        return super().event(e)

    def take_early_files(self) -> list[str]:
        """The files opened before anyone listened; from now on ``fileOpened`` carries them."""
        early, self._early = self._early or [], None
        return early
