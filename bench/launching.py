"""Launching the app (and its baselines) as a person does, for the figures that time or watch a whole process.

Three programs, each run as ``python -c PROGRAM ARGS`` in the run's private environment:

- ``APP``: the app as ``ocr-tray`` starts it (``desktop.main.main``: settings, logging, the
  single-instance lock, the history, the engine thread, the window; offscreen, so no tray icon),
  its settings in the run's private folder on every platform (macOS's native settings ignore
  ``XDG_CONFIG_HOME``; ``write_settings`` fills them);
- ``MINIMAL``: a minimal PySide6 program, a ``QApplication`` and one ``QLabel`` shown;
- ``BARE``: a bare mlx-vlm script (``import mlx_vlm``, ``load``, ``apply_chat_template``,
  ``stream_generate``) that prints ``first`` at its first piece of text and ends.

``APP`` and ``MINIMAL`` print ``interactive`` at the first turn of the event loop after a top-level
window's first paint (the window is on screen and would answer a click), found the same way in
both, and quit there, unless ``KEEP_RUNNING`` (``BENCH_KEEP_RUNNING=1``) is in their environment.
With ``WAIT_FOR_TEXT`` (``BENCH_WAIT_FOR_TEXT=1``) the app prints ``first`` when the first text
delta reaches its job controller (what the window shows next) and quits there. These are bench
wrappers around the product's entry point, installed in the launched process only.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid

from bench import common

KEEP_RUNNING = {"BENCH_KEEP_RUNNING": "1"}
WAIT_FOR_TEXT = {"BENCH_WAIT_FOR_TEXT": "1"}

_PROBE = """
import os, sys
from PySide6.QtCore import QEvent, QObject, QTimer
class _Probe(QObject):
    seen = False
    def eventFilter(self, obj, event):
        if not self.seen and event.type() == QEvent.Type.Paint and obj.isWidgetType() and obj.isWindow():
            self.seen = True
            QTimer.singleShot(0, self.report)
        return False
    def report(self):
        print("interactive", flush=True)
        if not (os.environ.get("BENCH_WAIT_FOR_TEXT") or os.environ.get("BENCH_KEEP_RUNNING")):
            from PySide6.QtWidgets import QApplication
            QApplication.instance().quit()
"""

APP = _PROBE + """
from PySide6.QtCore import QSettings
for _f in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
    QSettings.setPath(_f, QSettings.Scope.UserScope, os.path.join(os.environ["XDG_CONFIG_HOME"], "settings"))
from desktop import application, main as entry
_probe = _Probe()
_init = application.Application.__init__
def _init_probed(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.installEventFilter(_probe)
application.Application.__init__ = _init_probed
if os.environ.get("BENCH_WAIT_FOR_TEXT"):
    from desktop import app as desktop_app
    _app_init = desktop_app.OcrTrayApp.__init__
    def _app_init_probed(self, *args, **kwargs):
        _app_init(self, *args, **kwargs)
        def first(_delta, app=self):
            if not getattr(app, "_bench_first", False):
                app._bench_first = True
                print("first", flush=True)
                QTimer.singleShot(0, app.quit)
        self.controller.textDelta.connect(first)
    desktop_app.OcrTrayApp.__init__ = _app_init_probed
sys.exit(entry.main(sys.argv[1:]))
"""

MINIMAL = _PROBE + """
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv[:1])
app.installEventFilter(_probe := _Probe())
label = QLabel("Hello")
label.show()
sys.exit(app.exec())
"""

BARE = """
import sys
from engine import native_blas
native_blas.use()  # the BLAS the app's engine uses, chosen before MLX is imported (ADR 0023)
from mlx_vlm import load, stream_generate
from mlx_vlm.prompt_utils import apply_chat_template
model, processor = load(sys.argv[1])
prompt = apply_chat_template(processor, model.config, "OCR:", num_images=1)
for response in stream_generate(model, processor, prompt, image=[sys.argv[2]], max_tokens=64, temperature=0.0):
    if response.text:
        print("first", flush=True)
        break
"""


def app_args(*paths: str) -> list[str]:
    """The app's command line: a single-instance key of its own (no other app answers for it), then files."""
    return ["--instance-key", f"ocr-tray-bench-{uuid.uuid4().hex[:8]}", *paths]


def write_settings(ctx: common.Context, **values) -> None:
    """The launched app's settings, in the run's private folder where ``APP`` points QSettings (``Settings``
    keeps an INI file per organisation and application): notifications off, then ``values``
    ({"model/custom_source": …}); the defaults otherwise."""
    from PySide6.QtCore import QSettings

    from engine.settings import APPLICATION, ORGANIZATION, Settings

    path = os.path.join(ctx.env["XDG_CONFIG_HOME"], "settings", ORGANIZATION, f"{APPLICATION}.ini")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    settings = Settings(QSettings(path, QSettings.Format.IniFormat))
    settings.set("ui/notify", False)
    for key, value in values.items():
        settings.set(key, value)


def spawn(ctx: common.Context, program: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
    """``python -c program args`` in the run's environment (plus ``env``), stdout and stderr piped as text."""
    return subprocess.Popen([ctx.python, "-c", program, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(ctx.env, **(env or {})), cwd=common.ROOT)


def wait_for(proc: subprocess.Popen, until: str, t0: float, timeout: float) -> float | None:
    """Read the process's stdout until the line ``until``: the seconds from ``t0``, or None (ended, or too late:
    the deadline is checked at each line)."""
    assert proc.stdout is not None
    deadline = t0 + timeout
    for line in proc.stdout:
        if line.strip() == until:
            return time.perf_counter() - t0
        if time.perf_counter() > deadline:
            return None
    return None
