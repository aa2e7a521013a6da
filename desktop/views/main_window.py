"""The main window: drop zone and queue on the left, the streaming results on the right.

With a history (``add_history``), the right side holds two tabs, "Results" and
"History" (object name ``resultTabs``); ⌘Y (``showHistory``) switches to the history.

It knows nothing of the engine: it emits what the person asked for (paths dropped or
chosen, cancels) and the app feeds it through intent methods (``job_queued``,
``text_delta``, ``job_ended``, ``show_message``, ``set_engine_status``, ``show_pages``…), so
nothing outside the window reaches into its children. Closing it only hides it.

Actions (object names): ``addFiles`` (⌘O), ``copyText`` (⌘C), ``saveAs`` (⌘S),
``clearResults`` (⌘K), ``autoCopy`` and ``notifyWhenDone`` (options, bound to the
settings ``ui/auto_copy`` and ``ui/notify``).
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
    QMenu,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine.documents import SUPPORTED_SUFFIXES
from engine.jobs import EngineStatus, JobInfo, JobResult, PageProgress, PageResult, TextDelta
from engine.settings import Settings

from .. import icons
from .download_bar import DownloadBar
from .drop_zone import DropZone
from .job_queue import JobQueue
from .message_bar import MessageBar
from .result_view import ResultView
from .status_bar import StatusBar

log = logging.getLogger(__name__)

DEFAULT_SIZE = QSize(920, 600)
FILE_FILTER = "Images and PDFs ({})".format(" ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES)))
SAVE_FILTERS = {"Markdown (*.md)": ".md", "Plain text (*.txt)": ".txt"}


class MainWindow(QMainWindow):
    pathsChosen = Signal(list)  # files or folders, dropped or picked
    closed = Signal()
    historyShown = Signal()  # the History tab became the visible one
    cancelRequested = Signal(int)  # a job's ✕ in the queue
    cancelAllRequested = Signal()
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
        self.job_queue = JobQueue()
        self.result_view = ResultView()
        self.messages = MessageBar()
        self.download_bar = DownloadBar()
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.drop_zone.pathsDropped.connect(self.pathsChosen)
        self.drop_zone.rejected.connect(self.messages.add)
        self.drop_zone.chooseRequested.connect(self.choose_files)
        self.job_queue.cancelRequested.connect(self.cancelRequested)
        self.job_queue.cancelAllRequested.connect(self.cancelAllRequested)
        self.status.refreshRequested.connect(self.statusRefreshRequested)
        self.download_bar.cancelRequested.connect(self.downloadCancelRequested)

        left = QWidget()
        left.setObjectName("sidebar")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(12, 12, 6, 12)
        left_layout.setSpacing(12)
        left_layout.addWidget(self.drop_zone, 0)
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

    def job_text(self, job_id: int) -> str:
        """A job's text as Copy would give it (for "Copy when done")."""
        return self.result_view.export("txt", [s for s in self.result_view.sections if s.job_id == job_id])

    def show_pages(self, pages: list[PageResult]) -> None:
        """Stored pages (from the history) shown as if they had just been read."""
        self.result_view.show_pages(pages)
        self.show_results()
        self.refresh_actions()

    def show_message(self, text: str) -> None:
        self.messages.add(text)

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
        self.show_history_action = self._action(
            "showHistory", "Show History", self.show_history, "Ctrl+Y", "Documents read before"
        )
        self.show_results_action = self._action("showResults", "Show Results", self.show_results, "Ctrl+1")
        view_menu = QMenu("&View", self)
        self.menuBar().insertMenu(self._model_menu.menuAction(), view_menu)  # File, Edit, View, Model
        view_menu.addAction(self.show_results_action)
        view_menu.addAction(self.show_history_action)

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
            "addFiles", "Add Files…", self.choose_files, QKeySequence.StandardKey.Open, "Choose images or PDFs to read"
        )
        self.copy_action = self._action(
            "copyText", "Copy", self.copy_text, QKeySequence.StandardKey.Copy, "Copy the text (or the selection)"
        )
        self.save_action = self._action(
            "saveAs", "Save As…", self.save_as, QKeySequence.StandardKey.Save, "Save the text as Markdown or plain text"
        )
        self.clear_action = self._action(
            "clearResults", "Clear", self.clear, "Ctrl+K", "Clear the results and finished rows"
        )
        self.close_action = self._action("closeWindow", "Close Window", self.close, QKeySequence.StandardKey.Close)
        self.auto_copy_box = QCheckBox("Copy when done")
        self.auto_copy_box.setObjectName("autoCopy")
        self.auto_copy_box.setToolTip("Put each finished document's text on the clipboard")
        self.notify_box = QCheckBox("Notify when done")
        self.notify_box.setObjectName("notifyWhenDone")
        self.notify_box.setToolTip("Show a notification when a document finishes while this window is hidden")

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
        if "ocrClipboard" in by_name:
            file_menu.addAction(by_name["ocrClipboard"])
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.close_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(self.copy_action)
        edit_menu.addAction(self.clear_action)
        model_menu = self._model_menu = self.menuBar().addMenu("&Model")
        for name in ("unloadModel", "openSettings"):
            if name in by_name:
                model_menu.addAction(by_name[name])
        if "quit" in by_name:
            file_menu.addSeparator()
            file_menu.addAction(by_name["quit"])  # moved to the app menu on macOS

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
        """The selection if there is one, else all the text, onto the clipboard. Returns what was copied."""
        selected = self.result_view.textCursor().selectedText().replace("\u2029", "\n")
        text = selected or self.result_view.export("txt")
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def save_as(self) -> None:
        """A non-blocking save dialog (a sheet on macOS); the file is written when it is accepted."""
        if self._save_dialog is not None:
            self._save_dialog.raise_()
            return
        dialog = QFileDialog(self, "Save Text As")
        dialog.setObjectName("saveDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(list(SAVE_FILTERS))
        dialog.setDefaultSuffix("md")
        dialog.selectFile(self._suggested_name())
        dialog.filterSelected.connect(lambda f: dialog.setDefaultSuffix(SAVE_FILTERS.get(f, ".md")[1:]))
        dialog.fileSelected.connect(self.write_text_file)
        dialog.finished.connect(lambda *_: self._forget_save_dialog(dialog))
        self._save_dialog = dialog
        dialog.open()

    def _forget_save_dialog(self, dialog: QFileDialog) -> None:
        self._save_dialog = None
        dialog.deleteLater()

    def _suggested_name(self) -> str:
        sections = self.result_view.sections
        if not sections:
            return "OCR.md"
        names = {Path(s.path).stem for s in sections}
        return f"{names.pop() if len(names) == 1 else 'OCR'}.md"

    def write_text_file(self, path: str) -> bool:
        """Markdown for .md, plain text otherwise. A small file: written here, at once."""
        fmt = "md" if path.lower().endswith((".md", ".markdown")) else "txt"
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.result_view.export(fmt))
        except OSError as e:
            self.messages.add(f"{os.path.basename(path)}: could not be saved ({e.strerror or e})")
            return False
        log.info("saved the results (%s)", fmt)
        return True

    def choose_files(self) -> None:
        if self._open_dialog is not None:
            self._open_dialog.raise_()
            return
        dialog = QFileDialog(self, "Choose Images or PDFs")
        dialog.setObjectName("openDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilters([FILE_FILTER, "All files (*)"])
        dialog.filesSelected.connect(lambda files: self.pathsChosen.emit(list(files)))
        dialog.finished.connect(lambda *_: self._forget_open_dialog(dialog))
        self._open_dialog = dialog
        dialog.open()

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
