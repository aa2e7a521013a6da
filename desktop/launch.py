"""``run_app``: start the menu-bar app, or hand the files to the one already running (single instance)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from PySide6.QtCore import QSocketNotifier
from PySide6.QtWidgets import QApplication

from engine.settings import Settings

from . import icons
from .app import APP_NAME, OcrTrayApp
from .application import Application
from .single_instance import SingleInstance

log = logging.getLogger(__name__)


def _quit_on_signals(app: QApplication, tray_app: OcrTrayApp) -> QSocketNotifier | None:
    """SIGTERM / SIGINT quit cleanly (engine shut down, temp files removed)."""
    try:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        os.set_blocking(read_fd, False)
        signal.set_wakeup_fd(write_fd)
    except (OSError, ValueError, AttributeError):
        return None
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)  # the wakeup fd carries it into the event loop
    notifier = QSocketNotifier(read_fd, QSocketNotifier.Type.Read, app)

    def on_signal() -> None:
        try:
            os.read(read_fd, 64)
        except OSError:
            pass
        tray_app.quit()

    notifier.activated.connect(on_signal)
    return notifier


def run_app(args: argparse.Namespace) -> int:
    """Start the app (``engine.cli.parse``'s GUI form), or hand the files to the one already running."""
    from .logging_setup import setup_logging

    log_file = setup_logging()
    instance = SingleInstance(args.instance_key)
    if not instance.lock():  # another app runs: hand the files over, without starting a GUI
        if instance.forward(args.paths):
            log.info("handed %d path(s) to the running app", len(args.paths))
            return 0
        print("ocr-tray: another OCR Tray is running but does not answer", file=sys.stderr)
        return 1
    app = QApplication.instance() or Application(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setQuitOnLastWindowClosed(False)  # closing the window leaves the app in the menu bar
    app.setWindowIcon(icons.app_icon())
    instance.listen()
    log.info("OCR Tray starting (log: %s)", log_file)
    try:
        from engine import paths
        from engine.history import default_store

        swept = paths.sweep_temp()  # temporary files a crash or a kill left behind
        if swept:
            log.info("removed the temporary files of %d ended process(es)", swept)

        settings = Settings()
        tray_app = OcrTrayApp(
            settings,
            history=default_store(settings),
            idle_seconds=args.idle_seconds,
            show_window=not args.background,
        )
        instance.pathsReceived.connect(tray_app.open_paths)
        _quit_on_signals(app, tray_app)  # the notifier is the app's child: it lives as long as the loop
        if args.paths:
            tray_app.open_paths(args.paths)
        code = app.exec()
        tray_app.shutdown()
        return code
    finally:
        instance.release()
