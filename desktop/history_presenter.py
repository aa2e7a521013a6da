"""The History tab wired to the rest: refreshed when shown and shortly after each job ends; Open shows the
stored pages, Resume reads only the missing pages; documents a crash left unfinished are announced once."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from engine.controller import JobController
from engine.history import HistoryStore, ResumePlan
from engine.human import plural
from engine.jobs import Client, DocumentStatus
from engine.settings import Settings

from .views.history_view import HistoryView
from .views.main_window import MainWindow

REFRESH_MS = 300  # a burst of job ends: one reload


class HistoryPresenter(QObject):
    def __init__(self, store: HistoryStore, window: MainWindow, controller: JobController, settings: Settings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window, self._controller, self._settings = window, controller, settings
        self._closing = False
        view = self.view = HistoryView(store)
        window.add_history(view)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(view.refresh)
        controller.jobEnded.connect(lambda *_: self._timer.start())
        controller.pageFinished.connect(self._page_saved)  # "Reading · n of m" follows while it is shown
        window.historyShown.connect(view.refresh)
        view.message.connect(window.show_message)
        view.openRequested.connect(lambda _doc, pages: window.show_pages(pages))
        view.resumeRequested.connect(self._resume)
        view.loaded.connect(self._announce_interrupted)
        view.refresh()  # at start: interrupted documents are announced, a damaged file reported

    def stop(self) -> None:
        self._closing = True
        self._timer.stop()

    def _page_saved(self, *_) -> None:
        if self._window.history_visible() and not self._closing:
            self._timer.start()

    def _announce_interrupted(self) -> None:
        """Once, after the first load."""
        self.view.loaded.disconnect(self._announce_interrupted)
        n = sum(1 for d in self.view.documents if d.status is DocumentStatus.INTERRUPTED)
        if n:
            self._window.show_message(
                f"{plural(n, 'document was', 'documents were')} interrupted before the end — "
                f"open History ({self._window.history_shortcut_text()}) to resume {'them' if n != 1 else 'it'}"
            )

    def _resume(self, plan: ResumePlan) -> None:
        if self._closing:
            return
        self._controller.submit_files([plan.path], plan.options(self._settings.ocr_options()), client=Client.HISTORY)
        self._window.show_results()
