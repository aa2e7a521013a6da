"""The global shortcut on macOS: Carbon's ``RegisterEventHotKey``, through ctypes (ADR 0017).

It is the one macOS API that delivers a key combination pressed while another app is in front without the
Accessibility or Input Monitoring permission (``CGEventTap`` and ``NSEvent`` global monitors need one). The
handler is installed on the application's event target, so Cocoa's event loop, which Qt runs, calls it on
the main thread. ``kEventHotKeyExclusive`` makes a combination another app registered exclusively fail with
``eventHotKeyExistsErr``; combinations the system itself uses (⇧⌘3, ⇧⌘4, ⇧⌘5) are not reported by Carbon and
simply never arrive, which the settings' help says.

The library is loaded lazily; tests pass a fake ``carbon`` object with the same five functions.
References: Apple's Carbon Event Manager reference (``RegisterEventHotKey``, ``InstallEventHandler``,
``GetEventParameter``) and HIToolbox/Events.h for the key codes and modifiers.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

from PySide6.QtCore import QObject

from . import keys
from .hotkeys import GlobalShortcut

log = logging.getLogger(__name__)

CARBON_PATH = "/System/Library/Frameworks/Carbon.framework/Carbon"


def four_cc(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "big")


K_EVENT_CLASS_KEYBOARD = four_cc("keyb")
K_EVENT_HOT_KEY_PRESSED = 5
K_EVENT_PARAM_DIRECT_OBJECT = four_cc("----")
TYPE_EVENT_HOT_KEY_ID = four_cc("hkid")
K_EVENT_HOT_KEY_EXCLUSIVE = 1 << 0
NO_ERR = 0
EVENT_NOT_HANDLED_ERR = -9874
EVENT_HOT_KEY_EXISTS_ERR = -9878
EVENT_HOT_KEY_INVALID_ERR = -9879
SIGNATURE = four_cc("OCRt")


class EventHotKeyID(ctypes.Structure):
    _fields_ = [("signature", ctypes.c_uint32), ("id", ctypes.c_uint32)]


class EventTypeSpec(ctypes.Structure):
    _fields_ = [("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32)]


# OSStatus (*EventHandlerProcPtr)(EventHandlerCallRef, EventRef, void *userData)
EventHandlerProc = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def load_carbon() -> Any:
    lib = ctypes.CDLL(CARBON_PATH)
    lib.GetApplicationEventTarget.restype = ctypes.c_void_p
    lib.GetApplicationEventTarget.argtypes = []
    lib.InstallEventHandler.restype = ctypes.c_int32
    lib.InstallEventHandler.argtypes = [ctypes.c_void_p, EventHandlerProc, ctypes.c_uint32,
                                        ctypes.POINTER(EventTypeSpec), ctypes.c_void_p,
                                        ctypes.POINTER(ctypes.c_void_p)]
    lib.RegisterEventHotKey.restype = ctypes.c_int32
    lib.RegisterEventHotKey.argtypes = [ctypes.c_uint32, ctypes.c_uint32, EventHotKeyID, ctypes.c_void_p,
                                        ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)]
    lib.UnregisterEventHotKey.restype = ctypes.c_int32
    lib.UnregisterEventHotKey.argtypes = [ctypes.c_void_p]
    lib.GetEventParameter.restype = ctypes.c_int32
    lib.GetEventParameter.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p,
                                      ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p]
    return lib


class CarbonShortcut(GlobalShortcut):
    kind = "carbon"

    def __init__(self, carbon: Any = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._carbon = carbon
        self._handler: Any = None  # the ctypes callback: kept alive as long as it is installed
        self._hotkey = ctypes.c_void_p()
        self._id = 0

    def _lib(self) -> Any:
        if self._carbon is None:
            self._carbon = load_carbon()
        return self._carbon

    def _install(self, lib: Any) -> int:
        if self._handler is not None:
            return NO_ERR
        handler = EventHandlerProc(self._on_event)
        spec = EventTypeSpec(K_EVENT_CLASS_KEYBOARD, K_EVENT_HOT_KEY_PRESSED)
        status = int(lib.InstallEventHandler(lib.GetApplicationEventTarget(), handler, 1, ctypes.byref(spec), None,
                                             None))
        if status == NO_ERR:
            self._handler = handler
        return status

    def register(self, text: str) -> tuple[bool, str]:
        self.unregister()
        if not text:
            return False, "No shortcut is set; Capture Text is in the menu."
        try:
            combo = keys.parse(text)
            code, mask = keys.carbon(combo)
        except keys.BadShortcut as e:
            return False, f"{text}: {e}."
        shown = keys.native_text(combo, mac=True)
        try:
            lib = self._lib()
        except OSError as e:
            return False, f"The global shortcut could not be set ({e})."
        status = self._install(lib)
        if status != NO_ERR:
            return False, f"The global shortcut could not be set (Carbon error {status})."
        self._id += 1
        ref = ctypes.c_void_p()
        status = int(lib.RegisterEventHotKey(code, mask, EventHotKeyID(SIGNATURE, self._id),
                                             lib.GetApplicationEventTarget(), K_EVENT_HOT_KEY_EXCLUSIVE,
                                             ctypes.byref(ref)))
        if status == EVENT_HOT_KEY_EXISTS_ERR:
            return False, self.taken(shown)
        if status != NO_ERR:
            return False, f"{shown} could not be set as a global shortcut (Carbon error {status})."
        self._hotkey = ref
        log.info("global shortcut %s registered (Carbon)", shown)
        return True, shown

    def unregister(self) -> None:
        if self._hotkey.value:
            self._lib().UnregisterEventHotKey(self._hotkey)
            self._hotkey = ctypes.c_void_p()

    def _on_event(self, _call_ref: Any, event: Any, _user_data: Any) -> int:
        """Carbon calls this on the main thread for each hot key pressed; ours only are taken."""
        got = EventHotKeyID()
        status = self._lib().GetEventParameter(event, K_EVENT_PARAM_DIRECT_OBJECT, TYPE_EVENT_HOT_KEY_ID, None,
                                               ctypes.sizeof(got), None, ctypes.byref(got))
        if status != NO_ERR or got.signature != SIGNATURE or got.id != self._id or not self._hotkey.value:
            return EVENT_NOT_HANDLED_ERR
        self.activated.emit()
        return NO_ERR
