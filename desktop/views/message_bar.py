"""A dismissable strip of one-line messages (object name ``messageBar``): bad files, notices, failures.

The newest lines are shown; older ones are summarised as "and N earlier". Messages stay
until dismissed, so a message about a dropped folder is not missed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

SHOWN = 4


class MessageBar(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, pal.color(QPalette.ColorRole.AlternateBase))
        self.setPalette(pal)
        self.messages: list[str] = []
        self.label = QLabel()
        self.label.setObjectName("messageText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        close = QToolButton()
        close.setObjectName("dismissMessages")
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def add(self, line: str) -> None:
        self.messages.append(" ".join(line.split()))
        shown = self.messages[-SHOWN:]
        earlier = len(self.messages) - len(shown)
        text = "\n".join(shown)
        if earlier:
            text = f"… and {earlier} earlier message{'s' if earlier != 1 else ''}\n" + text
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return "\n".join(self.messages)

    def dismiss(self) -> None:
        self.messages.clear()
        self.label.clear()
        self.hide()
