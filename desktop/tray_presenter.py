"""What the tray shows: its first menu row, tooltip and icon, and the Unload action's wording.

It listens to the job controller (engine state, the page being read, job ends) and to the model
download flow, and tells the ``Tray`` what to show; the tray itself stays a thin view.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from engine.controller import JobController
from engine.documents import display_name
from engine.human import size_text
from engine.jobs import EngineStatus, JobResult, PageProgress
from engine.lifecycle import State

from . import icons
from .status_text import model_line
from .tray import Tray

APP_NAME = "OCR Tray"


class TrayPresenter(QObject):
    def __init__(self, tray: Tray, controller: JobController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tray = tray
        self._controller = controller
        self._page: PageProgress | None = None
        self._download = ""  # "Downloading … · 40% of 2.0 GB" while a model downloads
        self._downloading = False
        controller.statusChanged.connect(self._on_status)
        controller.pageStarted.connect(self._on_page)
        controller.jobEnded.connect(self._on_job_ended)
        self._on_status(controller.status)

    # ------------------------------------------------------------------ inputs
    def _on_status(self, status: EngineStatus) -> None:
        loaded = status.state in (State.READY, State.BUSY)
        if status.unload_pending:
            self._tray.set_unload(False, "Unloads After Current Job")
        elif status.state is State.BUSY:
            self._tray.set_unload(True, "Unload After Current Job")
        else:
            self._tray.set_unload(loaded, "Unload Model")
        self.refresh()

    def _on_page(self, progress: PageProgress) -> None:
        self._page = progress
        self.refresh()

    def _on_job_ended(self, _result: JobResult) -> None:
        self._page = None
        self.refresh()

    def download_started(self, label: str) -> None:
        self._downloading = True
        self._download = f"Downloading {label}…"
        self.refresh()

    def download_progress(self, label: str, done: int, total: int) -> None:
        note = f"Downloading {label}"
        if total:
            note += f" · {int(100 * done / total)}% of {size_text(total)}"
        if note != self._download:
            self._download = note
            self.refresh()

    def download_ended(self) -> None:
        self._downloading = False
        self._download = ""
        self.refresh()

    # ------------------------------------------------------------------ output
    def refresh(self) -> None:
        status = self._controller.status
        line = model_line(status)
        lines = [f"{APP_NAME} — {line}"]
        if self._page is not None:
            p = self._page
            lines.append(f"Reading {display_name(p.path)} · page {p.page} of {p.pages}")
        if self._download:
            lines.append(self._download)
        if status.error and status.state is State.UNLOADED:
            lines.append(status.error)
        if self._downloading or status.state in (State.LOADING, State.UNLOADING):
            kind = icons.LOADING
        elif status.state is State.BUSY or self._controller.busy:
            kind = icons.BUSY
        else:
            kind = icons.IDLE
        self._tray.set_status(line, "\n".join(lines), kind)
