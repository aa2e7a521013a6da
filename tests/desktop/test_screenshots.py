"""One real-window run under Xvfb: screenshots of the window with results, the settings panel and the tray menu.

They are written to docs/screenshots/ (the README shows them). The app runs in a
subprocess with QT_QPA_PLATFORM=xcb on an Xvfb display started here; without Xvfb the
test installs it (root + apt) or skips, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOTS = os.path.join(ROOT, "docs", "screenshots")
X_PACKAGES = ["xvfb", "xauth", "fonts-dejavu-core", "libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-icccm4",
              "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0",
              "libxcb-xinerama0", "libxcb-xkb1", "libegl1", "libgl1"]


def find_xvfb() -> str | None:
    found = shutil.which("Xvfb")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", *X_PACKAGES], env=env, capture_output=True, timeout=600)
    return shutil.which("Xvfb")


@pytest.fixture
def xvfb_display():
    xvfb = find_xvfb()
    if xvfb is None:
        reason = "Xvfb is not installed and could not be installed (needs root and apt-get)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_fd)
    with os.fdopen(read_fd) as r:
        number = r.readline().strip()
    if not number:
        proc.kill()
        reason = f"Xvfb did not start: {proc.stderr.read().decode(errors='replace')[-300:]}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


def test_screenshots_of_the_real_window(xvfb_display, tiny_model_dir, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=xvfb_display, PYTHONPATH=ROOT,
               OCR_TRAY_LOG_DIR=str(tmp_path / "logs"), QT_SCALE_FACTOR="1")
    env.pop("WAYLAND_DISPLAY", None)
    script = os.path.join(ROOT, "tests", "desktop", "screenshot_app.py")
    out = tmp_path / "shots"
    done = subprocess.run([sys.executable, script, str(out), str(tiny_model_dir), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    os.makedirs(SHOTS, exist_ok=True)
    for name, (min_w, min_h) in {"main-window.png": (900, 580), "settings.png": (500, 350),
                                 "tray-menu.png": (120, 150)}.items():
        image = QImage(str(out / name))
        assert not image.isNull(), name
        assert image.width() >= min_w and image.height() >= min_h, (name, image.size())
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 20, f"{name} looks blank"
        shutil.copyfile(out / name, os.path.join(SHOTS, name))
