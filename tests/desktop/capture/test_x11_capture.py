"""Capture Text on a real X server (Xvfb with two screens of different sizes), driven by xdotool.

Each run starts the app in a subprocess (tests/desktop/capture/x11_scenarios.py) with QT_QPA_PLATFORM=xcb on
a private Xvfb with two X screens (1600×900 and 1280×1024), at a device-pixel ratio of 1, of 2
(``QT_SCALE_FACTOR``) and with one screen at 1 and the other at 2 (``QT_SCREEN_SCALE_FACTORS``). Without
Xvfb or xdotool the test installs them (root + apt) or skips, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.desktop.test_screenshots import ROOT, find_xvfb

pytestmark = [pytest.mark.slow, pytest.mark.linux_only]

SCREENS = ("1600x900x24", "1280x1024x24")
REGION = (600, 200)


def start_xvfb(xvfb: str, screens: tuple[str, ...]) -> tuple[subprocess.Popen, str | None]:
    """Xvfb with these screens on a free display, kept up between clients (``-noreset``: this Xvfb aborts
    when it resets after its last client)."""
    read_fd, write_fd = os.pipe()
    args = [xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp", "-noreset"]
    for i, geometry in enumerate(screens):
        args += ["-screen", str(i), geometry]
    proc = subprocess.Popen(args, pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_fd)
    with os.fdopen(read_fd) as r:
        number = r.readline().strip()
    return proc, (f":{number}" if number else None)


def find_xdotool() -> str | None:
    if shutil.which("xdotool") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "xdotool"], env=env, capture_output=True, timeout=600)
    return shutil.which("xdotool")


@pytest.fixture(scope="module")
def two_screens():
    xvfb = find_xvfb()
    if xvfb is None or find_xdotool() is None:
        reason = "Xvfb and xdotool are not installed and could not be installed (needs root and apt-get)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    proc, display = start_xvfb(xvfb, SCREENS)
    if display is None:
        proc.kill()
        reason = f"Xvfb did not start: {proc.stderr.read().decode(errors='replace')[-300:]}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    yield display
    proc.terminate()
    proc.wait(10)


def run_scenarios(display: str, model_dir, work, scale: str | None, per_screen: str | None) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=display, PYTHONPATH=ROOT,
               OCR_TRAY_LOG_DIR=os.path.join(str(work), "logs"))
    for var in ("WAYLAND_DISPLAY", "QT_SCALE_FACTOR", "QT_SCREEN_SCALE_FACTORS", "XDG_SESSION_TYPE"):
        env.pop(var, None)
    if scale:
        env["QT_SCALE_FACTOR"] = scale
    if per_screen:
        env["QT_SCREEN_SCALE_FACTORS"] = per_screen
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = os.path.join(str(work), var.lower())
    script = os.path.join(ROOT, "tests", "desktop", "capture", "x11_scenarios.py")
    done = subprocess.run([sys.executable, script, str(model_dir), str(work)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("scale, per_screen, ratio", [("1", None, 1), ("2", None, 2), (None, "1;2", 2)],
                         ids=["dpr1", "dpr2", "mixed"])
def test_shortcut_overlay_drag_read_copy_cancel_priority_and_conflict(two_screens, tiny_model_dir, tmp_path,
                                                                      scale, per_screen, ratio):
    out = run_scenarios(two_screens, tiny_model_dir, tmp_path, scale, per_screen)
    assert len(out["screens"]) == 2
    assert out["screens"][-1]["dpr"] == ratio
    # the app registered Ctrl+Shift+2 with XGrabKey, and xdotool's key press opened the overlay on every screen
    assert out["shortcut"] == {"kind": "x11", "ok": True, "words": "Ctrl+Shift+2"}
    assert out["opened"]
    assert len(out["overlays"]) == 2 and all(o["visible"] for o in out["overlays"])
    assert [o["geometry"] for o in out["overlays"]] == [s["geometry"] for s in out["screens"]]
    # the X server copied every screen into shared memory, and each frozen picture is Qt's own grab of it
    assert out["grabbed_by_shared_memory"] is True
    assert out["frozen_equals_qt_grab"] == [True, True]
    # the drag picked 600×200 logical pixels: the picture has the device-pixel size, equals the frozen grab's
    # region, and is what the engine read
    assert out["picked"]["logical"][2:] == list(REGION)
    assert out["picked"]["size"] == [REGION[0] * ratio, REGION[1] * ratio]
    assert out["engine_input"] == out["picked"]["size"]
    assert out["engine_input_equals_crop"] and out["crop_equals_frozen_region"] and out["crop_equals_screen_content"]
    assert out["first_job"] == {"status": "done", "client": "capture", "pages": 1}
    assert out["clipboard_equals_popover"]
    assert [n for n in out["notes"] if n[1] == "capture"][-1][0].startswith(("Copied", "No text"))
    assert out["temp_after_job"] == []
    assert out["segments_after_pick"] == 0  # the grabs' shared memory went with the overlay
    # Esc and a click without a drag: nothing queued, no file left
    for how in ("escape", "click"):
        assert out[how] == {"opened": True, "still_open": False, "new_jobs": 0, "temp_files": [], "segments": 0}, how
    # window mode lists the windows of every X screen: the window on the second one is offered and taken
    window = out["window_mode"]
    assert window["label"] in window["windows"], window
    assert window["picked"] == [window["label"][2] * ratio, window["label"][3] * ratio]
    # the capture ran inside the 40-page PDF, which then finished with every page
    capture, document = out["pdf_run"]
    assert capture["client"] == "capture" and capture["status"] == "done"
    assert document["client"] == "window" and document["pages"] == list(range(1, 41))
    # a combination another X client holds: a clear message, in the window too
    assert not out["conflict"]["ok"] and "already used by another app" in out["conflict"]["words"]
    assert out["conflict"]["window_says"]
