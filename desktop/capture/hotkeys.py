"""The global shortcut, one class per platform, one face: ``register(text) -> (ok, words)`` and ``activated``.

- macOS: Carbon's ``RegisterEventHotKey`` (``hotkey_macos``): no Accessibility permission needed (ADR 0017).
- Linux/X11: ``XGrabKey`` on every screen's root window through python-xlib (``hotkey_x11``).
- Wayland: a client cannot grab keys; the words say which command to bind in the desktop's own settings.
- Anything else (offscreen tests, Windows for now): no global shortcut; the menus still capture.

``words`` is one sentence for the person when registration fails (another app holds the combination, the
text is no shortcut), or the shortcut as the system writes it when it works.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication

from . import keys

log = logging.getLogger(__name__)


class GlobalShortcut(QObject):
    """No global shortcut (a platform without one); subclasses register one."""

    activated = Signal()
    kind = "none"

    def register(self, text: str) -> tuple[bool, str]:
        return False, "This desktop offers no global shortcut to apps; use Capture Text in the menu."

    def unregister(self) -> None:
        pass

    @staticmethod
    def taken(text: str) -> str:
        return (f"{text} is already used by another app or by the system. Choose another shortcut in "
                "Settings › Capture, or free it there.")


class WaylandShortcut(GlobalShortcut):
    """Wayland lets no client listen to keys it is not focused for: the desktop must run the command."""

    kind = "wayland"

    def register(self, text: str) -> tuple[bool, str]:
        return False, (f"On Wayland, apps cannot set a global shortcut themselves. Bind {text or 'a shortcut'} "
                       f"in your desktop's keyboard settings to run: {capture_command()}")


def capture_command() -> str:
    """The command a desktop shortcut (or Shortcuts, Raycast, Alfred) runs to capture."""
    if getattr(sys, "frozen", False):
        return shlex.join([sys.executable, "capture"])
    if shutil.which("ocr-tray"):
        return "ocr-tray capture"
    return shlex.join([sys.executable, "-m", "desktop.main", "capture"])


def session_is_wayland() -> bool:
    platform = QGuiApplication.platformName().lower()
    xwayland = os.environ.get("XDG_SESSION_TYPE") == "wayland" and bool(os.environ.get("WAYLAND_DISPLAY"))
    return platform.startswith("wayland") or (platform == "xcb" and xwayland)


def for_platform(parent: QObject | None = None) -> GlobalShortcut:
    """The global shortcut this session can have."""
    platform = QGuiApplication.platformName().lower()
    if sys.platform == "darwin" and platform == "cocoa":
        from .hotkey_macos import CarbonShortcut

        return CarbonShortcut(parent=parent)
    if session_is_wayland():
        return WaylandShortcut(parent)
    if platform == "xcb":
        try:
            from .hotkey_x11 import X11Shortcut
        except ImportError as e:  # python-xlib missing from a hand-made environment
            log.warning("no global shortcut: %s", e)
            return GlobalShortcut(parent)
        return X11Shortcut(parent=parent)
    return GlobalShortcut(parent)


__all__ = ["GlobalShortcut", "WaylandShortcut", "capture_command", "for_platform", "keys"]
