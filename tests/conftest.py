"""Test-wide set-up: offscreen Qt, private config/data/cache/state/log folders, a network guard on
every test and every Python process the tests start, and one tiny model per session.

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
# the app's socket, lock, API discovery file and temp copies: never the developer's running app's
os.environ["OCR_TRAY_RUNTIME_DIR"] = os.path.join(_home, "run")
os.environ["HF_HOME"] = os.path.join(_home, "hf")  # an empty Hugging Face cache; no test reaches the hub
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
# HF_HUB_OFFLINE is deliberately not set: the app must not call the hub outside a download,
# and offline mode would hide such a call. The network guard below catches it instead.
os.environ.pop("HF_HUB_OFFLINE", None)
_NETGUARD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netguard")
_NETGUARD_LOG = os.path.join(_home, "netguard.log")  # refused attempts of child processes
os.environ["OCR_TRAY_TEST_NETGUARD_LOG"] = _NETGUARD_LOG
os.environ["PYTHONPATH"] = os.pathsep.join([_NETGUARD_DIR, *filter(None, [os.environ.get("PYTHONPATH")])])

from PySide6.QtCore import QSettings

from engine import native_blas

native_blas.use()  # tests that import MLX in this process get the engine's BLAS (ADR 0023)

for _format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
    # macOS keeps native settings under ~/Library/Preferences; send both formats to the temp folder
    QSettings.setPath(_format, QSettings.Scope.UserScope, os.path.join(_home, "settings"))

import pytest

from tests.netguard.ocr_tray_netguard import NetworkGuard, replacements


def _child_attempts() -> list[str]:
    try:
        with open(_NETGUARD_LOG, encoding="utf-8") as log:
            return log.read().splitlines()
    except FileNotFoundError:
        return []


@pytest.fixture(autouse=True)
def network_guard(monkeypatch):
    """No test may reach the network: only loopback and local sockets (tests/netguard says what
    the guard reaches). Child processes are guarded too; their refused attempts fail the test."""
    guard = NetworkGuard()
    for owner, name, function in replacements(guard):
        monkeypatch.setattr(owner, name, function)
    seen = len(_child_attempts())
    yield guard
    late = _child_attempts()[seen:]
    assert not late, f"a child process tried to reach the network: {late}"


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


@pytest.fixture
def engines(qapp, tiny_model_dir):
    """Engines a test makes itself: ``engines(model=None, mode=KEEP_RESIDENT, idle=300.0, **kw)``
    (the tiny model unless another folder is named). Every one is shut down when the test ends,
    passed or failed, and must stop within 10 s."""
    from engine.engine_thread import Engine
    from engine.lifecycle import Mode
    from engine.models.presets import ModelSpec

    made = []

    def make(model=None, mode=Mode.KEEP_RESIDENT, idle=300.0, **kw):
        engine = Engine(ModelSpec.resolve(str(model or tiny_model_dir)), mode, idle, **kw)
        made.append(engine)
        return engine

    yield make
    stuck = [engine for engine in made if not engine.shutdown(10)]
    assert not stuck, "an engine thread did not stop"


@pytest.fixture(scope="session")
def bench_model_dir(tmp_path_factory):
    """The ~0.9 GB random-weight model the benchmarks use (qwen2_vl "bench" size), built once per
    session in a child process and written through to the disk, for tests whose promise only
    shows at a real model's size (memory given back, a GUI that never waits during a load)."""
    import subprocess
    import sys

    from bench.common import flush_to_disk
    from tests.processes import ROOT, child_env

    out = tmp_path_factory.mktemp("bench-model") / "model"
    run = subprocess.run([sys.executable, "-m", "engine.testing.tiny_model", str(out), "--family", "qwen2_vl",
                          "--size", "bench"], capture_output=True, text=True, timeout=900, cwd=ROOT, env=child_env())
    assert run.returncode == 0, run.stderr[-2000:]
    flush_to_disk(out)  # no writeback of it left to show up in a timing
    return out


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
