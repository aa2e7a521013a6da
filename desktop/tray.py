"""The menu-bar icon and its menu. Thin: it shows what it is told and emits signals; the app wires them.

Menu: (model · state) · Open OCR Tray · Capture Text · Capture Window Text · Capture Same Region Again ·
Cancel Capture · OCR File… · OCR Clipboard Image · Unload Model · Settings… · Quit. Every action has a
stable object name (``openWindow``, ``captureText``, ``captureWindow``, ``captureLastRegion``,
``cancelCapture``, ``ocrFile``, ``ocrClipboard``, ``unloadModel``, ``openSettings``, ``quit``; the first,
disabled row is ``modelStatus``). Without a system tray the menu still exists (tests, and the
window's own menu can reuse its actions) but no icon is shown.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from . import icons


class Tray(QObject):
    openWindowRequested = Signal()
    ocrFileRequested = Signal()
    ocrClipboardRequested = Signal()
    captureRequested = Signal(str)  # "region", "window" or "last"
    cancelCaptureRequested = Signal()
    notificationClicked = Signal(str)  # the tag of the last notification shown ("" for an untagged one)
    unloadRequested = Signal()
    settingsRequested = Signal()
    quitRequested = Signal()

    def __init__(self, show_icon: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.status_action = self._action("modelStatus", "Not loaded")
        self.status_action.setEnabled(False)
        self.menu.addSeparator()
        self.open_action = self._action("openWindow", "Open OCR Tray", self.openWindowRequested)
        self.menu.addSeparator()
        self.capture_action = self._action("captureText", "Capture Text")
        self.capture_action.triggered.connect(lambda *_: self.captureRequested.emit("region"))
        self.capture_window_action = self._action("captureWindow", "Capture Window Text")
        self.capture_window_action.triggered.connect(lambda *_: self.captureRequested.emit("window"))
        self.capture_last_action = self._action("captureLastRegion", "Capture Same Region Again")
        self.capture_last_action.triggered.connect(lambda *_: self.captureRequested.emit("last"))
        self.capture_last_action.setEnabled(False)
        self.cancel_capture_action = self._action("cancelCapture", "Cancel Capture", self.cancelCaptureRequested)
        self.cancel_capture_action.setVisible(False)
        self.menu.addSeparator()
        self.file_action = self._action("ocrFile", "OCR File…", self.ocrFileRequested)
        self.clipboard_action = self._action("ocrClipboard", "OCR Clipboard Image", self.ocrClipboardRequested)
        self.menu.addSeparator()
        self.unload_action = self._action("unloadModel", "Unload Model", self.unloadRequested)
        self.unload_action.setEnabled(False)
        self.menu.addSeparator()
        self.settings_action = self._action("openSettings", "Settings…", self.settingsRequested)
        # ⌘, on macOS; Ctrl+, elsewhere too (Qt's Preferences key is empty on Linux and Windows)
        self.settings_action.setShortcuts(
            [*QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences), QKeySequence("Ctrl+,")]
        )
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.quit_action = self._action("quit", "Quit OCR Tray", self.quitRequested, QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        self._kind = icons.IDLE
        self._tooltip = ""
        self._held = False  # notifications held while a capture says itself what happened
        self._last_tag = ""
        self.icon: QSystemTrayIcon | None = None
        if show_icon:
            self.icon = QSystemTrayIcon(self)
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._on_activated)
            self.icon.messageClicked.connect(lambda: self.notificationClicked.emit(self._last_tag))
            self._repaint_icon()
            self.icon.show()
            hints = QGuiApplication.styleHints()
            if hasattr(hints, "colorSchemeChanged"):
                hints.colorSchemeChanged.connect(lambda *_: self._repaint_icon())

    def _action(self, name: str, text: str, signal=None, shortcut=None) -> QAction:
        action = QAction(text, self.menu)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if signal is not None:
            action.triggered.connect(lambda *_: signal.emit())
        self.menu.addAction(action)
        return action

    # ----------------------------------------------------------------- display
    @property
    def visible(self) -> bool:
        return self.icon is not None and self.icon.isVisible()

    def action(self, name: str) -> QAction:
        found = self.menu.findChild(QAction, name)
        if found is None:
            raise KeyError(name)
        return found

    def set_status(self, line: str, tooltip: str, kind: str) -> None:
        """First menu row, tooltip and icon look (``icons.IDLE``/``LOADING``/``BUSY``)."""
        if self.status_action.text() != line:
            self.status_action.setText(line)
        if tooltip != self._tooltip:
            self._tooltip = tooltip
            if self.icon is not None:
                self.icon.setToolTip(tooltip)
        if kind != self._kind:
            self._kind = kind
            self._repaint_icon()

    @property
    def tooltip(self) -> str:
        return self._tooltip

    def set_unload(self, enabled: bool, text: str) -> None:
        self.unload_action.setEnabled(enabled)
        self.unload_action.setText(text)

    def notify(self, title: str, message: str, tag: str = "") -> bool:
        """A desktop notification through the tray icon; False when there is no icon to show it, or when an
        untagged one comes while notifications are held. ``tag`` comes back with ``notificationClicked``."""
        if self.icon is None or not QSystemTrayIcon.supportsMessages() or (self._held and not tag):
            return False
        self._last_tag = tag
        self.icon.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 5000)
        return True

    def hold_notifications(self, on: bool) -> None:
        """Hold untagged notifications (a capture says itself what it copied, once)."""
        self._held = on

    # ----------------------------------------------------------------- capture
    def set_capture_shortcut(self, text: str) -> None:
        """Show the global shortcut beside Capture Text (display only: the system delivers the key)."""
        self.capture_action.setShortcut(QKeySequence(text) if text else QKeySequence())
        self.capture_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # never an in-app key too

    def set_capture_running(self, on: bool) -> None:
        self.cancel_capture_action.setVisible(on)

    def set_last_region(self, available: bool) -> None:
        self.capture_last_action.setEnabled(available)

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

    def _repaint_icon(self) -> None:
        if self.icon is not None:
            self.icon.setIcon(icons.tray_icon(self._kind, icons.palette_text_color()))

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # macOS opens the menu on click; elsewhere a click opens the window, as tray apps do there
        if sys.platform != "darwin" and reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.openWindowRequested.emit()
