"""The message strip (object name ``messageBar``): one row per message, each dismissable, some with Retry.

A message is one line for a person ("No internet connection — …", "a.pdf: the PDF is damaged"); a
technical detail goes to the log, not here. Rows stay until dismissed (✕ on the row, or Clear), so
a message about a dropped folder is not missed; the newest ``SHOWN`` are shown, older ones counted
in a last row. A row whose action can be tried again carries a Retry button; pressing it removes
the row and runs the action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

SHOWN = 4


@dataclass
class Message:
    text: str
    retry: Callable[[], None] | None = None


class MessageBar(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, pal.color(QPalette.ColorRole.AlternateBase))
        self.setPalette(pal)
        self._items: list[Message] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(10, 4, 4, 4)
        self._layout.setSpacing(2)
        self.earlier = QLabel()
        self.earlier.setObjectName("earlierMessages")
        self.hide()

    # ------------------------------------------------------------------ messages
    @property
    def messages(self) -> list[str]:
        return [m.text for m in self._items]

    def add(self, line: str, retry: Callable[[], None] | None = None) -> None:
        """A new row (the same text again replaces the older row: no pile of repeats)."""
        text = " ".join(line.split())
        self._items = [m for m in self._items if m.text != text]
        self._items.append(Message(text, retry))
        self._render()

    def text(self) -> str:
        return "\n".join(self.messages)

    def dismiss(self, index: int | None = None) -> None:
        """Dismiss one row (its index in ``messages``), or every row."""
        if index is None:
            self._items.clear()
        elif 0 <= index < len(self._items):
            del self._items[index]
        self._render()

    def retry(self, index: int) -> None:
        message = self._items[index]
        del self._items[index]
        self._render()
        if message.retry is not None:
            message.retry()

    # ------------------------------------------------------------------ rows
    def _render(self) -> None:
        while self._layout.count():
            widget = self._layout.takeAt(0).widget()
            if widget is not None and widget is not self.earlier:
                widget.hide()
                widget.setParent(None)  # out of the bar now; deleted later (it may be the row of the clicked button)
                widget.deleteLater()
        shown = list(enumerate(self._items))[-SHOWN:]
        earlier = len(self._items) - len(shown)
        if earlier:
            self.earlier.setText(f"… and {earlier} earlier message{'s' if earlier != 1 else ''}")
            self._layout.addWidget(self.earlier)
        self.earlier.setVisible(bool(earlier))
        for index, message in shown:
            self._layout.addWidget(self._row(index, message))
        self.setVisible(bool(self._items))

    def _row(self, index: int, message: Message) -> QWidget:
        row = QWidget()
        row.setObjectName("messageRow")
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        label = QLabel(message.text)
        label.setObjectName("messageText")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(label, 1)
        if message.retry is not None:
            retry = QPushButton("Retry")
            retry.setObjectName("retryMessage")
            retry.setToolTip("Try it again")
            retry.clicked.connect(lambda *_, i=index: self.retry(i))
            layout.addWidget(retry, 0, Qt.AlignmentFlag.AlignTop)
        close = QToolButton()
        close.setObjectName("dismissMessage")
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(lambda *_, i=index: self.dismiss(i))
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        return row
