"""Logging for the app: a rotating file in the platform's log folder, and stderr.

macOS: ``~/Library/Logs/OCR Tray``; Linux: ``$XDG_STATE_HOME/ocr-tray/log``
(``~/.local/state``); Windows: ``%LOCALAPPDATA%/OCR Tray/Logs``. ``OCR_TRAY_LOG_DIR``
overrides it (the tests point it at a temporary folder).

Nothing in the app logs a document's text: records name jobs, pages, states and
error kinds. File names appear at debug level only.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from engine.paths import log_dir

LOG_FILE = "ocr-tray.log"
MAX_BYTES = 1_000_000
BACKUPS = 4
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"

_handler: logging.Handler | None = None
_qt_handler = None  # kept alive: Qt holds only a borrowed reference


def setup_logging(level: int | None = None, to_stderr: bool = True) -> Path | None:
    """Send log records to the rotating log file (and stderr). Returns the file, or None if unwritable.

    The level is INFO unless ``OCR_TRAY_LOG_LEVEL`` names another (``DEBUG``).
    """
    global _handler
    if level is None:
        level = logging.getLevelName(os.environ.get("OCR_TRAY_LOG_LEVEL", "INFO").upper())
        level = level if isinstance(level, int) else logging.INFO
    root = logging.getLogger()
    root.setLevel(level)
    if _handler is not None:
        return Path(_handler.baseFilename)  # type: ignore[attr-defined]
    formatter = logging.Formatter(FORMAT)
    path: Path | None = log_dir() / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        _handler.setFormatter(formatter)
        root.addHandler(_handler)
    except OSError as e:
        path = None
        print(f"ocr-tray: logging to a file is off ({e})", file=sys.stderr)
    if to_stderr and not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
                             for h in root.handlers):
        stream = logging.StreamHandler()
        stream.setFormatter(formatter)
        stream.setLevel(logging.WARNING)
        root.addHandler(stream)
    _route_qt_messages()
    return path


def _route_qt_messages() -> None:
    """Qt's own warnings go to the same log."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    qt_log = logging.getLogger("qt")
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(kind, _context, message):
        qt_log.log(levels.get(kind, logging.WARNING), "%s", message)

    global _qt_handler
    _qt_handler = handler
    qInstallMessageHandler(handler)
