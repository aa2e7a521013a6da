"""The global shortcut on X11: a passive key grab (``XGrabKey``) on every screen's root window.

The app opens its own X connection with python-xlib (Qt's is not reachable from Python), grabs the key
with the four combinations of Caps Lock and Num Lock, and turns ``XSync``'s answer into a verdict: another
client holding the same grab makes the server answer ``BadAccess``, caught by an error handler, and the
person reads which combination is taken. Events are read in the GUI thread when the connection's socket
is readable (``QSocketNotifier``): no thread, no polling.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier
from Xlib import XK, X, error
from Xlib.display import Display

from . import keys
from .hotkeys import GlobalShortcut

log = logging.getLogger(__name__)


class X11Shortcut(GlobalShortcut):
    kind = "x11"

    def __init__(self, display_name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._display_name = display_name
        self._display: Any = None
        self._notifier: QSocketNotifier | None = None
        self._grabbed: list[tuple[Any, int, int]] = []  # (root, keycode, mask)
        self._keycode = 0
        self._mask = 0

    def _connect(self) -> Any:
        if self._display is None:
            self._display = Display(self._display_name)
            self._notifier = QSocketNotifier(self._display.fileno(), QSocketNotifier.Type.Read, self)
            self._notifier.activated.connect(self._drain)
        return self._display

    def register(self, text: str) -> tuple[bool, str]:
        self.unregister()
        if not text:
            return False, "No shortcut is set; Capture Text is in the menu."
        try:
            combo = keys.parse(text)
        except keys.BadShortcut as e:
            return False, f"{text}: {e}."
        shown = keys.native_text(combo, mac=False)
        try:
            display = self._connect()
        except Exception as e:  # no X server after all (DISPLAY unset, refused)
            log.warning("global shortcut: no X connection (%s)", type(e).__name__)
            return False, f"The global shortcut could not be set: no connection to the X server ({e})."
        name, mask = keys.x11(combo)
        keycode = display.keysym_to_keycode(XK.string_to_keysym(name))
        if not keycode:
            return False, f"{shown}: this keyboard has no such key."
        caught = error.CatchError(error.BadAccess)
        for screen in range(display.screen_count()):
            root = display.screen(screen).root
            for extra in keys.X_IGNORED:
                root.grab_key(keycode, mask | extra, True, X.GrabModeAsync, X.GrabModeAsync, onerror=caught)
                self._grabbed.append((root, keycode, mask | extra))
        display.sync()  # the server has answered every grab: BadAccess, if any, is in ``caught`` now
        if caught.get_error() is not None:
            log.info("global shortcut %s: taken by another client", shown)
            self.unregister()
            return False, self.taken(shown)
        self._keycode, self._mask = keycode, mask
        log.info("global shortcut %s registered (X11)", shown)
        self._drain()
        return True, shown

    def unregister(self) -> None:
        if self._display is None or not self._grabbed:
            self._grabbed.clear()
            return
        for root, keycode, mask in self._grabbed:
            root.ungrab_key(keycode, mask)
        self._grabbed.clear()
        self._keycode = 0
        try:
            self._display.sync()
        except Exception:  # the server went away
            pass

    def close(self) -> None:
        self.unregister()
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        if self._display is not None:
            try:
                self._display.close()
            except Exception:
                pass
            self._display = None

    def _drain(self, *_args: Any) -> None:
        display = self._display
        if display is None:
            return
        try:
            while display.pending_events():
                event = display.next_event()
                if event.type == X.KeyPress and self._keycode and event.detail == self._keycode \
                        and event.state & ~(keys.X_LOCK | keys.X_MOD2) & 0xFF == self._mask:
                    self.activated.emit()
        except error.ConnectionClosedError:
            log.warning("global shortcut: the X connection closed")
            self.close()
