"""The window's status bar (object name ``statusBar``): model state, memory, and the time to the idle unload.

- left (``modelState``): "PaddleOCR-VL 1.5 · ready · 1.9 GB", or "Loading PaddleOCR-VL 1.5… 0:07";
- ``memoryUse``: this process's resident memory (psutil, read here) and MLX active memory
  (from the engine's last status; ``refreshRequested`` asks the app for a fresh one);
- ``idleUnload``: "Unloads in 4:32" while the idle deadline is armed.

A one-second tick runs only while something on it counts (loading, a deadline), and the
memory poll only while the window is visible.
"""

from __future__ import annotations

import os
import time

import psutil
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QStatusBar

from engine.human import duration
from engine.human import size_text as size
from engine.jobs import EngineStatus
from engine.lifecycle import Mode, State

from ..status_text import model_line

MEMORY_POLL_MS = 2000


class StatusBar(QStatusBar):
    refreshRequested = Signal()  # the engine's memory figures are worth refreshing

    def __init__(self, parent=None, clock=time.time) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.setSizeGripEnabled(False)
        self._clock = clock
        self._status: EngineStatus | None = None
        self._loading_since: float | None = None
        self._process = psutil.Process(os.getpid())

        self.model_label = QLabel("Starting…")
        self.model_label.setObjectName("modelState")
        self.model_label.setContentsMargins(6, 0, 0, 0)
        self.memory_label = QLabel("")
        self.memory_label.setObjectName("memoryUse")
        self.memory_label.setToolTip("Memory this app uses (resident) · memory MLX holds for the model")
        self.idle_label = QLabel("")
        self.idle_label.setObjectName("idleUnload")
        self.idle_label.setToolTip("Time left until the idle model is unloaded (Settings → Memory)")
        self.memory_label.setContentsMargins(0, 0, 6, 0)
        self.addWidget(self.model_label, 1)
        self.addPermanentWidget(self.idle_label)
        self.addPermanentWidget(self.memory_label)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._render_clock)
        self._poll = QTimer(self)
        self._poll.setInterval(MEMORY_POLL_MS)
        self._poll.timeout.connect(self._poll_memory)

    # ---------------------------------------------------------------- input
    def set_status(self, status: EngineStatus) -> None:
        if status.state is State.LOADING and (self._status is None or self._status.state is not State.LOADING):
            self._loading_since = time.monotonic()
        elif status.state is not State.LOADING:
            self._loading_since = None
        self._status = status
        self._render_clock()
        # the engine measured it on its own thread just now: reading /proc here as well, at every state change
        # and page, cost the window a wait for Python's lock after each read while a page was prepared (figure 4)
        self._render_memory(status.rss or None)
        self._update_tick()

    def _update_tick(self) -> None:
        """The clock ticks once a second while there is something to count (a load's time, the idle unload's
        countdown) and someone can see it: a hidden window (the app in the menu bar) is not woken for it."""
        status = self._status
        counting = status is not None and (self._loading_since is not None or status.deadline is not None)
        if counting and self.isVisible():
            if not self._tick.isActive():
                self._tick.start()
        else:
            self._tick.stop()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._poll.start()
        self._poll_memory()
        self._render_clock()  # what the clock says now, not what it said when the window was hidden
        self._update_tick()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._poll.stop()
        self._tick.stop()

    # ---------------------------------------------------------------- output
    def _render_clock(self) -> None:
        status = self._status
        if status is None:
            return
        if self._loading_since is not None:
            text = f"Loading {status.model_label}… {duration(time.monotonic() - self._loading_since)}"
        else:
            text = model_line(status)
            if status.error and status.state is State.UNLOADED:
                text += " · last load failed"
        _set(self.model_label, text)
        self.model_label.setToolTip(status.error or "")
        if status.deadline is not None and status.mode is Mode.IDLE_TIMEOUT:
            _set(self.idle_label, f"Unloads in {duration(status.deadline - self._clock())}")
        elif status.mode is Mode.KEEP_RESIDENT and status.state in (State.READY, State.BUSY):
            _set(self.idle_label, "Stays loaded")
        else:
            _set(self.idle_label, "")
        self.idle_label.setVisible(bool(self.idle_label.text()))

    def _render_memory(self, rss: int | None = None) -> None:
        if rss is None:
            try:
                rss = self._process.memory_info().rss
            except psutil.Error:
                rss = self._status.rss if self._status else 0
        text = f"Memory {size(rss)}"
        if self._status is not None and self._status.state is not State.UNLOADED and self._status.active_memory:
            text += f" · MLX {size(self._status.active_memory)}"
        _set(self.memory_label, text)

    def _poll_memory(self) -> None:
        self._render_memory()
        if self._status is not None and self._status.state in (State.READY, State.BUSY):
            self.refreshRequested.emit()


def _set(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)
