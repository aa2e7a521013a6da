"""The tray on its own: the menu's actions, what it is told to show, its signals."""

from __future__ import annotations

from desktop import icons
from desktop.tray import Tray


def test_menu_rows_in_order_with_stable_names(qapp):
    tray = Tray(show_icon=False)
    names = [a.objectName() for a in tray.menu.actions() if not a.isSeparator()]
    assert names == ["modelStatus", "openWindow", "captureText", "captureWindow", "captureLastRegion", "cancelCapture",
                     "ocrFile", "ocrClipboard", "unloadModel", "openSettings", "quit"]
    assert not tray.status_action.isEnabled() and not tray.unload_action.isEnabled()
    assert not tray.visible and tray.notify("t", "m") is False  # no icon: nothing to show a notification with


def test_it_shows_what_it_is_told(qapp):
    tray = Tray(show_icon=False)
    tray.set_status("Tiny · ready · 10 MB", "OCR Tray — Tiny · ready\nReading a.pdf · page 1 of 2", icons.BUSY)
    assert tray.status_action.text() == "Tiny · ready · 10 MB"
    assert tray.tooltip.endswith("page 1 of 2")
    tray.set_unload(True, "Unload After Current Job")
    assert tray.unload_action.isEnabled() and tray.unload_action.text() == "Unload After Current Job"


def test_each_action_emits_its_request(qapp):
    tray = Tray(show_icon=False)
    seen = []
    for name, signal in (("openWindow", tray.openWindowRequested), ("ocrFile", tray.ocrFileRequested),
                         ("ocrClipboard", tray.ocrClipboardRequested), ("unloadModel", tray.unloadRequested),
                         ("openSettings", tray.settingsRequested), ("quit", tray.quitRequested)):
        signal.connect(lambda n=name: seen.append(n))
        tray.action(name).setEnabled(True)
        tray.action(name).trigger()
    assert seen == ["openWindow", "ocrFile", "ocrClipboard", "unloadModel", "openSettings", "quit"]
