"""The first job with a missing model: ask once, download with progress, then run the jobs again.

The engine fails a job whose model is not on disk with ``error_kind == "model-missing"``.
Every such failure is collected here; the first one asks (a non-blocking message box),
later ones only join the list while the question or the download is open. When the
download ends, ``ready`` hands the collected paths back to be submitted again.

The downloader (``engine.models.downloads.Downloader``, shared with the settings panel's model
list) does the network work off the GUI thread and reports ``progress``, ``finished``,
``failed`` and ``cancelled``; this flow only follows the download it started.
"""

from __future__ import annotations

import logging
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.models.store import is_repo_id
from engine.models.presets import ModelSpec, find_preset

from .status_text import size

log = logging.getLogger(__name__)


class ModelDownloadFlow(QObject):
    asking = Signal(str)  # the question is open (its text)
    started = Signal(str)  # model label
    progress = Signal(object)  # engine.models.downloads.DownloadProgress
    ready = Signal(list)  # paths to submit again
    ended = Signal(bool, str)  # success, one line for the person
    abandoned = Signal(list)  # paths that will not be submitted again

    def __init__(self, window: QWidget, downloader: QObject, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self._downloader = downloader
        downloader.progress.connect(self._on_progress)
        downloader.finished.connect(self._on_finished)
        downloader.failed.connect(self._on_failed)
        downloader.cancelled.connect(self._on_cancelled)
        self._pending: list[str] = []
        self._spec: ModelSpec | None = None
        self.question: QMessageBox | None = None
        self.downloading = False

    @property
    def busy(self) -> bool:
        return self.question is not None or self.downloading

    def offer(self, spec: ModelSpec, path: str) -> bool:
        """A job failed because ``spec`` is not downloaded. False when it cannot be downloaded (a folder)."""
        if not is_repo_id(spec.source):
            return False
        if self.busy and self._spec is not None and self._spec.source == spec.source:
            if path not in self._pending:
                self._pending.append(path)
            return True
        if self.busy:
            return False  # another model's download is on: this job stays failed, with its message
        self._spec, self._pending = spec, [path]
        self._ask(spec)
        return True

    def _ask(self, spec: ModelSpec) -> None:
        preset = find_preset(spec.source)
        about = f" (about {size(preset.approx_bytes)})" if preset is not None else ""
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
            count = len(self._pending)
            self._give_up(f"{count} document{'s' if count != 1 else ''} not read: {self._spec.label} is not downloaded")
            return
        self.start()

    def start(self) -> None:
        assert self._spec is not None
        log.info("downloading model %s", self._spec.source)
        if not self._downloader.start(self._spec.source):
            self._give_up(f"{self._spec.label}: not downloaded — another download is running; try again when it ends")
            return
        self.downloading = True
        self.started.emit(self._spec.label)

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
        paths, self._pending = self._pending, []
        self.downloading = False
        log.info("model %s downloaded", repo_id)
        self.ended.emit(True, "")
        self.ready.emit(paths)

    def _on_failed(self, repo_id: str, message: str) -> None:
        if self._ours(repo_id):
            log.warning("model download failed: %s", message)
            self._give_up(f"Download failed: {message}")

    def _on_cancelled(self, repo_id: str) -> None:
        if self._ours(repo_id):
            self._give_up(f"{self._spec.label}: download cancelled")

    def _give_up(self, message: str) -> None:
        """The jobs that waited stay failed; their files are handed back (``abandoned``) for clean-up."""
        paths, self._pending = self._pending, []
        self.downloading = False
        self.ended.emit(False, message)
        self.abandoned.emit(paths)
