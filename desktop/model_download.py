"""The first job with a missing model: ask once, download with progress, then run the jobs again.

The engine fails a job whose model is not on disk with ``ErrorKind.MODEL_MISSING``; the job
controller offers each such failure here (``offer``) and holds the job while the question or
the download is open. The first one asks (a non-blocking message box); later ones only join the
list. When the download ends, the held jobs run again (``JobController.retry``, with their own
options); when it is declined, cancelled or fails, they are given up (``abandon``).

The downloader (``engine.models.downloads.Downloader``, shared with the settings panel's model
list) does the network work off the GUI thread and reports ``progress``, ``finished``,
``failed`` and ``cancelled``; this flow only follows the download it started.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.controller import JobController
from engine.human import plural, size_text
from engine.jobs import ErrorKind, JobResult
from engine.models.presets import ModelSpec, find_preset
from engine.models.store import is_repo_id

log = logging.getLogger(__name__)


class ModelDownloadFlow(QObject):
    asking = Signal(str)  # the question is open (its text)
    started = Signal(str)  # model label
    progress = Signal(object)  # engine.models.downloads.DownloadProgress
    ended = Signal(bool, str)  # success, one line for the person

    def __init__(self, window: QWidget, downloader: QObject, controller: JobController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self._downloader = downloader
        self._controller = controller
        controller.set_retry_offer(ErrorKind.MODEL_MISSING, self.offer)
        downloader.progress.connect(self._on_progress)
        downloader.finished.connect(self._on_finished)
        downloader.failed.connect(self._on_failed)
        downloader.cancelled.connect(self._on_cancelled)
        self._pending: list[JobResult] = []
        self._spec: ModelSpec | None = None
        self.question: QMessageBox | None = None
        self.downloading = False

    @property
    def busy(self) -> bool:
        return self.question is not None or self.downloading

    @property
    def label(self) -> str:
        return self._spec.label if self._spec is not None else ""

    def offer(self, result: JobResult) -> bool:
        """A job failed because the engine's model is not downloaded. False when it cannot be (a folder)."""
        spec = self._controller.engine.spec
        if not is_repo_id(spec.source):
            return False
        if self.busy and self._spec is not None and self._spec.source == spec.source:
            self._pending.append(result)
            return True
        if self.busy:
            return False  # another model's download is on: this job stays failed, with its message
        self._spec, self._pending = spec, [result]
        self._ask(spec)
        return True

    def _ask(self, spec: ModelSpec) -> None:
        preset = find_preset(spec.source)
        about = f" (about {size_text(preset.approx_bytes)})" if preset is not None else ""
        box = QMessageBox(self._window)
        box.setObjectName("downloadQuestion")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Download the model?")
        box.setText(f"{spec.label} is not on this computer yet.")
        box.setInformativeText(
            f"It is downloaded once from Hugging Face{about} into the standard model cache, "
            "then your documents are read here, offline."
        )
        download = box.addButton("Download", QMessageBox.ButtonRole.AcceptRole)
        download.setObjectName("downloadAccept")
        later = box.addButton("Not Now", QMessageBox.ButtonRole.RejectRole)
        later.setObjectName("downloadDecline")
        box.setDefaultButton(download)
        box.finished.connect(lambda *_: self._answered(box.clickedButton() is download))
        self.question = box
        self.asking.emit(box.text())
        box.open()

    def _answered(self, yes: bool) -> None:
        box, self.question = self.question, None
        if box is not None:
            box.deleteLater()
        if not yes:
            self._give_up(f"{plural(len(self._pending), 'document')} not read: {self.label} is not downloaded")
            return
        self.start()

    def start(self) -> None:
        assert self._spec is not None
        log.info("downloading model %s", self._spec.source)
        if not self._downloader.start(self._spec.source):
            self._give_up(f"{self.label}: not downloaded — another download is running; try again when it ends")
            return
        self.downloading = True
        self.started.emit(self.label)

    def cancel(self) -> None:
        if self.downloading:
            self._downloader.cancel()

    def _ours(self, repo_id: str) -> bool:
        return self.downloading and self._spec is not None and repo_id == self._spec.source

    def _on_progress(self, progress) -> None:
        if self._ours(progress.repo_id):
            self.progress.emit(progress)

    def _on_finished(self, repo_id: str, _path) -> None:
        if not self._ours(repo_id):
            return
        held, self._pending = self._pending, []
        self.downloading = False
        log.info("model %s downloaded", repo_id)
        self.ended.emit(True, "")
        for result in held:
            self._controller.retry(result)

    def _on_failed(self, repo_id: str, message: str) -> None:
        if self._ours(repo_id):
            log.warning("model download failed: %s", message)
            self._give_up(f"Download failed: {message}")

    def _on_cancelled(self, repo_id: str) -> None:
        if self._ours(repo_id):
            self._give_up(f"{self.label}: download cancelled")

    def _give_up(self, message: str) -> None:
        """The jobs that waited stay failed (their temporary files go)."""
        held, self._pending = self._pending, []
        self.downloading = False
        self.ended.emit(False, message)
        for result in held:
            self._controller.abandon(result)
