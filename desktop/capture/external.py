"""The system's own region pickers, run as a process that writes a PNG into the app's private temp folder.

- macOS: ``/usr/sbin/screencapture -i -x FILE`` (``-i``: interactive; ``-x``: no sound). The OS draws the
  selection on every display and Space and asks for the Screen Recording permission itself. Window mode
  adds ``-W`` (start with the window picker; a click takes a window) and ``-o`` (no shadow). Esc leaves no
  file: nothing happens.
- Wayland (no client may grab the screen): the first of grim + slurp, spectacle, gnome-screenshot found.

The process runs under ``QProcess`` (the GUI never waits); ``picked(path)`` when a non-empty file was
written, else ``cancelled()``; ``failed(words)`` when the tool could not run.
"""

from __future__ import annotations

import logging
import os
import shutil

from PySide6.QtCore import QObject, QProcess, Signal

log = logging.getLogger(__name__)

SCREENCAPTURE = "/usr/sbin/screencapture"


def macos_command(mode: str, path: str) -> list[str]:
    flags = ["-i", "-W", "-o", "-x"] if mode == "window" else ["-i", "-x"]
    return [SCREENCAPTURE, *flags, path]


def wayland_command(mode: str, path: str, which=shutil.which) -> list[str] | None:
    """The command of the first region picker installed, or None."""
    if which("grim") and which("slurp"):
        pick = "slurp -o" if mode == "window" else "slurp"
        return ["sh", "-c", f'g=$({pick}) && grim -g "$g" "$1"', "sh", path]
    if which("spectacle"):
        return ["spectacle", "--background", "--nonotify", "--activewindow" if mode == "window" else "--region",
                "--output", path]
    if which("gnome-screenshot"):
        return ["gnome-screenshot", "--window" if mode == "window" else "--area", f"--file={path}"]
    return None


class ExternalPicker(QObject):
    picked = Signal(str)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, argv: list[str], path: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.argv, self.path = list(argv), path
        self._process = QProcess(self)
        self._process.setProcessChannelMode(QProcess.ProcessChannelMode.ForwardedErrorChannel)
        self._process.finished.connect(self._finished)
        self._process.errorOccurred.connect(self._error)
        self._over = False

    def start(self) -> None:
        log.info("capture: running %s", os.path.basename(self.argv[0]))
        self._process.start(self.argv[0], self.argv[1:])

    def cancel(self) -> None:
        if self._process.state() != QProcess.ProcessState.NotRunning:
            self._process.kill()
        self._end(None)

    @property
    def is_open(self) -> bool:
        return not self._over

    def _finished(self, code: int, _status) -> None:
        if os.path.isfile(self.path) and os.path.getsize(self.path) > 0:
            self._end(self.path)
        else:
            log.info("capture: the picker ended without a picture (exit %s)", code)
            self._end(None)

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._over:
            self._over = True
            self.failed.emit(f"The screen picker could not start ({os.path.basename(self.argv[0])}).")

    def _end(self, path: str | None) -> None:
        if self._over:
            return
        self._over = True
        if path is None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.cancelled.emit()
        else:
            try:
                os.chmod(path, 0o600)
            except OSError:
                pass
            self.picked.emit(path)
