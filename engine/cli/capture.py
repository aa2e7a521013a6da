"""``ocr-tray capture``: start a screen capture in the running app (or start the app, which then captures).

A desktop shortcut on Wayland, Shortcuts, Raycast or Alfred run this. It is a GUI command: the request goes
over the app's single-instance socket (``{"action": "capture"}``), or the app starts in the menu bar and
captures once it is up; both live in ``desktop`` (``desktop.launch.run_app``), which ``desktop.main`` calls
for it. ``python -m engine.cli capture`` alone has no GUI to start and says so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

HELP = "capture text from the screen: pick a region (a running app does it; otherwise the app starts)"
GUI = True  # handled by the desktop app (desktop.launch), not by engine.cli.run


def add_arguments(p: argparse.ArgumentParser, saved: Mapping[str, Any]) -> None:
    what = p.add_mutually_exclusive_group()
    what.add_argument("--window", dest="mode", action="store_const", const="window",
                      help="pick a window with a click instead of dragging a region")
    what.add_argument("--last", dest="mode", action="store_const", const="last",
                      help="capture the last region again (the app must have captured one since it started)")
    p.set_defaults(mode="region")


def run(args: argparse.Namespace) -> int:
    print("ocr-tray capture needs the desktop app: run it as `ocr-tray capture`", file=sys.stderr)
    return 2
