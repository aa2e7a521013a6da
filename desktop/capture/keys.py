"""Shortcut text: Qt's portable form (``"Ctrl+Shift+2"``, as stored in the settings) to each system's own terms.

On macOS Qt's "Ctrl" is ⌘ and "Meta" is ⌃, so the one stored default ``Ctrl+Shift+2`` is ⇧⌘2 on a Mac and
Ctrl+Shift+2 elsewhere. A recorder may store the shifted symbol of a digit (``Ctrl+Shift+@``): it is read as
the digit's key, which is what the systems register (a key, not a character).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

DEFAULT = "Ctrl+Shift+2"
MODIFIER_ORDER = ("Ctrl", "Shift", "Alt", "Meta")
_MODIFIER_NAMES = {"ctrl": "Ctrl", "control": "Ctrl", "shift": "Shift", "alt": "Alt", "option": "Alt",
                   "meta": "Meta", "cmd": "Ctrl", "command": "Ctrl"}
_SHIFTED_DIGITS = dict(zip("!@#$%^&*()", "1234567890"))  # a US keyboard's shifted digit row
_NAMED = {"space": "Space", "tab": "Tab", "return": "Return", "enter": "Return", "esc": "Escape",
          "escape": "Escape", "backspace": "Backspace", "delete": "Delete", "del": "Delete", "home": "Home",
          "end": "End", "pgup": "PgUp", "pgdown": "PgDown", "up": "Up", "down": "Down", "left": "Left",
          "right": "Right", "insert": "Insert", "ins": "Insert"}
_PUNCTUATION = {"-": "minus", "=": "equal", "[": "bracketleft", "]": "bracketright", ";": "semicolon",
                "'": "apostrophe", ",": "comma", ".": "period", "/": "slash", "\\": "backslash", "`": "grave"}


class BadShortcut(ValueError):
    """The text names no key, or a key with no modifier (a global shortcut without one would eat a key)."""


@dataclass(frozen=True)
class Combo:
    modifiers: frozenset[str]  # of MODIFIER_ORDER
    key: str  # "2", "A", "F5", "Space", or one punctuation character

    @property
    def portable(self) -> str:
        return "+".join([m for m in MODIFIER_ORDER if m in self.modifiers] + [self.key])


def parse(text: str) -> Combo:
    """``"Ctrl+Shift+2"`` -> Combo; BadShortcut for text that is not one key with at least one modifier."""
    text = (text or "").strip()
    if not text:
        raise BadShortcut("no shortcut")
    if "," in text.replace("+,", ""):
        raise BadShortcut("a global shortcut is one key combination, not a sequence")
    parts = text.split("+")
    if text.endswith("++"):
        parts = [*text[:-2].split("+"), "+"]
    *mods, key = parts
    modifiers = set()
    for m in mods:
        name = _MODIFIER_NAMES.get(m.strip().lower())
        if name is None:
            raise BadShortcut(f"{m!r} is not a modifier key")
        modifiers.add(name)
    key = key.strip()
    if not key:
        raise BadShortcut("no key after the modifiers")
    if key in _SHIFTED_DIGITS and "Shift" in modifiers:
        key = _SHIFTED_DIGITS[key]
    lower = key.lower()
    if len(key) == 1 and key.isalnum():
        key = key.upper()
    elif lower in _NAMED:
        key = _NAMED[lower]
    elif lower.startswith("f") and lower[1:].isdigit() and 1 <= int(lower[1:]) <= 20:
        key = f"F{int(lower[1:])}"
    elif key not in _PUNCTUATION:
        raise BadShortcut(f"{key!r} is not a key a global shortcut can use")
    if not modifiers and not key.startswith("F"):
        raise BadShortcut("a global shortcut needs a modifier (Ctrl, Shift, Alt or Meta) with its key")
    return Combo(frozenset(modifiers), key)


def native_text(combo: Combo, mac: bool | None = None) -> str:
    """How the system writes it: ``⇧⌘2`` on macOS (its symbols, in its order ⌃⌥⇧⌘), else ``Ctrl+Shift+2``."""
    mac = sys.platform == "darwin" if mac is None else mac
    if not mac:
        return combo.portable
    symbols = {"Meta": "⌃", "Alt": "⌥", "Shift": "⇧", "Ctrl": "⌘"}
    return "".join(symbols[m] for m in ("Meta", "Alt", "Shift", "Ctrl") if m in combo.modifiers) + combo.key


# ------------------------------------------------------------------ X11
X_SHIFT, X_LOCK, X_CONTROL, X_MOD1, X_MOD2, X_MOD4 = 1, 2, 4, 8, 16, 64
X_IGNORED = (0, X_LOCK, X_MOD2, X_LOCK | X_MOD2)  # Caps Lock and Num Lock must not stop the shortcut


def x11(combo: Combo) -> tuple[str, int]:
    """(keysym name for ``Xlib.XK.string_to_keysym``, modifier mask). Meta is the Super key (Mod4)."""
    mask = 0
    for name, bit in (("Shift", X_SHIFT), ("Ctrl", X_CONTROL), ("Alt", X_MOD1), ("Meta", X_MOD4)):
        if name in combo.modifiers:
            mask |= bit
    key = combo.key
    names = {"Space": "space", "Return": "Return", "Escape": "Escape", "Backspace": "BackSpace", "PgUp": "Prior",
             "PgDown": "Next", "Delete": "Delete", "Insert": "Insert"}
    if key in _PUNCTUATION:
        return _PUNCTUATION[key], mask
    if len(key) == 1 and key.isalpha():
        return key.lower(), mask
    return names.get(key, key), mask


# ------------------------------------------------------------------ macOS (Carbon)
CMD_KEY, SHIFT_KEY, OPTION_KEY, CONTROL_KEY = 1 << 8, 1 << 9, 1 << 11, 1 << 12  # Carbon's Events.h
# kVK_* virtual key codes (Events.h): the ANSI keyboard's positions
_KVK = {
    "A": 0x00, "S": 0x01, "D": 0x02, "F": 0x03, "H": 0x04, "G": 0x05, "Z": 0x06, "X": 0x07, "C": 0x08, "V": 0x09,
    "B": 0x0B, "Q": 0x0C, "W": 0x0D, "E": 0x0E, "R": 0x0F, "Y": 0x10, "T": 0x11, "1": 0x12, "2": 0x13, "3": 0x14,
    "4": 0x15, "6": 0x16, "5": 0x17, "=": 0x18, "9": 0x19, "7": 0x1A, "-": 0x1B, "8": 0x1C, "0": 0x1D, "]": 0x1E,
    "O": 0x1F, "U": 0x20, "[": 0x21, "I": 0x22, "P": 0x23, "L": 0x25, "J": 0x26, "'": 0x27, "K": 0x28, ";": 0x29,
    "\\": 0x2A, ",": 0x2B, "/": 0x2C, "N": 0x2D, "M": 0x2E, ".": 0x2F, "`": 0x32, "Space": 0x31, "Return": 0x24,
    "Tab": 0x30, "Escape": 0x35, "Backspace": 0x33, "Delete": 0x75, "Home": 0x73, "End": 0x77, "PgUp": 0x74,
    "PgDown": 0x79, "Left": 0x7B, "Right": 0x7C, "Down": 0x7D, "Up": 0x7E,
    "F1": 0x7A, "F2": 0x78, "F3": 0x63, "F4": 0x76, "F5": 0x60, "F6": 0x61, "F7": 0x62, "F8": 0x64, "F9": 0x65,
    "F10": 0x6D, "F11": 0x67, "F12": 0x6F, "F13": 0x69, "F14": 0x6B, "F15": 0x71, "F16": 0x6A, "F17": 0x40,
    "F18": 0x4F, "F19": 0x50, "F20": 0x5A,
}


def carbon(combo: Combo) -> tuple[int, int]:
    """(kVK virtual key code, Carbon modifier mask) for ``RegisterEventHotKey``. Qt's Ctrl is ⌘ on a Mac."""
    if combo.key not in _KVK:
        raise BadShortcut(f"{combo.key!r} has no macOS key code")
    mask = 0
    for name, bit in (("Ctrl", CMD_KEY), ("Shift", SHIFT_KEY), ("Alt", OPTION_KEY), ("Meta", CONTROL_KEY)):
        if name in combo.modifiers:
            mask |= bit
    return _KVK[combo.key], mask
