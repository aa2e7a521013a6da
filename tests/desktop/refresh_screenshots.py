"""Refresh the committed screenshots in docs/screenshots/ (the README shows them):

    .venv/bin/python -m tests.desktop.refresh_screenshots

Builds the tiny test model, starts Xvfb (installing it with apt when run as root), runs the
real app on it (tests/desktop/screenshot_app.py), checks the pictures as the test does, and
copies them over the committed ones. Look at them before committing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from tests.desktop.test_screenshots import EXPECTED, ROOT, check_screenshots, find_xvfb, start_xvfb, take_screenshots


def main() -> int:
    from engine.testing import tiny_model

    xvfb = find_xvfb()
    if xvfb is None:
        print("Xvfb is not installed (and could not be installed: needs root and apt-get)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ocr-tray-shots-") as tmp:
        work = Path(tmp)
        model = tiny_model.build(work / "model", "qwen2_vl", "tiny")
        proc, display = start_xvfb(xvfb)
        try:
            if display is None:
                print("Xvfb did not start", file=sys.stderr)
                return 1
            done = take_screenshots(display, model, work / "shots", work)
            if done.returncode != 0:
                print(done.stdout + done.stderr, file=sys.stderr)
                return 1
            check_screenshots(work / "shots")
            target = Path(ROOT) / "docs" / "screenshots"
            target.mkdir(parents=True, exist_ok=True)
            for name in EXPECTED:
                shutil.copyfile(work / "shots" / name, target / name)
                print(f"wrote {os.path.relpath(target / name, ROOT)}")
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
