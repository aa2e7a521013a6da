"""Ask for a PDF's password (a non-blocking dialog, one at a time) and run the document again with it."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QLineEdit

from engine.controller import JobController
from engine.documents import display_name
from engine.jobs import ErrorKind, JobResult

from .views.main_window import MainWindow


class PasswordPrompt(QObject):
    def __init__(self, controller: JobController, window: MainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._controller, self._window = controller, window
        self._waiting: list[JobResult] = []
        self.dialog: QInputDialog | None = None
        controller.set_retry_offer(ErrorKind.PASSWORD, self.offer)

    def offer(self, result: JobResult) -> bool:
        self._waiting.append(result)
        self._ask()
        return True

    def _ask(self) -> None:
        if self.dialog is not None or not self._waiting:
            return
        result = self._waiting[0]
        wrong = result.options.password is not None  # it was tried with one
        dialog = QInputDialog(self._window)
        dialog.setObjectName("passwordDialog")
        dialog.setWindowTitle("Password Required")
        dialog.setLabelText(
            f"The password for “{display_name(result.path)}” was wrong. Try again:"
             if wrong else f"“{display_name(result.path)}” is protected by a password:"
        )
        dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
        dialog.setOkButtonText("Open")
        dialog.finished.connect(lambda code: self._answered(dialog, code))
        self.dialog = dialog
        self._window.bring_forward()
        dialog.open()

    def _answered(self, dialog: QInputDialog, code: int) -> None:
        if not self._waiting:  # cancelled at quit
            return
        result = self._waiting.pop(0)
        self.dialog = None
        password = dialog.textValue()
        dialog.deleteLater()
        if code and password:
            self._controller.retry(result, password)
        else:
            self._controller.abandon(result)  # its message, with Retry, comes from JobFeedback
        self._ask()

    def cancel_all(self) -> None:
        """At quit: forget the questions (their files are abandoned by the controller's shutdown)."""
        self._waiting.clear()
        if self.dialog is not None:
            self.dialog.reject()
            self.dialog = None
