"""What happens when a job ends, for the person: "Copy when done", a notification while the window is
hidden, and the failure's one line in the window's message strip."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication

from engine.controller import JobController
from engine.documents import display_name
from engine.human import plural
from engine.jobs import ErrorKind, JobResult, JobStatus
from engine.settings import Settings

from .tray import Tray
from .views.main_window import MainWindow


class JobFeedback(QObject):
    def __init__(self, controller: JobController, window: MainWindow, tray: Tray, settings: Settings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window, self._tray, self._settings = window, tray, settings
        self._controller = controller
        controller.jobEnded.connect(self._on_job_ended)

    def _on_job_ended(self, result: JobResult) -> None:
        if result.status is JobStatus.DONE:
            self._done(result)
        elif result.status is JobStatus.FAILED:
            self._failed(result)

    def _done(self, result: JobResult) -> None:
        copied = False
        if self._settings.get("ui/auto_copy") and result.pages:
            QGuiApplication.clipboard().setText(self._window.job_text(result.job_id))
            copied = True
        if self._window.is_hidden() and self._settings.get("ui/notify"):
            self._tray.notify(
                "Text ready",
                f"{display_name(result.path)} · {plural(len(result.pages), 'page')}"
                + (" — copied to the clipboard" if copied else ""),
            )

    def _failed(self, result: JobResult) -> None:
        if self._controller.holds(result) or result.error_kind is ErrorKind.QUEUE:
            return  # being asked about, or already named by the queue's notice
        self._window.show_message(result.error or f"{display_name(result.path)}: could not be read")
        if self._window.is_hidden() and self._settings.get("ui/notify"):
            self._tray.notify("Could not read a document", result.error or display_name(result.path))
