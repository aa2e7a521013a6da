"""The model download strip (object name ``downloadBar``): what, how far, how fast, and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from engine.human import duration
from engine.human import size_text as size

SCALE = 1000  # the progress bar counts in thousandths (byte counts overflow its int)


class DownloadBar(QFrame):
    cancelRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("downloadBar")
        self.title = QLabel()
        self.title.setObjectName("downloadTitle")
        self.detail = QLabel()
        self.detail.setObjectName("downloadDetail")
        self.bar = QProgressBar()
        self.bar.setObjectName("downloadProgress")
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(8)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancelDownload")
        self.cancel.clicked.connect(self.cancelRequested)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.bar)
        text.addWidget(self.detail)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(text, 1)
        layout.addWidget(self.cancel)
        self.hide()

    def start(self, label: str) -> None:
        self.title.setText(f"Downloading {label}…")
        self.detail.setText("Connecting…")
        self.bar.setRange(0, 0)
        self.cancel.setEnabled(True)
        self.show()

    def progress(self, done: int, total: int, speed_bps: float, eta_s: float | None) -> None:
        if total > 0:
            self.bar.setRange(0, SCALE)
            self.bar.setValue(min(SCALE, int(SCALE * done / total)))
            text = f"{size(done)} of {size(total)}"
        else:
            text = size(done)
        if speed_bps > 0:
            text += f" · {size(speed_bps)}/s"
        if eta_s is not None and eta_s > 0 and total > 0:
            text += f" · {duration(eta_s)} left"
        self.detail.setText(text)

    def finish(self) -> None:
        self.hide()
