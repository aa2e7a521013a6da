"""How Capture Text joins the app: one call from ``OcrTrayApp`` (``attach_capture(app)``), everything else here.

It builds the ``CaptureFlow``, registers the global shortcut (a failure is said in the window's message
strip and beside the recorder in Settings), answers ``ocrtray://capture`` (macOS URL scheme: Shortcuts,
Raycast, Alfred; ``?mode=window`` or ``?mode=last``), and stops it all when the app quits.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, QUrl, QUrlQuery, Slot
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
    """Receives ``ocrtray://`` URLs: from QDesktopServices (Qt's macOS GetURL route) and from a FileOpen event
    (``Application.urlOpened``; a URL of another scheme is ignored with a warning)."""

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



def attach_capture(app) -> CaptureFlow:
    flow = CaptureFlow(app.controller, app.window, app.tray, app.settings, app.history, parent=app)
    urls = UrlHandler(flow, parent=flow)
    QDesktopServices.setUrlHandler(SCHEME, urls, "open_url")
    opened = getattr(app.qapp, "urlOpened", None)  # FileOpen events with a URL (desktop.application.Application)
    if opened is not None:
        opened.connect(urls.open_url)

    def show_verdict(ok: bool, words: str) -> None:
        panel = app.settings_panel
        if panel is not None and hasattr(panel, "set_verdict"):
            panel.set_verdict(SHORTCUT_KEY, ok, words)

    flow.shortcutStatus.connect(show_verdict)
    app.tray.settingsRequested.connect(lambda: show_verdict(flow.shortcut_ok, flow.shortcut_words))

    def stop() -> None:
        QDesktopServices.unsetUrlHandler(SCHEME)
        if opened is not None:
            opened.disconnect(urls.open_url)
        flow.shutdown()

    app.quitting.connect(stop)
    ok, words = flow.register_shortcut()
    if not ok and flow.shortcut.kind != "none" and app.settings.get(SHORTCUT_KEY):
        app.window.show_message(words)
    return flow
