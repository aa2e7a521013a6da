"""How Capture Text joins the app: one call from ``OcrTrayApp`` (``attach_capture(app)``), everything else here.

It builds the ``CaptureFlow``, registers the global shortcut (a failure is said in the window's message
strip and beside the recorder in Settings), answers ``ocrtray://capture`` (macOS URL scheme: Shortcuts,
Raycast, Alfred; ``?mode=window`` or ``?mode=last``), and stops it all when the app quits.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, QTimer, QUrl, QUrlQuery, Slot
from PySide6.QtGui import QDesktopServices

from .flow import SHORTCUT_KEY, CaptureFlow

log = logging.getLogger(__name__)

SCHEME = "ocrtray"


def capture_mode(url: QUrl) -> str | None:
    """``ocrtray://capture`` -> "region"; ``…?mode=window`` / ``ocrtray://capture/last`` -> that mode; else None."""
    if url.scheme().lower() != SCHEME or url.host().lower() != "capture":
        return None
    mode = QUrlQuery(url).queryItemValue("mode") or url.path().strip("/") or "region"
    return mode if mode in ("region", "window", "last") else None


class UrlHandler(QObject):
    """Receives ``ocrtray://`` URLs: from QDesktopServices (Qt's macOS GetURL route) and from a FileOpen event."""

    def __init__(self, flow: CaptureFlow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._flow = flow

    @Slot(QUrl)
    def open_url(self, url: QUrl) -> None:
        mode = capture_mode(url)
        if mode is None:
            log.warning("an %s URL that names no capture was ignored", SCHEME)
            return
        QTimer.singleShot(0, lambda: self._flow.start(mode))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and event.url().scheme().lower() == SCHEME:
            self.open_url(event.url())
            return True
        return False


def attach_capture(app) -> CaptureFlow:
    flow = CaptureFlow(app.controller, app.window, app.tray, app.settings, app.history, parent=app)
    urls = UrlHandler(flow, parent=flow)
    QDesktopServices.setUrlHandler(SCHEME, urls, "open_url")
    if app.qapp is not None:
        app.qapp.installEventFilter(urls)

    def show_verdict(ok: bool, words: str) -> None:
        panel = app.settings_panel
        if panel is not None and hasattr(panel, "set_verdict"):
            panel.set_verdict(SHORTCUT_KEY, ok, words)

    flow.shortcutStatus.connect(show_verdict)
    app.tray.settingsRequested.connect(lambda: show_verdict(flow.shortcut_ok, flow.shortcut_words))

    def stop() -> None:
        QDesktopServices.unsetUrlHandler(SCHEME)
        if app.qapp is not None:
            app.qapp.removeEventFilter(urls)
        flow.shutdown()

    app.quitting.connect(stop)
    ok, words = flow.register_shortcut()
    if not ok and flow.shortcut.kind != "none" and app.settings.get(SHORTCUT_KEY):
        app.window.show_message(words)
    return flow
