"""The queue (object name ``jobQueue``): one row per document with its status, page progress and a cancel button.

Rows are keyed by the engine's job id. A row's cancel button exists only while the job is
queued or running; a failed row that can be tried again gets a Retry button instead
(``offer_retry``), so a long finished list holds few widgets. Every row has a context menu
(Cancel, Retry, Remove). With no rows, a line says what the list is for.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QStyledItemDelegate,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.documents import display_name
from engine.jobs import Client, JobInfo, JobResult, JobStatus, PageProgress

from .style import secondary

NAME, STATUS, CANCEL = range(3)
ROW_PADDING = 8  # pixels added to a row's height: a list to read, not a dense table


class _RoomyRows(QStyledItemDelegate):
    def sizeHint(self, option, index):
        size = super().sizeHint(option, index)
        size.setHeight(size.height() + ROW_PADDING)
        return size


class JobQueue(QWidget):
    cancelRequested = Signal(int)  # job id
    cancelAllRequested = Signal()
    retryRequested = Signal(int)  # job id of a failed row

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("jobQueue")
        self._rows: dict[int, QTreeWidgetItem] = {}
        self._active: set[int] = set()
        self._failed: set[int] = set()
        self._retryable: set[int] = set()
        self._retry_when_ended: set[int] = set()

        self.title = QLabel("Queue")
        self.title.setObjectName("jobQueueTitle")
        secondary(self.title)
        self.cancel_all = QPushButton("Cancel All")
        self.cancel_all.setObjectName("cancelAll")
        self.cancel_all.setEnabled(False)
        self.cancel_all.clicked.connect(self.cancelAllRequested)

        self.tree = QTreeWidget()
        self.tree.setObjectName("jobQueueList")
        self.tree.setColumnCount(3)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setItemDelegate(_RoomyRows(self.tree))
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(CANCEL, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(CANCEL, 28)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.empty = QLabel("Files you add are read here, one after the other.")
        self.empty.setObjectName("jobQueueEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        secondary(self.empty)

        top = QHBoxLayout()
        top.setContentsMargins(2, 0, 0, 0)
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.cancel_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        self._changed()

    # ------------------------------------------------------------------ rows
    def add(self, info: JobInfo) -> None:
        name = display_name(info.path)
        if info.client is Client.API:  # work for another program: say which
            name = f"{name} · {info.client_name or 'API client'} (API)"
        item = QTreeWidgetItem([name, "Waiting", ""])
        item.setToolTip(NAME, info.path if info.client is not Client.API
                        else f"From the local API ({info.client_name or 'a client'}): {display_name(info.path)}")
        item.setData(NAME, Qt.ItemDataRole.UserRole, info.client.value)
        item.setTextAlignment(STATUS, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tree.addTopLevelItem(item)
        self._rows[info.job_id] = item
        button = QToolButton()
        button.setObjectName(f"cancelJob{info.job_id}")
        button.setText("✕")
        button.setToolTip("Cancel")
        button.setAutoRaise(True)
        button.clicked.connect(lambda *_, j=info.job_id: self._cancel(j))
        self.tree.setItemWidget(item, CANCEL, button)
        self._active.add(info.job_id)
        self._changed()

    def started(self, info: JobInfo) -> None:
        self._set(info.job_id, "Starting…")

    def page(self, progress: PageProgress) -> None:
        self._set(progress.job_id, f"page {progress.page} of {progress.pages}")

    def finished(self, result: JobResult) -> None:
        item = self._rows.get(result.job_id)
        if item is None:
            return
        if result.status is JobStatus.DONE:
            pages = len(result.pages)
            text = f"Done · {pages} page{'s' if pages != 1 else ''}"
        elif result.status is JobStatus.CANCELLED:
            text = "Cancelled"
        else:
            if result.needs_password:
                text = "Needs password"
            elif result.needs_model:
                text = "Needs model"  # read again once the model is downloaded
            else:
                text = "Failed"
            item.setToolTip(STATUS, result.error or "")
            item.setToolTip(NAME, result.error or item.toolTip(NAME))
            self._failed.add(result.job_id)
        self._set(result.job_id, text)
        self._end(result.job_id)

    def offer_retry(self, job_id: int) -> None:
        """A finished row that can be tried again: a Retry button on it (and in its menu). Offered while
        the row still shows the job running (whoever hears of the failure first), it comes when the row ends."""
        item = self._rows.get(job_id)
        if item is None:
            return
        if job_id in self._active:
            self._retry_when_ended.add(job_id)
            return
        self._retryable.add(job_id)
        button = QToolButton()
        button.setObjectName(f"retryJob{job_id}")
        button.setText("↻")
        button.setToolTip("Try again")
        button.setAutoRaise(True)
        button.clicked.connect(lambda *_, j=job_id: self.retryRequested.emit(j))
        self.tree.setItemWidget(item, CANCEL, button)

    def remove(self, job_id: int) -> None:
        if job_id not in self._rows:
            return
        self._failed.discard(job_id)
        self._retryable.discard(job_id)
        self._retry_when_ended.discard(job_id)
        item = self._rows[job_id]
        if self.tree.itemWidget(item, CANCEL) is not None:
            self.tree.removeItemWidget(item, CANCEL)
        self._end(job_id)
        item = self._rows.pop(job_id)
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        self._changed()

    def clear_finished(self) -> None:
        for job_id in [j for j in self._rows if j not in self._active]:
            self.remove(job_id)

    # ---------------------------------------------------------------- queries
    def name_text(self, job_id: int) -> str:
        return self._rows[job_id].text(NAME)

    def status_text(self, job_id: int) -> str:
        return self._rows[job_id].text(STATUS)

    def retry_button(self, job_id: int) -> QToolButton | None:
        item = self._rows.get(job_id)
        found = self.tree.itemWidget(item, CANCEL) if item is not None and job_id in self._retryable else None
        return found  # type: ignore[return-value]

    def cancel_button(self, job_id: int) -> QToolButton | None:
        item = self._rows.get(job_id)
        return self.tree.itemWidget(item, CANCEL) if item is not None else None  # type: ignore[return-value]

    def job_ids(self) -> list[int]:
        return list(self._rows)

    @property
    def active(self) -> int:
        return len(self._active)

    # ---------------------------------------------------------------- helpers
    def _set(self, job_id: int, text: str) -> None:
        item = self._rows.get(job_id)
        if item is not None and item.text(STATUS) != text:
            item.setText(STATUS, text)

    def _cancel(self, job_id: int) -> None:
        self._set(job_id, "Cancelling…")
        button = self.cancel_button(job_id)
        if button is not None:
            button.setEnabled(False)
        self.cancelRequested.emit(job_id)

    def _end(self, job_id: int) -> None:
        was_active = job_id in self._active
        self._active.discard(job_id)
        item = self._rows.get(job_id)
        if was_active and item is not None and self.tree.itemWidget(item, CANCEL) is not None:
            self.tree.removeItemWidget(item, CANCEL)
        if job_id in self._retry_when_ended:
            self._retry_when_ended.discard(job_id)
            self.offer_retry(job_id)
        self._changed()

    def _changed(self) -> None:
        self.cancel_all.setEnabled(bool(self._active))
        total, active, failed = len(self._rows), len(self._active), len(self._failed)
        if active:
            words = f"Queue · {active} to do"
        elif failed:
            words = f"Queue · {failed} failed"
        else:
            words = "Queue · all done" if total else "Queue"
        self.title.setText(words)
        self.empty.setVisible(not total)
        self.tree.setVisible(bool(total))

    def _menu(self, at: QPoint) -> None:
        item = self.tree.itemAt(at)
        job_id = next((j for j, i in self._rows.items() if i is item), None)
        if job_id is None:
            return
        menu = QMenu(self)
        menu.setObjectName("jobQueueMenu")
        if job_id in self._active:
            menu.addAction("Cancel", lambda: self._cancel(job_id))
        else:
            if job_id in self._retryable:
                menu.addAction("Retry", lambda: self.retryRequested.emit(job_id))
            menu.addAction("Remove from the List", lambda: self.remove(job_id))
        menu.popup(self.tree.viewport().mapToGlobal(at))
