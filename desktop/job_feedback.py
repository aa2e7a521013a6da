"""What happens when a job ends, for the person: "Copy when done", a notification while the window is
hidden, and a failure's one line in the message strip, with Retry (there and on its queue row) where
trying again can help.

Only for the jobs a person started in the app (the window, the tray, the clipboard, a resume). A job
from another program (the local API, the command line handing over) answers to that program: its
text never reaches the clipboard or a notification behind the person's back. A screen capture has
its own feedback (desktop/capture/flow.py)."""

from __future__ import annotations

from PySide6.QtCore import QObject

from engine.controller import JobController
from engine.documents import display_name
from engine.human import plural
from engine.jobs import Client, ErrorKind, JobResult, JobStatus
from engine.settings import Settings

from .tray import Tray
from .views.main_window import MainWindow

# what trying again can change: the model (loaded, downloaded, fitting), the engine, a password
RETRYABLE = (ErrorKind.MODEL, ErrorKind.MEMORY, ErrorKind.ENGINE, ErrorKind.MODEL_MISSING, ErrorKind.PASSWORD)
PERSONAL = (Client.WINDOW, Client.TRAY, Client.CLIPBOARD, Client.HISTORY)  # started by the person, in the app


class JobFeedback(QObject):
    def __init__(self, controller: JobController, window: MainWindow, tray: Tray, settings: Settings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window, self._tray, self._settings = window, tray, settings
        self._controller = controller
        self._failed: dict[int, JobResult] = {}  # job id -> a failure that can be retried
        controller.jobEnded.connect(self._on_job_ended)
        # a declined password prompt is said here; a declined download is said once by its own flow
        controller.jobAbandoned.connect(lambda r: self._offer_retry(r, say=r.error_kind is not ErrorKind.MODEL_MISSING))
        window.retryRequested.connect(self.retry)

    def retry(self, job_id: int) -> None:
        result = self._failed.pop(job_id, None)
        if result is not None and self._controller.retry(result):
            self._window.job_retried(job_id)

    def _on_job_ended(self, result: JobResult) -> None:
        if result.client not in PERSONAL:
            return
        if result.status is JobStatus.DONE:
            self._done(result)
        elif result.status is JobStatus.FAILED:
            self._failed_job(result)

    def _done(self, result: JobResult) -> None:
        copied = False
        if self._settings.get("ui/auto_copy") and result.pages:
            self._window.copy_job(result.job_id)  # as Copy puts it: text, HTML and Markdown
            copied = True
        if self._window.is_hidden() and self._settings.get("ui/notify"):
            self._tray.notify(
                "Text ready",
                f"{display_name(result.path)} · {plural(len(result.pages), 'page')}"
                + (" — copied to the clipboard" if copied else ""),
            )

    def _failed_job(self, result: JobResult) -> None:
        if self._controller.holds(result) or result.error_kind is ErrorKind.QUEUE:
            return  # being asked about (password, download), or already named by the queue's notice
        self._offer_retry(result)
        if self._window.is_hidden() and self._settings.get("ui/notify"):
            self._tray.notify("Could not read a document", result.error or display_name(result.path))

    def _offer_retry(self, result: JobResult, say: bool = True) -> None:
        text = result.error or f"{display_name(result.path)}: could not be read"
        retryable = result.error_kind in RETRYABLE
        if retryable:
            self._failed[result.job_id] = result
            self._window.offer_retry(result.job_id)
        if say:
            self._window.show_message(text, retry=(lambda j=result.job_id: self.retry(j)) if retryable else None)
