"""The drop target (object name ``dropZone``): files and folders in, paths out.

It only reads the drop: local files and folders go out through ``pathsDropped``
(folders are expanded later, off the GUI thread); anything else (a web link, text)
is named in ``rejected``. The main window forwards drops anywhere on it here too.
A drag that enters with something worth reading says so at once (``filesComing``, with the file
it will most likely start with): the app starts loading the model then, and preparing that file's
first page, not at the drop (ADR 0018).
"""

from __future__ import annotations

from pathlib import PurePath

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QPainter, QPen
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from engine.documents import formats_label, readable_suffixes

from .style import scaled, secondary


def paths_from_mime(mime: QMimeData) -> tuple[list[str], list[str]]:
    """(local paths, names of what is not a local file) from a drop or the clipboard."""
    paths, others = [], []
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and url.toLocalFile():
            paths.append(url.toLocalFile())
        else:
            others.append(_short_url(url))
    if not paths and not others and mime.hasText():
        others.append("dropped text")
    return paths, others


def worth_reading(mime: QMimeData) -> bool:
    """Whether a drag holds something the model may be asked to read: a local file with a readable ending,
    or a local path without one (a folder, or a file whose content decides). Judged by the names alone: the
    GUI thread never touches the disk, and a wrong guess costs one prewarm that its wait releases."""
    if not mime.hasUrls():
        return False
    suffixes = readable_suffixes()
    for url in mime.urls():
        if url.isLocalFile() and url.toLocalFile():
            suffix = PurePath(url.toLocalFile().rstrip("/")).suffix.lower()
            if not suffix or suffix in suffixes:
                return True
    return False


def first_file(mime: QMimeData) -> list[str]:
    """The file a drop of ``mime`` would be read first, when the names tell: the first local path, if it ends
    in a readable ending (a folder, or a name without one, is only known on the disk). A list of at most one."""
    if not mime.hasUrls():
        return []
    for url in mime.urls():
        if url.isLocalFile() and url.toLocalFile():
            path = url.toLocalFile()
            return [path] if PurePath(path).suffix.lower() in readable_suffixes() else []
    return []


def _short_url(url: QUrl) -> str:
    text = url.toDisplayString()
    return text if len(text) <= 60 else text[:57] + "…"


class DropZone(QFrame):
    pathsDropped = Signal(list)  # local paths (files or folders)
    rejected = Signal(str)  # one line naming what could not be used
    filesComing = Signal(list)  # a drag with something worth reading entered: first_file (the app prewarms)
    chooseRequested = Signal()  # the "Choose Files…" button

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._hover = False

        title = QLabel("Drop images or PDFs here")
        title.setObjectName("dropZoneTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setFont(scaled(title.font(), 1.15, bold=True))
        hint = QLabel(f"Folders too · {formats_label()}")
        hint.setObjectName("dropZoneHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        secondary(hint)
        choose = QPushButton("Choose Files…")
        choose.setObjectName("chooseFiles")
        choose.setCursor(Qt.CursorShape.PointingHandCursor)
        choose.clicked.connect(self.chooseRequested)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(6)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(6)
        layout.addWidget(choose, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)

    # ----------------------------------------------------------------- drops
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls():
            event.acceptProposedAction()
            self._set_hover(True)
            if worth_reading(mime):
                self.filesComing.emit(first_file(mime))  # intent: the load starts now; leaving does not undo it
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_hover(False)
        self.take(event.mimeData())
        event.acceptProposedAction()

    def take(self, mime: QMimeData) -> None:
        """Read a drop (or a paste): local paths out, anything else named in one line."""
        paths, others = paths_from_mime(mime)
        if others:
            shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            self.rejected.emit(f"{shown}: not a file on this computer — save it first, then drop the file")
        if paths:
            self.pathsDropped.emit(paths)

    def _set_hover(self, on: bool) -> None:
        if on != self._hover:
            self._hover = on
            self.update()

    # --------------------------------------------------------------- drawing
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        accent = pal.highlight().color()
        line = accent if self._hover else pal.mid().color()
        if self._hover:
            fill = accent
            fill.setAlpha(28)
            p.setBrush(fill)
        else:
            p.setBrush(Qt.BrushStyle.NoBrush)
        pen = QPen(line, 2 if self._hover else 1.5)
        pen.setDashPattern([4, 3])
        p.setPen(pen)
        p.drawRoundedRect(self.rect().adjusted(2, 2, -2, -2), 10, 10)
        p.end()
