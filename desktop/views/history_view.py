"""The history (object name ``historyView``): past documents, newest first, with search, open, resume and delete.

Every read and write of the history runs on a pool thread (``run_in_background``); the
GUI thread only shows what comes back, so a big history or a slow disk never freezes
the window. Documents left unfinished by a crash or a kill are listed as
"Interrupted" with a banner, and ``Resume`` asks for only their missing pages.

A screen capture keeps the picture that was read (ADR 0017). Selecting its entry shows that picture
beside the list (``historyPicture``: a thumbnail and its size, decoded and scaled on a pool thread);
a click on it, "Show Full Size" or Space (as Quick Look does) opens it at the size it had on the screen
(``PictureViewer``), where it can be copied. An entry without a picture shows no panel: the list keeps
the whole width, as before.

Signals, for the app to wire:
- ``openRequested(HistoryDocument, list[PageResult])``: show these pages in the result
  view (``MainWindow.show_pages``). Their ``job_id`` is ``-document id``, so they never
  collide with the engine's (positive) job ids.
- ``resumeRequested(ResumePlan)``: submit ``[plan.path]`` with ``plan.options(settings.ocr_options())``.
- ``message(str)``: a one-line problem for the message bar.
"""

from __future__ import annotations

import logging
import os
import time

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QGuiApplication, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStyle,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.background import run_in_background
from engine.history import HistoryDocument, HistoryError, HistoryStore
from engine.human import one_line
from engine.jobs import DocumentStatus

from .style import secondary

log = logging.getLogger(__name__)

NAME, STATUS, WHEN = range(3)
ID_ROLE = Qt.ItemDataRole.UserRole + 1
FILE_ROLE = Qt.ItemDataRole.UserRole + 2  # (name, folder) of a document's row; a search's snippet row has none
SEPARATOR = "  ·  "
MIN_FOLDER_PX = 60  # narrower than this, the folder is left out of the row (its tooltip keeps the whole path)
SEARCH_DELAY_MS = 250
LIST_LIMIT = 2000  # rows shown at once; search reaches the rest
THUMB = QSize(240, 240)  # the picture panel's thumbnail fits in this (logical pixels)


def decode_picture(png: bytes | None, ratio: float) -> tuple[QImage, QImage] | None:
    """(pool thread) The kept PNG as (picture, thumbnail for a screen of ``ratio``); None: no picture.
    ``ValueError`` when the bytes are no picture."""
    if png is None:
        return None
    picture = QImage.fromData(png, "PNG")
    if picture.isNull():
        raise ValueError("the kept picture cannot be read")
    box = QSize(round(THUMB.width() * ratio), round(THUMB.height() * ratio))
    thumb = picture if picture.width() <= box.width() and picture.height() <= box.height() else picture.scaled(
        box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    thumb.setDevicePixelRatio(ratio)
    return picture, thumb


def short_folder(path: str) -> str:
    """The document's folder as a person recognises it: ``~/Downloads/scans``."""
    folder = os.path.dirname(path)
    home = os.path.expanduser("~")
    if folder == home or folder.startswith(home + os.sep):
        folder = "~" + folder[len(home):]
    return folder or "/"


def fit_name_and_folder(name: str, folder: str, metrics: QFontMetrics, width: int) -> str:
    """A document's row text in ``width`` pixels: ``name  ·  folder`` when it fits. Otherwise the folder gives
    way first (elided in its middle, then left out), and only then the name, elided in its middle so that its
    start and its ending (``…(2).png``) stay: two captures of one minute still differ."""
    full = f"{name}{SEPARATOR}{folder}" if folder else name
    if metrics.horizontalAdvance(full) <= width:
        return full
    room = width - metrics.horizontalAdvance(name + SEPARATOR)
    if folder and room >= MIN_FOLDER_PX:
        return f"{name}{SEPARATOR}{metrics.elidedText(folder, Qt.TextElideMode.ElideMiddle, room)}"
    return metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width)


