"""The model presets with their download state (object name ``modelList``), and the buttons to manage them.

One row per preset: label, size (on disk when downloaded, else the approximate download),
status, licence and languages. Below: ``downloadProgress`` with bytes, speed and time left,
and ``downloadModel``, ``deleteModel`` (asks first, non-blocking) and ``cancelDownload``.

Nothing here blocks the GUI thread: the cache is looked at and deleted from on a pool
thread (``desktop.background``, file system only, never MLX) and the download runs in
``engine.models.downloads.Downloader``, which reports through signals. A downloader can be
passed in (tests, or the app sharing its one downloader); otherwise one is made on the
first Download. A download started elsewhere on the same downloader shows here too.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from engine.background import run_in_background
from engine.human import duration
from engine.human import size_text as size
from engine.models.downloads import CacheState, DownloadProgress, Phase
from engine.models.presets import PRESETS, Preset

from .style import scaled, secondary

log = logging.getLogger(__name__)

MODEL, SIZE, STATUS, LICENCE, LANGUAGES = range(5)
HEADERS = ("Model", "Size", "Status", "Licence", "Languages")
SCALE = 1000  # the progress bar counts in thousandths (byte counts overflow its int)
PRESET_ROLE = Qt.ItemDataRole.UserRole + 1


def _cache_state(repo_id: str) -> CacheState:
    """On a pool thread: a few stats in the Hugging Face cache (no network, no MLX)."""
    from engine.models.downloads import cache_state

    return cache_state(repo_id)


def _delete(repo_id: str) -> int:
    """On a pool thread: remove the repo from the cache; the bytes freed."""
    from engine.models.downloads import delete_from_cache

    return delete_from_cache(repo_id)


class ModelList(QWidget):
    """The preset table and its download / delete / cancel buttons."""

    stateChanged = Signal(str)  # repo id whose cache state was (re)read
    downloaded = Signal(str)  # repo id, once a download finished

    def __init__(self, downloader: QObject | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelManager")
        self._downloader: QObject | None = None
        self.states: dict[str, CacheState | None] = {}  # repo id -> the cache state last read (None: not read yet)
        self._scanning: set[str] = set()
        self._deleting: set[str] = set()
        self.downloading: str | None = None  # repo id of the download in progress
        self._confirm: QMessageBox | None = None

        title = QLabel("Model files")
        title.setObjectName("modelListTitle")
        title.setFont(scaled(title.font(), 1.0, bold=True))
        note = QLabel("Presets are downloaded once from Hugging Face into the standard model cache.")
        note.setObjectName("modelListNote")
        note.setFont(scaled(note.font(), 0.88))
        secondary(note)

        self.table = QTreeWidget()
        self.table.setObjectName("modelList")
        self.table.setColumnCount(len(HEADERS))
        self.table.setHeaderLabels(list(HEADERS))
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setAllColumnsShowFocus(True)
        header = self.table.header()
        header.setStretchLastSection(True)
        header.setSectionsMovable(False)
        self.table.headerItem().setTextAlignment(SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row_height = self.table.fontMetrics().height() + 8  # Finder-like airy rows
        bold_font = QFont(self.table.font())
        bold_font.setBold(True)
        bold = QFontMetrics(bold_font)
        self._rows: dict[str, QTreeWidgetItem] = {}
        for p in PRESETS:
            item = QTreeWidgetItem([p.label, f"≈ {size(p.approx_bytes)}", "Checking…", p.licence, p.languages])
            item.setData(MODEL, PRESET_ROLE, p.id)
            item.setToolTip(MODEL, p.repo_id)
            item.setToolTip(LANGUAGES, p.languages)
            item.setTextAlignment(SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setSizeHint(MODEL, QSize(0, row_height))
            self.table.addTopLevelItem(item)
            self._rows[p.repo_id] = item
            self.states[p.repo_id] = None
        # steady column widths (a status changing from "Not downloaded" to "Downloading 5%" moves nothing)
        plain = self.table.fontMetrics()
        widths = {
            MODEL: max(bold.horizontalAdvance(p.label) for p in PRESETS),
            SIZE: plain.horizontalAdvance("≈ 99.9 GB"),
            STATUS: max(plain.horizontalAdvance(t) for t in ("Partly downloaded", "Downloading 100%")),
            LICENCE: max([plain.horizontalAdvance(p.licence) for p in PRESETS] + [plain.horizontalAdvance("Licence")]),
        }
        for column, width in widths.items():
            header.resizeSection(column, width + 14)
        rows = len(PRESETS)
        self.table.setFixedHeight(
            self.table.header().sizeHint().height() + rows * self.table.sizeHintForRow(0)
            + 2 * self.table.frameWidth() + 2
        )
        self.table.itemSelectionChanged.connect(self._sync)

        self.progress = QProgressBar()
        self.progress.setObjectName("downloadProgress")
        self.progress.setRange(0, SCALE)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the window keeps its shape when the bar comes and goes
        self.progress.setSizePolicy(policy)
        self.progress.hide()
        self.status = QLabel("")
        self.status.setObjectName("downloadStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setFont(scaled(self.status.font(), 0.88))
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing() * 2)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        secondary(self.status)

        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("downloadModel")
        self.download_button.setToolTip("Download the selected model from Hugging Face")
        self.download_button.clicked.connect(self.download_selected)
        self.delete_button = QPushButton("Delete from Cache…")
        self.delete_button.setObjectName("deleteModel")
        self.delete_button.setToolTip("Remove the selected model's files from the model cache")
        self.delete_button.clicked.connect(self.delete_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelDownload")
        self.cancel_button.setToolTip("Stop the download (what was fetched is kept for a later try)")
        self.cancel_button.clicked.connect(self.cancel)
        policy = self.cancel_button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.cancel_button.setSizePolicy(policy)
        self.cancel_button.hide()  # shown with the progress bar while a download runs

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        progress_row = QHBoxLayout()
        progress_row.setSpacing(8)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addSpacing(2)
        layout.addWidget(self.table)
        layout.addSpacing(4)
        layout.addLayout(buttons)
        layout.addSpacing(8)
        layout.addLayout(progress_row)
        layout.addWidget(self.status)
        layout.addStretch(1)

        if downloader is not None:
            self.set_downloader(downloader)
        self.table.setCurrentItem(self.table.topLevelItem(0))
        self._shown = False
        self.refresh()

    # ---------------------------------------------------------------- public
    def set_downloader(self, downloader: QObject) -> None:
        self._downloader = downloader
        downloader.progress.connect(self._on_progress)
        downloader.finished.connect(self._on_finished)
        downloader.failed.connect(self._on_failed)
        downloader.cancelled.connect(self._on_cancelled)
        active = getattr(downloader, "active", None)
        if isinstance(active, str) and active:  # a download the app started before the window opened
            self.downloading = active
            self.progress.setRange(0, 0)
            self.progress.show()
            self.status.setText(f"Downloading {self._label(active)}…")
            self._sync()

    def set_current(self, preset_id: str) -> None:
        """Mark the preset chosen in the Model menu (bold) and select its row."""
        for repo_id, item in self._rows.items():
            is_current = item.data(MODEL, PRESET_ROLE) == preset_id
            font = QFont(item.font(MODEL))
            font.setBold(is_current)
            item.setFont(MODEL, font)
            tip = self._preset(repo_id).repo_id + (" · the model in use" if is_current else "")
            item.setToolTip(MODEL, tip)
            if is_current:
                self.table.setCurrentItem(item)
        self._sync()

    def selected(self) -> Preset | None:
        item = self.table.currentItem()
        if item is None:
            return None
        return next((p for p in PRESETS if p.id == item.data(MODEL, PRESET_ROLE)), None)

    def select(self, preset_id: str) -> None:
        for item in self._rows.values():
            if item.data(MODEL, PRESET_ROLE) == preset_id:
                self.table.setCurrentItem(item)

    def is_downloaded(self, repo_id: str) -> bool:
        state = self.states.get(repo_id)
        return state is not None and state.downloaded

    def busy(self) -> bool:
        """Cache reads or deletions still out (tests wait on this)."""
        return bool(self._scanning or self._deleting)

    def refresh(self, repo_ids: list[str] | None = None) -> None:
        """Read the cache state of these presets (all by default) off the GUI thread."""
        for repo_id in repo_ids or list(self._rows):
            if repo_id in self._scanning:
                continue
            self._scanning.add(repo_id)
            run_in_background(lambda r=repo_id: _cache_state(r),
                              lambda state, error, r=repo_id: self._on_state(r, state, error))

    def download_selected(self) -> None:
        p = self.selected()
        if p is None or self.downloading is not None:
            return
        if self._downloader is None:
            from engine.models.downloads import Downloader

            self.set_downloader(Downloader(parent=self))
        self.downloading = p.repo_id
        self.progress.setRange(0, 0)  # busy until the first report
        self.progress.show()
        self.status.setText(f"Connecting to download {p.label}…")
        self._set_status(p.repo_id, "Downloading…")
        log.info("downloading model %s from the settings", p.repo_id)
        if self._downloader.start(p.repo_id) is False:  # another model is downloading (started elsewhere)
            self.downloading = getattr(self._downloader, "active", None)
            busy = self._label(self.downloading or "")
            self.status.setText(f"{busy} is downloading; wait for it or cancel it first.")
            self._show_state(p.repo_id)
        self._sync()

    def cancel(self) -> None:
        if self.downloading is not None and self._downloader is not None:
            self.status.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            self._downloader.cancel()

    def delete_selected(self) -> None:
        """Ask first (a non-blocking sheet); the files go when the person confirms."""
        p = self.selected()
        if p is None or not self.is_downloaded(p.repo_id) or self._confirm is not None:
            return
        box = QMessageBox(self.window())
        box.setObjectName("deleteConfirm")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Delete Model")
        box.setText(f"Delete {p.label} from the model cache?")
        on_disk = self.states[p.repo_id].size_on_disk
        freed = f"This frees {size(on_disk)}. " if on_disk else ""
        box.setInformativeText(f"{freed}You can download it again at any time.")
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        delete.setObjectName("confirmDelete")
        keep = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("keepModel")
        box.setDefaultButton(keep)
        box.finished.connect(lambda *_: self._answered(box, box.clickedButton() is delete, p))
        self._confirm = box
        box.open()
        self._sync()

    def showEvent(self, event) -> None:
        """Look again each time the list comes into view: the cache may have changed meanwhile (CLI, Finder)."""
        super().showEvent(event)
        if self._shown:
            self.refresh()
        self._shown = True

    # ---------------------------------------------------------------- cache
    def _on_state(self, repo_id: str, state: Any, error: BaseException | None) -> None:
        if not isValid(self):  # the window was closed and deleted while the cache was read
            return
        self._scanning.discard(repo_id)
        item = self._rows.get(repo_id)
        if item is None:
            return
        if error is not None:
            log.warning("could not read the cache state of %s: %s", repo_id, error)
            self.states[repo_id] = None
            self._set_status(repo_id, "Unknown")
            item.setToolTip(STATUS, str(error))
        else:
            self.states[repo_id] = state
            self._show_state(repo_id)
        self.stateChanged.emit(repo_id)
        self._sync()

    def _show_state(self, repo_id: str) -> None:
        item, state, p = self._rows[repo_id], self.states.get(repo_id), self._preset(repo_id)
        if state is None:
            return
        if repo_id == self.downloading:
            return  # the download's progress owns the row until it ends
        if repo_id in self._deleting:
            self._set_status(repo_id, "Deleting…")
            return
        if state.downloaded:
            item.setText(SIZE, size(state.size_on_disk))
            item.setToolTip(SIZE, "on disk")
            self._set_status(repo_id, "Downloaded")
            item.setToolTip(STATUS, str(state.path or ""))
        else:
            item.setText(SIZE, f"≈ {size(p.approx_bytes)}")
            item.setToolTip(SIZE, "approximate download size")
            self._set_status(repo_id, "Partly downloaded" if state.partial else "Not downloaded")
            item.setToolTip(STATUS, f"{size(state.size_on_disk)} fetched so far; Download resumes"
                            if state.partial else "")

    def _set_status(self, repo_id: str, text: str) -> None:
        self._rows[repo_id].setText(STATUS, text)

    def _answered(self, box: QMessageBox, yes: bool, p: Preset) -> None:
        self._confirm = None
        box.deleteLater()
        self._sync()
        if not yes:
            return
        if p.repo_id == self.downloading:
            return
        self._deleting.add(p.repo_id)
        self._set_status(p.repo_id, "Deleting…")
        self._sync()
        log.info("deleting model %s from the cache", p.repo_id)
        run_in_background(lambda: _delete(p.repo_id), lambda result, error: self._deleted(p, result, error))

    def _deleted(self, p: Preset, result: Any, error: BaseException | None) -> None:
        if not isValid(self):
            return
        self._deleting.discard(p.repo_id)
        if error is not None:
            log.warning("could not delete %s: %s", p.repo_id, error)
            self.status.setText(f"{p.label} could not be deleted: {error}")
        else:
            freed = result if isinstance(result, int) and not isinstance(result, bool) else 0
            self.status.setText(f"{p.label} deleted" + (f"; {size(freed)} freed." if freed else "."))
        self.refresh([p.repo_id])
        self._sync()

    # ---------------------------------------------------------------- download
    def _on_progress(self, p: DownloadProgress) -> None:
        repo_id = p.repo_id
        if self.downloading is None:  # started elsewhere on the shared downloader
            self.downloading = repo_id
            self.progress.show()
        if repo_id != self.downloading:
            return
        total, done = int(p.total_bytes or 0), int(p.done_bytes or 0)
        if p.phase is Phase.CHECKING:
            self.progress.setRange(0, 0)
            self.status.setText(f"{self._label(repo_id)}: checking the files…")
            self._sync()
            return
        if total > 0:
            self.progress.setRange(0, SCALE)
            self.progress.setValue(min(SCALE, int(SCALE * done / total)))
            text = f"{size(done)} of {size(total)}"
            if repo_id in self._rows:
                self._set_status(repo_id, f"Downloading {min(100, int(100 * done / total))}%")
        else:
            self.progress.setRange(0, 0)
            text = size(done)
        if p.speed_bps and p.speed_bps > 0:
            text += f" · {size(p.speed_bps)}/s"
        if p.eta_s is not None and p.eta_s > 0 and total > 0:
            text += f" · {duration(p.eta_s)} left"
        self.status.setText(f"{self._label(repo_id)}: {text}")
        self._sync()

    def _on_finished(self, repo_id: str, _path: Any) -> None:
        self._end(repo_id)
        self.progress.setRange(0, SCALE)
        self.progress.setValue(SCALE)
        self.status.setText(f"{self._label(repo_id)} is downloaded.")
        self.downloaded.emit(repo_id)

    def _on_failed(self, repo_id: str, message: str) -> None:
        self._end(repo_id)
        self.progress.hide()
        self.status.setText(f"{self._label(repo_id)}: download failed — {message}")

    def _on_cancelled(self, repo_id: str) -> None:
        self._end(repo_id)
        self.progress.hide()
        self.status.setText(f"{self._label(repo_id)}: download cancelled.")

    def _end(self, repo_id: str) -> None:
        if self.downloading == repo_id or self.downloading is None:
            self.downloading = None
        if repo_id in self._rows:
            self.refresh([repo_id])
        self._sync()

    # ---------------------------------------------------------------- helpers
    def _sync(self) -> None:
        p = self.selected()
        downloading = self.downloading is not None
        known = p is not None and self.states.get(p.repo_id) is not None
        here = p is not None and self.is_downloaded(p.repo_id)
        busy_row = p is not None and (p.repo_id in self._deleting or p.repo_id == self.downloading)
        self.download_button.setEnabled(p is not None and known and not here and not downloading and not busy_row)
        self.delete_button.setEnabled(p is not None and here and not busy_row and self._confirm is None)
        self.cancel_button.setVisible(downloading)
        self.cancel_button.setEnabled(downloading and self.status.text() != "Cancelling…")

    def _preset(self, repo_id: str) -> Preset:
        return next(p for p in PRESETS if p.repo_id == repo_id)

    def _label(self, repo_id: str) -> str:
        p = next((p for p in PRESETS if p.repo_id == repo_id), None)
        return p.label if p is not None else repo_id

