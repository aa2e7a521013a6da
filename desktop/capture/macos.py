"""macOS: whether the app may record the screen, and the System Settings pane that grants it.

Without the Screen Recording permission a capture holds only the wallpaper and the menu bar (other apps'
windows are left out), so the text read would be nonsense. ``screen_capture_allowed`` asks CoreGraphics'
``CGPreflightScreenCaptureAccess`` (macOS 10.15+; it never prompts) through PyObjC's Quartz binding, a
macOS-only dependency imported here only. A capture is dropped when the answer is no, and the person is
offered the Privacy & Security › Screen Recording pane instead (ADR 0017).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

PRIVACY_PANE = "x-apple.systempreferences:com.apple.preference.security?Privacy_ScreenCapture"
NOT_ALLOWED = ("OCR Tray may not read the screen yet, so the capture held only the desktop picture. Allow "
               "OCR Tray in System Settings › Privacy & Security › Screen Recording, then capture again.")


def screen_capture_allowed(quartz: Any = None) -> bool | None:
    """True or False as CoreGraphics says; None when it cannot be asked (no PyObjC, an older macOS)."""
    if quartz is None:
        try:
            import Quartz as quartz  # noqa: N813 - pyobjc-framework-Quartz (sys_platform == 'darwin')
        except ImportError:
            log.warning("capture: pyobjc-framework-Quartz is missing; Screen Recording permission not checked")
            return None
    preflight = getattr(quartz, "CGPreflightScreenCaptureAccess", None)
    if preflight is None:
        return None
    return bool(preflight())


def request_access(quartz: Any = None) -> None:
    """Ask the system to show its own Screen Recording prompt (once per app; later calls show nothing)."""
    if quartz is None:
        try:
            import Quartz as quartz  # noqa: N813
        except ImportError:
            return
    request = getattr(quartz, "CGRequestScreenCaptureAccess", None)
    if request is not None:
        request()


def open_privacy_pane(opener: Any = None) -> bool:
    """Open System Settings on Privacy & Security › Screen Recording."""
    if opener is None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        return bool(QDesktopServices.openUrl(QUrl(PRIVACY_PANE)))
    return bool(opener(PRIVACY_PANE))