class NameAndFolderDelegate(QStyledItemDelegate):
    """The Document column: the row's name stays readable however narrow the column (``fit_name_and_folder``);
    the view's own elision would cut "name · folder" in its middle and keep neither."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        parts = index.data(FILE_ROLE)
        if not parts:
            return
        widget = option.widget
        style = widget.style() if widget is not None else None
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1 if style else 4
        option.text = fit_name_and_folder(parts[0], parts[1], option.fontMetrics, option.rect.width() - 2 * margin)


def when_text(started: float, now: float | None = None) -> str:
    """When a document was read, as Mail lists messages: the time today, "Yesterday" and the time, then the
    date (with the year once it is not this year's). The full date and time are in the cell's tooltip."""
    then = time.localtime(started)
    today = time.localtime(now)
    clock = f"{then.tm_hour:02d}:{then.tm_min:02d}"
    if (then.tm_year, then.tm_yday) == (today.tm_year, today.tm_yday):
        return clock
    yesterday = time.localtime(time.mktime((today.tm_year, today.tm_mon, today.tm_mday - 1, 12, 0, 0, 0, 0, -1)))
    if (then.tm_year, then.tm_yday) == (yesterday.tm_year, yesterday.tm_yday):
        return f"Yesterday {clock}"
    day = f"{then.tm_mday} {time.strftime('%b', then)}"
    return f"{day} {clock}" if then.tm_year == today.tm_year else f"{day} {then.tm_year}"


def status_text(doc: HistoryDocument) -> str:
    done, total = len(doc.pages_done), doc.pages
    pages = f"{total} page{'s' if total != 1 else ''}"
    if doc.status is DocumentStatus.DONE:
        return f"Done · {pages}"
    if doc.status is DocumentStatus.RUNNING:
        return f"Reading · {done} of {pages}"
    if doc.status is DocumentStatus.FAILED and not done:
        return "Failed"
    return f"{doc.status.value.title()} · {done} of {pages}"


class HistoryView(QWidget):
    openRequested = Signal(object, list)  # HistoryDocument, [PageResult]
    resumeRequested = Signal(object)  # engine.history.ResumePlan
    message = Signal(str)
    loaded = Signal()  # the list shows the store's current state (tests, status)

    def __init__(self, store: HistoryStore, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("historyView")
        self.store = store
        self.documents: list[HistoryDocument] = []
        self._generation = 0  # only the newest load is shown
        self._busy = 0
        self._confirm: QMessageBox | None = None
        self._picture_generation = 0  # only the picture of the entry selected now is shown
        self.picture_id: int | None = None  # the document whose picture the panel shows
        self.picture: QImage | None = None  # that picture, full size (for the viewer)
        self.viewer: PictureViewer | None = None

        self.search = QLineEdit()
        self.search.setObjectName("historySearch")
        self.search.setPlaceholderText("Search history")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda *_: self._search_timer.start())

        self.banner = QLabel()
        self.banner.setObjectName("historyInterrupted")
        self.banner.setWordWrap(True)
        self.banner.hide()

        self.tree = QTreeWidget()
        self.tree.setObjectName("historyList")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Document", "Status", "When"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setItemDelegateForColumn(NAME, NameAndFolderDelegate(self.tree))
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(WHEN, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(40)  # the Document column takes what Status and When leave (not less)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemSelectionChanged.connect(self._load_picture)
        self.tree.itemActivated.connect(lambda *_: self.open_selected())
        quick_look = QShortcut(QKeySequence(Qt.Key.Key_Space), self.tree)
        quick_look.setContext(Qt.ShortcutContext.WidgetShortcut)
        quick_look.activated.connect(self.show_picture)

        self.open_button = self._button("historyOpen", "Open", self.open_selected, "Show this document's text")
        self.resume_button = self._button("historyResume", "Resume", self.resume_selected,
                                          "Read only the pages that are still missing")
        self.delete_button = self._button("historyDelete", "Delete", self.delete_selected, "Delete this document")
        self.clear_button = self._button("historyClear", "Clear All…", self.ask_clear_all, "Delete the whole history")
        self.empty = QLabel("Documents you read appear here.")
        self.empty.setObjectName("historyEmpty")
        secondary(self.empty)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.open_button, self.resume_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.picture_panel = self._picture_panel()
        middle = QHBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.setSpacing(8)
        middle.addWidget(self.tree, 1)
        middle.addWidget(self.picture_panel)
        layout.addWidget(self.search)
        layout.addWidget(self.banner)
        layout.addLayout(middle, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        self._update_buttons()

    def _picture_panel(self) -> QFrame:
        panel = QFrame()
        panel.setObjectName("historyPicture")
        panel.setFixedWidth(THUMB.width() + 16)
        self.thumbnail = QLabel()
        self.thumbnail.setObjectName("historyPictureThumb")
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setMinimumHeight(80)
        self.thumbnail.setCursor(Qt.CursorShape.PointingHandCursor)
        self.thumbnail.setToolTip("The picture that was read — click to see it full size (Space)")
        self.thumbnail.installEventFilter(self)
        self.picture_caption = QLabel()
        self.picture_caption.setObjectName("historyPictureSize")
        self.picture_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture_caption.setWordWrap(True)
        secondary(self.picture_caption)
        self.full_size_button = self._button("historyPictureOpen", "Show Full Size", self.show_picture,
                                             "See the picture that was read at the size it had on the screen")
        box = QVBoxLayout(panel)
        box.setContentsMargins(8, 0, 0, 0)
        box.addWidget(self.thumbnail)
        box.addWidget(self.picture_caption)
        box.addWidget(self.full_size_button, 0, Qt.AlignmentFlag.AlignHCenter)
        box.addStretch(1)
        panel.hide()
        return panel

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.thumbnail and event.type() == QEvent.Type.MouseButtonRelease:
            self.show_picture()
            return True
        return super().eventFilter(watched, event)

    def _button(self, name: str, text: str, slot, tip: str) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.clicked.connect(lambda *_: slot())
        return b

    # ----------------------------------------------------------------- loading
    def refresh(self) -> None:
        """Reload the list (off the GUI thread). Call it when shown and when a job ends."""
        self._generation += 1
        generation, text = self._generation, self.search.text().strip() or None
        store = self.store
        self._run(lambda: store.documents(search=text, limit=LIST_LIMIT),
                  lambda docs, error: self._loaded(generation, docs, error))

    def _loaded(self, generation: int, docs, error) -> None:
        if generation != self._generation:
            return  # a newer search is on its way
        if error is not None:
            self._report("The history cannot be read", error)
            docs = []
        selected = self.selected_id()
        self.documents = list(docs)
        self.tree.clear()
        for doc in self.documents:
            when = when_text(doc.started)
            folder = short_folder(doc.path)
            item = QTreeWidgetItem([f"{doc.name}{SEPARATOR}{folder}", status_text(doc), when])
            item.setData(NAME, ID_ROLE, doc.id)
            item.setData(NAME, FILE_ROLE, (doc.name, folder))
            item.setToolTip(NAME, doc.path)
            item.setToolTip(WHEN, time.strftime("%A %d %B %Y, %H:%M", time.localtime(doc.started)))
            if doc.error:
                item.setToolTip(STATUS, doc.error)
            self.tree.addTopLevelItem(item)
            if doc.snippet:  # a search: where the words were found, under the document
                found = QTreeWidgetItem([doc.snippet, "", ""])
                found.setData(NAME, ID_ROLE, doc.id)
                found.setToolTip(NAME, doc.snippet)
                found.setForeground(NAME, self.palette().placeholderText())
                font = found.font(NAME)
                font.setItalic(True)
                found.setFont(NAME, font)
                item.addChild(found)
                item.setExpanded(True)
            if doc.id == selected:
                item.setSelected(True)
        interrupted = [d for d in self.documents if d.status is DocumentStatus.INTERRUPTED]
        if interrupted:
            n = len(interrupted)
            self.banner.setText(
                f"{n} document{'s were' if n != 1 else ' was'} interrupted before the end; "
                "the pages already read are kept. Select one and choose Resume to read the rest."
            )
        self.banner.setVisible(bool(interrupted))
        self.empty.setVisible(not self.documents)
        self.empty.setText("No documents match." if self.search.text().strip() else "Documents you read appear here.")
        if self.store.recovered:
            self.message.emit(self.store.recovered)
            self.store.recovered = None
        self._update_buttons()
        self._load_picture()  # the selected entry's picture may have been kept since
        self.loaded.emit()

    # ------------------------------------------------------------- selection
    def selected_id(self) -> int | None:
        items = self.tree.selectedItems()
        return items[0].data(NAME, ID_ROLE) if items else None

    def selected(self) -> HistoryDocument | None:
        chosen = self.selected_id()
        return next((d for d in self.documents if d.id == chosen), None)

    def select(self, document_id: int) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(NAME, ID_ROLE) == document_id:
                self.tree.setCurrentItem(item)
                item.setSelected(True)
                return True
        return False

    def _update_buttons(self) -> None:
        doc = self.selected()
        idle = self._busy == 0
        self.open_button.setEnabled(idle and doc is not None and bool(doc.pages_done))
        self.resume_button.setEnabled(idle and doc is not None and doc.resumable)
        self.delete_button.setEnabled(idle and doc is not None and doc.status is not DocumentStatus.RUNNING)
        self.clear_button.setEnabled(idle and bool(self.documents))

    # --------------------------------------------------------------- the picture a capture read
    def _load_picture(self) -> None:
        """The selected entry's kept picture, read and scaled on a pool thread; no picture: no panel."""
        self._picture_generation += 1
        generation, chosen = self._picture_generation, self.selected_id()
        if chosen is None:
            self._show_picture_panel(None, None)
            return
        store, ratio = self.store, self.devicePixelRatioF()
        run_in_background(lambda: decode_picture(store.image(chosen), ratio),
                          lambda got, error: self._picture_loaded(generation, chosen, got, error), owner=self)

    def _picture_loaded(self, generation: int, record: int, got, error) -> None:
        if generation != self._picture_generation:
            return  # another entry was selected meanwhile
        if error is not None:
            doc = self.selected()
            log.warning("history: the picture of a document cannot be shown (%s)", type(error).__name__)
            self._show_picture_panel(None, None)
            if doc is not None:
                self.message.emit(f"{doc.name}: the kept picture cannot be shown ({one_line(error)})")
            return
        self._show_picture_panel(record, got)

    def _show_picture_panel(self, record: int | None, got: tuple[QImage, QImage] | None) -> None:
        if got is None:
            self.picture_id, self.picture = None, None
            self.thumbnail.clear()
            self.picture_panel.hide()
            if self.viewer is not None:
                self.viewer.close()
            return
        picture, thumb = got
        self.picture_id, self.picture = record, picture
        self.thumbnail.setPixmap(QPixmap.fromImage(thumb))
        self.picture_caption.setText(f"{picture.width()} × {picture.height()} pixels")
        self.picture_panel.show()

    def show_picture(self) -> None:
        """The selected capture's picture full size (Space, a click on the thumbnail, Show Full Size)."""
        if self.picture is None or self.picture_id != self.selected_id():
            return
        if self.viewer is not None:
            self.viewer.close()
            return  # Space again closes it, as Quick Look does
        doc = self.selected()
        viewer = self.viewer = PictureViewer(self.picture, doc.name if doc else "Picture", self)
        viewer.finished.connect(lambda *_: self._viewer_closed(viewer))
        viewer.show()

    def _viewer_closed(self, viewer: PictureViewer) -> None:
        if self.viewer is viewer:
            self.viewer = None
        viewer.deleteLater()

    # --------------------------------------------------------------- actions
    def open_selected(self) -> None:
        doc = self.selected()
        if doc is None:
            return
        store = self.store

        def done(pages, error) -> None:
            if error is not None:
                self._report(f"{doc.name} cannot be opened from the history", error)
                return
            self.openRequested.emit(doc, list(pages))

        self._run(lambda: store.pages(doc.id), done)

    def resume_selected(self) -> None:
        doc = self.selected()
        if doc is None or not doc.resumable:
            return
        store = self.store

        def done(plan, error) -> None:
            if error is not None:
                self._report(f"{doc.name} cannot be resumed", error)
                self.refresh()
                return
            self.resumeRequested.emit(plan)

        self._run(lambda: store.resume_plan(doc.id), done)

    def delete_selected(self) -> None:
        doc = self.selected()
        if doc is None:
            return
        store = self.store

        def done(deleted, error) -> None:
            if error is not None:
                self._report(f"{doc.name} could not be deleted", error)
            elif not deleted:
                self.message.emit(f"{doc.name}: not deleted — it is being read right now")
            self.refresh()

        self._run(lambda: store.delete(doc.id), done)

    def ask_clear_all(self) -> None:
        if self._confirm is not None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Clear History",
            "Delete every document in the history? The text cannot be brought back.",
            QMessageBox.StandardButton.Cancel, self,
        )
        box.setObjectName("historyClearConfirm")
        delete = box.addButton("Delete All", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered(*_) -> None:
            self._confirm = None
            if box.clickedButton() is delete:
                self.clear_all()
            box.deleteLater()

        box.finished.connect(answered)
        self._confirm = box
        box.open()

    def clear_all(self) -> None:
        """Delete every document not being read right now (no question asked: ``ask_clear_all`` asks)."""
        store = self.store

        def done(_count, error) -> None:
            if error is not None:
                self._report("The history could not be cleared", error)
            self.refresh()

        self._run(store.clear, done)

    # --------------------------------------------------------------- helpers
    def _run(self, work, on_done) -> None:
        self._busy += 1
        self._update_buttons()

        def finish(result, error) -> None:
            self._busy -= 1
            on_done(result, error)
            self._update_buttons()

        run_in_background(work, finish, owner=self)

    def _report(self, what: str, error: BaseException) -> None:
        if isinstance(error, HistoryError):
            self.message.emit(str(error))
        else:
            log.error("history: %s (%s)", what, type(error).__name__)
            self.message.emit(f"{what} ({' '.join(str(error).split()) or type(error).__name__})")


class PictureViewer(QDialog):
    """A capture's picture at the size it had on the screen (scrolled when larger than 80% of it), with
    Copy Picture; Esc or Space closes it."""

    def __init__(self, picture: QImage, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyPictureViewer")
        self.setWindowTitle(title)
        self.picture = picture
        ratio = parent.devicePixelRatioF() if parent is not None else 1.0
        pixmap = QPixmap.fromImage(picture)
        pixmap.setDevicePixelRatio(ratio)  # one picture pixel per screen pixel, as it was captured
        self.image = QLabel()
        self.image.setObjectName("historyPictureFull")
        self.image.setPixmap(pixmap)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.image)
        scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy Picture", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setObjectName("historyPictureCopy")
        copy.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        close = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        close.activated.connect(self.reject)
        shown = pixmap.deviceIndependentSize().toSize()
        screen = (parent.screen() if parent is not None else QGuiApplication.primaryScreen()).availableGeometry()
        self.resize(min(shown.width() + 40, int(screen.width() * 0.8)),
                    min(shown.height() + 90, int(screen.height() * 0.8)))

    def copy(self) -> None:
        QGuiApplication.clipboard().setImage(self.picture)
