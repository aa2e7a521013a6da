"""The main window: drop zone and queue on the left, the streaming results on the right.

With a history (``add_history``), the right side holds two tabs, "Results" and
"History" (object name ``resultTabs``); ⌘Y (``showHistory``) switches to the history.

It knows nothing of the engine: it emits what the person asked for (paths dropped or
chosen, cancels) and the app feeds it through intent methods (``job_queued``,
``text_delta``, ``job_ended``, ``show_message``, ``set_engine_status``, ``show_pages``…), so
nothing outside the window reaches into its children. Closing it only hides it.
``filesComing`` says that files are about to come (a drag with something worth reading entered the
window, with the file it will likely start with, or an open dialog opened), so that the app can start
loading the model, and preparing that file's first page, before they do.

Actions (object names): ``addFiles`` (⌘O), ``copyText`` (⌘C: text, HTML and Markdown), ``saveAs``
(⌘S: .md, .txt, .html, .json, and .csv for one table), ``clearResults`` (⌘K), ``showRawText``
(⇧⌘R) and ``showBoxes`` (⇧⌘B) in the View menu and the toolbar, ``autoCopy`` and
``notifyWhenDone`` (options, bound to the settings ``ui/auto_copy`` and ``ui/notify``). The task
buttons under the drop zone (``taskPicker``) set ``ocr/task``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine.documents import formats_label, readable_suffixes
from engine.human import plural
from engine.jobs import Client, EngineStatus, JobInfo, JobResult, PageProgress, PageResult, TextDelta
from engine.settings import Settings

from .. import icons
from ..export import CSV_FILTER, SAVE_FILTERS, copy_pages, kind_for, mime_data, save_pages
from .download_bar import DownloadBar
from .drop_zone import DropZone
from .job_queue import JobQueue
from .message_bar import MessageBar
from .result_view import ResultView
from .status_bar import StatusBar
from .task_picker import TaskPicker

log = logging.getLogger(__name__)

DEFAULT_SIZE = QSize(920, 600)
STRAY_SELECTION = 2  # a selection shorter than this (non-space characters) is a stray click: Copy takes all


def file_filter() -> str:
    """The dialog's filter: the formats the drop zone names, by their endings."""
    return f"Images and PDFs ({' '.join(f'*{s}' for s in sorted(readable_suffixes()))})"


