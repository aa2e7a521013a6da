"""Logging: the platform's log folder (overridable), rotation, Qt's own messages."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

import pytest

from desktop import logging_setup


@pytest.fixture
def fresh_logging(monkeypatch, tmp_path):
    monkeypatch.setenv("OCR_TRAY_LOG_DIR", str(tmp_path / "logs"))
    root = logging.getLogger()
    before = list(root.handlers), root.level
    monkeypatch.setattr(logging_setup, "_handler", None)
    yield tmp_path / "logs"
    for handler in list(root.handlers):
        if handler not in before[0]:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(before[1])


def test_log_folder_per_platform(monkeypatch):
    monkeypatch.delenv("OCR_TRAY_LOG_DIR", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert logging_setup.log_dir() == Path.home() / "Library" / "Logs" / "OCR Tray"
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_STATE_HOME", "/state")
    assert logging_setup.log_dir() == Path("/state/ocr-tray/log")


def test_records_go_to_a_rotating_file(fresh_logging, qapp):
    path = logging_setup.setup_logging(to_stderr=False)
    assert path == fresh_logging / "ocr-tray.log"
    handler = logging_setup._handler
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert handler.maxBytes == logging_setup.MAX_BYTES and handler.backupCount == logging_setup.BACKUPS
    logging.getLogger("desktop.test").info("hello from the test")
    from PySide6.QtCore import qWarning

    qWarning("a Qt warning")
    handler.flush()
    text = path.read_text()
    assert "hello from the test" in text and "a Qt warning" in text
    assert fresh_logging.stat().st_mode & 0o777 == 0o700
    handler.maxBytes = 2000
    for i in range(100):
        logging.getLogger("desktop.test").info("line %d %s", i, "x" * 50)
    assert (fresh_logging / "ocr-tray.log.1").exists()
    assert len(list(fresh_logging.glob("ocr-tray.log*"))) <= 1 + logging_setup.BACKUPS
