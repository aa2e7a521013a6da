"""``ocr-tray`` as a person starts it: the GUI process, a second launch handing over a file, SIGTERM, the log."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import pytest
from PySide6.QtCore import QSettings

from engine.settings import Settings
from engine.testing import samples
from tests.processes import child_env

pytestmark = pytest.mark.slow



def wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_app_process_second_launch_and_clean_quit(tmp_path, tiny_model_dir):
    config, logs = tmp_path / "config", tmp_path / "logs"
    env = child_env(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(config),
               OCR_TRAY_LOG_DIR=str(logs), OCR_TRAY_LOG_LEVEL="DEBUG")
    # the app's own settings file, where a person's settings live (here: the tiny model)
    settings = Settings(QSettings(str(config / "OCR Tray" / "OCR Tray.ini"), QSettings.Format.IniFormat))
    settings.set("model/preset", "custom")
    settings.set("model/custom_source", str(tiny_model_dir))
    settings.set("ocr/max_tokens", 4)
    settings.store.sync()
    pdf = samples.write_pdf(tmp_path / "secret letter.pdf", pages=2, text_pages={1})
    key = f"ocr-tray-test-{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "desktop.main", "--instance-key", key]
    log_file = logs / "ocr-tray.log"

    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: log_file.exists() and "app ready" in log_file.read_text(), 60, "the first app to start")
        second = subprocess.run(cmd + [str(pdf)], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
        wait_for(lambda: "job 1 done: 2 of 2 page(s)" in log_file.read_text(), 120, "the handed-over PDF to be read")
        assert "handed over 1 path(s)" in log_file.read_text()
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    log = log_file.read_text()
    assert "quitting" in log
    text_layer = "The quick brown fox jumps over the lazy dog"
    assert text_layer not in log  # the document's text is never logged, even at DEBUG
    assert "Traceback" not in log, log
