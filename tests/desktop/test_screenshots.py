"""One real-window run under Xvfb: screenshots of the window with results, the settings panel and the tray menu.

They are written to the test's temporary folder and checked there, so a test run leaves the
checkout as it was. ``python -m tests.desktop.refresh_screenshots`` writes the same pictures to
docs/screenshots/ (the README shows them). The app runs in a subprocess with QT_QPA_PLATFORM=xcb
on an Xvfb display started here; without Xvfb the test installs it (root + apt) or skips, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage

from tests.processes import child_env

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPECTED = {"main-window.png": (900, 580), "results-table.png": (900, 580), "results-formula.png": (900, 580),
            "results-markdown.png": (900, 580), "settings.png": (500, 350), "tray-menu.png": (120, 150),
            "capture-overlay.png": (1000, 700), "capture-popover.png": (300, 180), "failures.png": (900, 580),
            "capture-history.png": (900, 580)}
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


def start_xvfb(xvfb: str, screens: tuple[str, ...] = ("1280x800x24",)) -> tuple[subprocess.Popen, str | None]:
    """An Xvfb server on a free display number: (process, ":N"), or (process, None) when it did not start."""
    read_fd, write_fd = os.pipe()
    args = [xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp"]
    for i, geometry in enumerate(screens):
        args += ["-screen", str(i), geometry]
    proc = subprocess.Popen(args, pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_fd)
    with os.fdopen(read_fd) as r:
        number = r.readline().strip()
    return proc, (f":{number}" if number else None)


def take_screenshots(display: str, model_dir, out, work) -> subprocess.CompletedProcess:
    env = child_env(QT_QPA_PLATFORM="xcb", DISPLAY=display, OCR_TRAY_LOG_DIR=os.path.join(str(work), "logs"),
                    QT_SCALE_FACTOR="1")
    env.pop("WAYLAND_DISPLAY", None)
    script = os.path.join(ROOT, "tests", "desktop", "screenshot_app.py")
    return subprocess.run([sys.executable, script, str(out), str(model_dir), str(work)],
                          env=env, capture_output=True, text=True, timeout=300)


def check_screenshots(out) -> None:
    for name, (min_w, min_h) in EXPECTED.items():
        image = QImage(os.path.join(str(out), name))
        assert not image.isNull(), name
        assert image.width() >= min_w and image.height() >= min_h, (name, image.size())
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 20, f"{name} looks blank"


@pytest.fixture
def xvfb_display():
    xvfb = find_xvfb()
    if xvfb is None:
        reason = "Xvfb is not installed and could not be installed (needs root and apt-get)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    proc, display = start_xvfb(xvfb)
    if display is None:
        proc.kill()
        reason = f"Xvfb did not start: {proc.stderr.read().decode(errors='replace')[-300:]}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    yield display
    proc.terminate()
    proc.wait(10)


@pytest.mark.linux_only
def test_screenshots_of_the_real_window(xvfb_display, tiny_model_dir, tmp_path):
    out = tmp_path / "shots"
    done = take_screenshots(xvfb_display, tiny_model_dir, out, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    check_screenshots(out)
