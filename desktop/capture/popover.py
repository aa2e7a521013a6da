"""The capture's small result panel: the picture that was read, its text as it streams, Copy, Esc to cancel.

A frameless tool window that stays on top, placed by the tray icon (``QSystemTrayIcon.geometry()``; where
the system does not say, the top-right corner of the primary screen), under it when the icon is at the top
of the screen (macOS, GNOME) and above it when at the bottom. Esc cancels the reading while it runs, then
closes. Object names: ``capturePopover``, ``captureThumbnail``, ``captureStatus``, ``captureText``,
``captureCopy``, ``captureOpenWindow``, ``captureClose``, ``capturePrivacy``.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from ..views.style import scaled, secondary

SIZE = QSize(440, 260)
THUMB = QSize(150, 56)
MARGIN = 8


class ResultPopover(QWidget):
    cancelRequested = Signal()
    copyRequested = Signal()
    openWindowRequested = Signal()
    privacyRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("capturePopover")
        self.setWindowTitle("Capture Text")
        self.running = False
        frame = QFrame(self)
        frame.setObjectName("capturePopoverFrame")
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        frame.setStyleSheet("#capturePopoverFrame { border: 1px solid palette(mid); border-radius: 8px;"
                            " background: palette(window); }")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(8)

        head = QHBoxLayout()
        head.setSpacing(10)
        self.thumbnail = QLabel()
        self.thumbnail.setObjectName("captureThumbnail")
        self.thumbnail.setFixedSize(THUMB)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setStyleSheet("border: 1px solid palette(mid); background: palette(base);")
        head.addWidget(self.thumbnail)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        title = QLabel("Capture Text")
        title.setFont(scaled(title.font(), 1.05, bold=True))
        self.status = QLabel("")
        self.status.setObjectName("captureStatus")
        self.status.setWordWrap(True)
        secondary(self.status)
        titles.addWidget(title)
        titles.addWidget(self.status)
        titles.addStretch(1)
        head.addLayout(titles, 1)
        layout.addLayout(head)

        self.text = QPlainTextEdit()
        self.text.setObjectName("captureText")
        self.text.setReadOnly(True)
        self.text.setPlaceholderText("The text appears here as it is read…")
        layout.addWidget(self.text, 1)

        buttons = QHBoxLayout()
        self.privacy = QPushButton("Open Privacy Settings…")
        self.privacy.setObjectName("capturePrivacy")
        self.privacy.clicked.connect(self.privacyRequested)
        self.privacy.hide()
        self.open_in_app = QPushButton("Open in Window")
        self.open_in_app.setObjectName("captureOpenWindow")
        self.open_in_app.clicked.connect(self.openWindowRequested)
        self.copy = QPushButton("Copy")
        self.copy.setObjectName("captureCopy")
        self.copy.clicked.connect(self.copyRequested)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("captureClose")
        self.close_button.clicked.connect(self.escape)
        buttons.addWidget(self.privacy)
        buttons.addStretch(1)
        buttons.addWidget(self.open_in_app)
        buttons.addWidget(self.copy)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.resize(SIZE)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WindowShortcut)
        escape.activated.connect(self.escape)

    # ------------------------------------------------------------------ what the flow says
    def begin(self, picture: QImage | None, status: str = "Reading…") -> None:
        self.running = True
        self.text.clear()
        self.privacy.hide()
        self.copy.setEnabled(False)
        self.open_in_app.setEnabled(True)
        self.close_button.setText("Cancel")
        self.set_picture(picture)
        self.status.setText(status)

    def set_picture(self, picture: QImage | None) -> None:
        if picture is None or picture.isNull():
            self.thumbnail.clear()
            return
        ratio = self.devicePixelRatioF()
        pix = QPixmap.fromImage(picture.scaled(THUMB * ratio, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))
        pix.setDevicePixelRatio(ratio)
        self.thumbnail.setPixmap(pix)
        self.thumbnail.setToolTip(f"The capture that was read ({picture.width()} × {picture.height()} px)")

    def append(self, text: str) -> None:
        cursor = self.text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(text)
        self.text.setTextCursor(cursor)
        self.text.ensureCursorVisible()

    def set_text(self, text: str) -> None:
        if self.text.toPlainText() != text:
            self.text.setPlainText(text)

    def finish(self, status: str, has_text: bool) -> None:
        self.running = False
        self.status.setText(status)
        self.copy.setEnabled(has_text)
        self.close_button.setText("Close")

    def show_problem(self, status: str, privacy: bool = False) -> None:
        self.running = False
        self.text.clear()
        self.set_picture(None)
        self.status.setText(status)
        self.privacy.setVisible(privacy)
        self.copy.setEnabled(False)
        self.open_in_app.setEnabled(False)
        self.close_button.setText("Close")

    def escape(self) -> None:
        if self.running:
            self.cancelRequested.emit()
        else:
            self.hide()

    # ------------------------------------------------------------------ where it shows
    def present_near(self, anchor: QRect | None) -> None:
        self.move(placement(anchor, self.size()))
        self.show()
        self.raise_()
        self.activateWindow()


def placement(anchor: QRect | None, size: QSize) -> QPoint:
    """Under the tray icon when it is in the top half of its screen, above it otherwise; inside the screen."""
    if anchor is not None and anchor.isValid() and not anchor.isEmpty():
        screen = QGuiApplication.screenAt(anchor.center()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        x = anchor.center().x() - size.width() // 2
        if anchor.center().y() < area.center().y():
            y = anchor.bottom() + MARGIN
        else:
            y = anchor.top() - size.height() - MARGIN
    else:
        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        x, y = area.right() - size.width() - MARGIN, area.top() + MARGIN
    x = max(area.left() + MARGIN, min(x, area.right() - size.width() - MARGIN))
    y = max(area.top() + MARGIN, min(y, area.bottom() - size.height() - MARGIN))
    return QPoint(x, y)