class MainWindow(QMainWindow):
    pathsChosen = Signal(list)  # files or folders, dropped or picked
    filesComing = Signal(list)  # intent: a drag entered (its first file, when known) or a dialog opened: prewarm
    closed = Signal()
    historyShown = Signal()  # the History tab became the visible one
    cancelRequested = Signal(int)  # a job's ✕ in the queue
    cancelAllRequested = Signal()
    retryRequested = Signal(int)  # a failed row's Retry
    rereadRequested = Signal(str, int, object, object)  # path, page, TextLayer, history record (or None)
    statusRefreshRequested = Signal()  # the status bar wants fresh memory figures
    downloadCancelRequested = Signal()

    def __init__(self, settings: Settings, shared_actions: list[QAction] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("OCR Tray")
        self.setWindowIcon(icons.app_icon())
        self.setUnifiedTitleAndToolBarOnMac(True)
        self.setAcceptDrops(True)
        self.resize(DEFAULT_SIZE)
        self.setMinimumSize(640, 400)
        self._settings = settings

        self.drop_zone = DropZone()
        self.task_picker = TaskPicker(settings)
        self.job_queue = JobQueue()
        self.result_view = ResultView()
        self.messages = MessageBar()
        self.download_bar = DownloadBar()
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.drop_zone.pathsDropped.connect(self.pathsChosen)
        self.drop_zone.filesComing.connect(self.filesComing)
        self.drop_zone.rejected.connect(self.messages.add)
        self.drop_zone.chooseRequested.connect(self.choose_files)
        self.job_queue.cancelRequested.connect(self.cancelRequested)
        self.job_queue.cancelAllRequested.connect(self.cancelAllRequested)
        self.job_queue.retryRequested.connect(self.retryRequested)
        self._history_ids: dict[int, int | None] = {}  # job id -> the history record its pages went to
        self.result_view.rereadRequested.connect(self._reread)
        self.status.refreshRequested.connect(self.statusRefreshRequested)
        self.download_bar.cancelRequested.connect(self.downloadCancelRequested)

        left = QWidget()
        left.setObjectName("sidebar")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(12, 12, 6, 12)
        left_layout.setSpacing(12)
        left_layout.addWidget(self.drop_zone, 0)
        left_layout.addWidget(self.task_picker, 0)
        left_layout.addWidget(self.job_queue, 1)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 12, 12, 12)
        right_layout.setSpacing(8)
        right_layout.addWidget(self.download_bar)
        right_layout.addWidget(self.messages)
        right_layout.addWidget(self.result_view, 1)
        self._right_layout = right_layout
        self.tabs: QTabWidget | None = None  # Results / History, once ``add_history`` is called
        self.history_view: QWidget | None = None

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("splitter")
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, DEFAULT_SIZE.width() - 300])
        self.setCentralWidget(splitter)

        self._make_actions()
        self._make_toolbar()
        self._make_menus(shared_actions or [])
        self._bind_options()
        self._save_dialog: QFileDialog | None = None
        self._open_dialog: QFileDialog | None = None
        self.refresh_actions()
        self.result_view.textChanged.connect(self.refresh_actions)

    # ---------------------------------------------------------------- what the app tells it
    def job_queued(self, info: JobInfo) -> None:
        self.job_queue.add(info)
        self.result_view.set_job_output(info.job_id, info.options.output)
        if info.client in (Client.WINDOW, Client.TRAY, Client.CLIPBOARD, Client.HISTORY, Client.CAPTURE):
            self.show_results()  # the person just asked for it: show where its text will appear
        self.refresh_actions()

    def job_started(self, info: JobInfo) -> None:
        self.job_queue.started(info)

    def page_started(self, progress: PageProgress) -> None:
        self.job_queue.page(progress)
        self.result_view.begin_page(progress)

    def text_delta(self, delta: TextDelta) -> None:
        self.result_view.append(delta)

    def page_finished(self, result: PageResult) -> None:
        self.result_view.finish_page(result)

    def job_ended(self, result: JobResult) -> None:
        self.job_queue.finished(result)
        self.result_view.end_job(result)
        self._history_ids[result.job_id] = result.history_id

    def _reread(self, section, text_layer) -> None:
        """A page read again (with the model, or from its text layer), into its document's history record."""
        record = -section.job_id if section.job_id < 0 else self._history_ids.get(section.job_id)
        self.rereadRequested.emit(section.path, section.page, text_layer, record)

    def offer_retry(self, job_id: int) -> None:
        self.job_queue.offer_retry(job_id)

    def job_retried(self, job_id: int) -> None:
        """A failed job was submitted again (a new row): its old row goes."""
        self.job_queue.remove(job_id)

    def job_text(self, job_id: int) -> str:
        """A job's text as Copy would give it (for "Copy when done")."""
        return self.result_view.export("plain", [s for s in self.result_view.sections if s.job_id == job_id])

    def copy_job(self, job_id: int) -> str | None:
        """A job's pages on the clipboard as Copy puts them (text, HTML, Markdown), for "Copy when done".
        The plain text, or None while a large document is prepared off this thread."""
        pages, _, docs = self.result_view.snapshot([s for s in self.result_view.sections if s.job_id == job_id])
        return copy_pages(pages, docs, self.result_view.show_raw)

    def show_pages(self, pages: list[PageResult]) -> None:
        """Stored pages (from the history) shown as if they had just been read."""
        self.result_view.show_pages(pages)
        self.show_results()
        self.refresh_actions()

    def show_message(self, text: str, retry=None) -> None:
        """One row in the message strip; ``retry`` (a callable) adds a Retry button to it."""
        self.messages.add(text, retry)

    def set_engine_status(self, status: EngineStatus) -> None:
        self.status.set_status(status)

    def download_started(self, label: str) -> None:
        self.download_bar.start(label)

    def download_progress(self, done: int, total: int, speed_bps: float, eta_s: float | None) -> None:
        self.download_bar.progress(done, total, speed_bps, eta_s)

    def download_finished(self) -> None:
        self.download_bar.finish()

    def is_hidden(self) -> bool:
        return not self.isVisible() or self.isMinimized()

    def history_visible(self) -> bool:
        return self.tabs is not None and self.tabs.currentWidget() is self.history_view

    def history_shortcut_text(self) -> str:
        return self.show_history_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)

    # ---------------------------------------------------------------- history
    def add_history(self, view: QWidget) -> None:
        """Put ``view`` (the ``HistoryView``) in a "History" tab beside the results."""
        if self.tabs is not None:
            return
        tabs = QTabWidget()
        tabs.setObjectName("resultTabs")
        tabs.setDocumentMode(True)  # flat tabs, no frame around the page (segmented-control look on macOS)
        self._right_layout.replaceWidget(self.result_view, tabs)
        tabs.addTab(self.result_view, "Results")
        tabs.addTab(view, "History")
        tabs.setTabToolTip(1, "Documents read before: open their text again, or resume an interrupted one")
        tabs.currentChanged.connect(lambda i: self.historyShown.emit() if tabs.widget(i) is view else None)
        self._right_layout.setStretchFactor(tabs, 1)
        self.tabs, self.history_view = tabs, view
        self.show_results_action = self._action("showResults", "Show Results", self.show_results, "Ctrl+1")
        self.show_history_action = self._action(
            "showHistory", "Show History", self.show_history, "Ctrl+2", "Documents read before"
        )
        self._view_menu.insertAction(self.show_raw_action, self.show_results_action)  # File, Edit, View, Model…
        self._view_menu.insertAction(self.show_raw_action, self.show_history_action)
        self._view_menu.insertSeparator(self.show_raw_action)

    def show_history(self) -> None:
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self.history_view)

    def show_results(self) -> None:
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self.result_view)

    # ---------------------------------------------------------------- actions
    def _action(self, name: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(lambda *_: slot())
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        self.add_files_action = self._action(
            "addFiles", "Add Files…", self.choose_files, QKeySequence.StandardKey.Open,
            f"Choose images or PDFs to read ({formats_label()})",
        )
        self.add_folder_action = self._action(
            "addFolder", "Add Folder…", self.choose_folder, "Ctrl+Shift+O", "Choose a folder: its images and PDFs"
        )
        self.about_action = self._action("about", "About OCR Tray", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.copy_action = self._action(
            "copyText", "Copy", self.copy_text, QKeySequence.StandardKey.Copy, "Copy the text (or the selection)"
        )
        self.save_action = self._action(
            "saveAs", "Save As…", self.save_as, QKeySequence.StandardKey.Save, "Save the text as Markdown or plain text"
        )
        self.clear_action = self._action(
            "clearResults", "Clear", self.clear, "Ctrl+K", "Clear the results and finished rows"
        )
        self.show_raw_action = self._toggle(
            "showRawText", "Show Raw Text", "Raw Text", self.result_view.set_show_raw, "Ctrl+Shift+R",
            "Show each page's text as the model wrote it (tags and all), not rendered",
        )
        self.show_boxes_action = self._toggle(
            "showBoxes", "Show Boxes", "Boxes", self.result_view.set_show_boxes, "Ctrl+Shift+B",
            "Under each page read with its layout (DeepSeek-OCR), a picture of the page with the regions found",
        )
        self.close_action = self._action("closeWindow", "Close Window", self.close, QKeySequence.StandardKey.Close)
        self.auto_copy_box = QCheckBox("Copy when done")
        self.auto_copy_box.setObjectName("autoCopy")
        self.auto_copy_box.setToolTip("Put each finished document's text on the clipboard")
        self.notify_box = QCheckBox("Notify when done")
        self.notify_box.setObjectName("notifyWhenDone")
        self.notify_box.setToolTip("Show a notification when a document finishes while this window is hidden")

    def _toggle(self, name: str, text: str, short: str, slot, shortcut: str, tip: str) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setIconText(short)  # the toolbar's shorter word
        action.setCheckable(True)
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip)
        action.toggled.connect(slot)
        self.addAction(action)
        return action

    def _make_toolbar(self) -> None:
        bar = QToolBar("Toolbar")
        bar.setObjectName("toolbar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addAction(self.add_files_action)
        bar.addSeparator()
        bar.addAction(self.copy_action)
        bar.addAction(self.save_action)
        bar.addAction(self.clear_action)
        bar.addSeparator()
        bar.addAction(self.show_raw_action)
        bar.addAction(self.show_boxes_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(self.auto_copy_box)
        bar.addWidget(self.notify_box)
        self.addToolBar(bar)

    def _make_menus(self, shared: list[QAction]) -> None:
        by_name = {a.objectName(): a for a in shared}
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.add_files_action)
        file_menu.addAction(self.add_folder_action)
        for name in ("ocrClipboard", "captureText", "captureWindow", "captureLastRegion"):
            if name in by_name:
                file_menu.addAction(by_name[name])
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.close_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(self.copy_action)
        edit_menu.addAction(self.clear_action)
        view_menu = self._view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.show_raw_action)
        view_menu.addAction(self.show_boxes_action)
        model_menu = self._model_menu = self.menuBar().addMenu("&Model")
        for name in ("unloadModel", "openSettings"):
            if name in by_name:
                model_menu.addAction(by_name[name])
        if "quit" in by_name:
            file_menu.addSeparator()
            file_menu.addAction(by_name["quit"])  # moved to the app menu on macOS
        help_menu = self._help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.about_action)  # moved to the app menu on macOS

    def _bind_options(self) -> None:
        self.auto_copy_box.setChecked(bool(self._settings.get("ui/auto_copy")))
        self.notify_box.setChecked(bool(self._settings.get("ui/notify")))
        self.auto_copy_box.toggled.connect(lambda on: self._settings.set("ui/auto_copy", on))
        self.notify_box.toggled.connect(lambda on: self._settings.set("ui/notify", on))
        self._settings.changed.connect(self._on_setting)

    def _on_setting(self, key: str, value) -> None:
        box = {"ui/auto_copy": self.auto_copy_box, "ui/notify": self.notify_box}.get(key)
        if box is not None and box.isChecked() != bool(value):
            box.setChecked(bool(value))

    def refresh_actions(self) -> None:
        has = self.result_view.has_text()
        self.copy_action.setEnabled(has)
        self.save_action.setEnabled(has)
        self.clear_action.setEnabled(has or bool(self.job_queue.job_ids()))

    # ---------------------------------------------------------------- commands
    def copy_text(self) -> str:
        """The selection if it is more than a stray click, else all the pages (without their headings), onto
        the clipboard as text, HTML and Markdown (tables kept), and a word in the status bar. Returns the
        plain text copied ("" while a large document is still being prepared off this thread)."""
        selected = self.result_view.textCursor().selectedText().replace("\u2029", "\n")
        if len("".join(selected.split())) < STRAY_SELECTION:
            selected = ""
        if selected:
            QGuiApplication.clipboard().setMimeData(mime_data(self.result_view.selection_texts()))
            self._copied("the selection", selected)
            return selected
        if not self.result_view.sections:
            return ""
        pages, _, docs = self.result_view.snapshot()
        what = plural(len(pages), "page")
        text = copy_pages(pages, docs, self.result_view.show_raw, done=lambda t: self._copied(what, t))
        if text is None:
            self.status.showMessage(f"Copying {what}…", 4000)
            return ""
        self._copied(what, text)
        return text

    def _copied(self, what: str, text: str) -> None:
        self.status.showMessage(f"Copied {what} · {plural(len(text), 'character')}", 4000)

    def save_as(self) -> None:
        """A non-blocking save dialog (a sheet on macOS); the file is written when it is accepted."""
        if self._save_dialog is not None:
            self._save_dialog.raise_()
            return
        dialog = QFileDialog(self, "Save Text As")
        dialog.setObjectName("saveDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        filters = self.save_filters()
        dialog.setNameFilters(list(filters))
        dialog.setDefaultSuffix("md")
        dialog.selectFile(self._suggested_name())
        dialog.filterSelected.connect(lambda f: dialog.setDefaultSuffix(filters.get(f, ".md")[1:]))
        dialog.fileSelected.connect(self.write_text_file)
        dialog.finished.connect(lambda *_: self._forget_save_dialog(dialog))
        self._save_dialog = dialog
        dialog.open()

    def _forget_save_dialog(self, dialog: QFileDialog) -> None:
        self._save_dialog = None
        dialog.deleteLater()

    def _suggested_name(self) -> str:
        """Beside the document, named after it (one document); else "OCR Text.md" in the first one's folder."""
        sections = [s for s in self.result_view.sections if s.job_id > 0 or os.path.isabs(s.path)]
        if not sections:
            return os.path.join(os.path.expanduser("~"), "OCR Text.md")
        docs = {Path(s.path) for s in sections}
        first = Path(sections[0].path)
        folder = first.parent if first.parent.is_dir() and os.access(first.parent, os.W_OK) else Path.home()
        name = f"{first.stem}.md" if len(docs) == 1 else "OCR Text.md"
        return str(folder / name)

    def save_filters(self) -> dict[str, str]:
        """Save As's file kinds (filter -> ending): CSV only when the results hold exactly one table."""
        filters = dict(SAVE_FILTERS)
        if self.result_view.single_table() is not None:
            filters[CSV_FILTER[0]] = CSV_FILTER[1]
        return filters

    def write_text_file(self, path: str) -> bool:
        """The results in the kind the file's ending names (.md, .html, .json, .csv; plain text otherwise),
        converted and written on a pool thread. False when the kind cannot be written (a CSV without
        exactly one table)."""
        if kind_for(path) == "csv" and self.result_view.single_table() is None:
            self.messages.add(f"{os.path.basename(path)}: a CSV file holds one table, and the results do not "
                              "hold exactly one")
            return False
        pages, headings, docs = self.result_view.snapshot()
        save_pages(path, pages, headings, docs, lambda kind, error: self._saved(path, kind, error))
        return True

    def _saved(self, path: str, kind: str, error: BaseException | None) -> None:
        if error is None:
            log.info("saved the results (%s)", kind)
            self.status.showMessage(f"Saved {os.path.basename(path)}", 4000)
            return
        reason = (error.strerror or str(error)) if isinstance(error, OSError) else type(error).__name__
        self.messages.add(f"{os.path.basename(path)}: could not be saved ({reason})")

    def choose_files(self) -> None:
        if self._open_dialog is not None:
            self._open_dialog.raise_()
            return
        dialog = QFileDialog(self, "Choose Images or PDFs")
        dialog.setObjectName("openDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilters([file_filter(), "All files (*)"])
        dialog.filesSelected.connect(lambda files: self.pathsChosen.emit(list(files)))
        dialog.finished.connect(lambda *_: self._forget_open_dialog(dialog))
        self._open_dialog = dialog
        dialog.open()
        self.filesComing.emit([])  # the model loads while the person picks

    def choose_folder(self) -> None:
        if self._open_dialog is not None:
            self._open_dialog.raise_()
            return
        dialog = QFileDialog(self, "Choose a Folder of Images or PDFs")
        dialog.setObjectName("openFolderDialog")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(lambda folder: self.pathsChosen.emit([folder]) if folder else None)
        dialog.finished.connect(lambda *_: self._forget_open_dialog(dialog))
        self._open_dialog = dialog
        dialog.open()
        self.filesComing.emit([])

    def show_about(self) -> None:
        from engine import __version__

        box = QMessageBox(self)
        box.setObjectName("aboutBox")
        box.setWindowTitle("About OCR Tray")
        box.setIconPixmap(icons.app_icon().pixmap(64, 64))
        box.setText(f"OCR Tray {__version__}")
        box.setInformativeText(
            "Turns images and PDFs into text with a vision-language model that runs on this computer (MLX). "
            "The model loads when needed and gives its memory back when idle. Nothing leaves the computer "
            "except a model download you ask for."
        )
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.open()

    def _forget_open_dialog(self, dialog: QFileDialog) -> None:
        self._open_dialog = None
        dialog.deleteLater()

    def clear(self) -> None:
        self.result_view.clear_results()
        self.job_queue.clear_finished()
        self.messages.dismiss()
        self.refresh_actions()

    # ------------------------------------------------------------ window life
    def bring_forward(self) -> None:
        self.show()
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event) -> None:
        event.accept()  # hides; the app stays in the menu bar
        self.closed.emit()

    def dragEnterEvent(self, event) -> None:
        self.drop_zone.dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        self.drop_zone.dragMoveEvent(event)

    def dragLeaveEvent(self, event) -> None:
        self.drop_zone.dragLeaveEvent(event)

    def dropEvent(self, event) -> None:
        self.drop_zone.dropEvent(event)
