"""Test-wide set-up: offscreen Qt, private config/data/cache/state/log folders, and one tiny model per session.

The environment is fixed before anything imports Qt, so no test touches the real user's
settings, history or logs: the XDG folders (Linux), the app's log folder (which on macOS
derives from HOME: ``OCR_TRAY_LOG_DIR``) and QSettings' user scope all point into one
temporary folder per session.
"""

import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_home = tempfile.mkdtemp(prefix="ocr-tray-tests-")
for _var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
    os.environ[_var] = os.path.join(_home, _var.lower())
os.environ["OCR_TRAY_LOG_DIR"] = os.path.join(_home, "logs")
os.environ["OCR_TRAY_DATA_DIR"] = os.path.join(_home, "data")  # history and other app data
os.environ["HF_HOME"] = os.path.join(_home, "hf")  # an empty Hugging Face cache; no test reaches the hub
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from PySide6.QtCore import QSettings

for _format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
    # macOS keeps native settings under ~/Library/Preferences; send both formats to the temp folder
    QSettings.setPath(_format, QSettings.Scope.UserScope, os.path.join(_home, "settings"))

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A random-weight qwen2_vl checkpoint that mlx_vlm loads offline (built once per session).

    OCR_TRAY_TEST_MODEL names an existing model folder to use instead (faster local reruns).
    """
    if os.environ.get("OCR_TRAY_TEST_MODEL"):
        from pathlib import Path

        return Path(os.environ["OCR_TRAY_TEST_MODEL"])
    from engine.testing import tiny_model

    return tiny_model.build(tmp_path_factory.mktemp("tiny-model"), "qwen2_vl", "tiny")


@pytest.fixture(scope="session")
def qapp_cls():
    """pytest-qt builds the session's QApplication from the app's own class (it handles QFileOpenEvent)."""
    from desktop.application import Application

    return Application


@pytest.fixture(scope="session")
def session_home():
    """The session's private stand-in for the user's folders."""
    return _home


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_home, ignore_errors=True)
