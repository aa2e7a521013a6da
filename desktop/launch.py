"""``run_app``: start the menu-bar app, or hand the files to the one already running (single instance)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from PySide6.QtWidgets import QApplication

from engine.interrupts import on_signals
from engine.settings import Settings

from . import icons
from .app import APP_NAME, OcrTrayApp
from .application import Application
from .single_instance import SingleInstance

log = logging.getLogger(__name__)


def hand_over(instance: SingleInstance, given: list[str]) -> int:
    """A second launch: the files that exist go to the running app, each one that does not is named."""
    found = [p for p in given if os.path.exists(p)]
    for missing in (p for p in given if not os.path.exists(p)):
        print(f"ocr-tray: {missing}: no such file or folder", file=sys.stderr)
    if given and not found:
        return 1
    if not instance.forward(found):
        print("ocr-tray: another OCR Tray is running but does not answer", file=sys.stderr)
        return 1
    log.info("handed %d path(s) to the running app", len(found))
    if found:
        print(f"ocr-tray: handed {len(found)} file{'s' if len(found) != 1 else ''} to the running OCR Tray")
    return 0 if len(found) == len(given) else 1


def hand_over_capture(instance: SingleInstance, mode: str) -> int:
    """``ocr-tray capture`` with the app running: it does the capture."""
    if not instance.forward_capture(mode):
        print("ocr-tray: another OCR Tray is running but does not answer", file=sys.stderr)
        return 1
    log.info("asked the running app for a capture (%s)", mode)
    return 0


def run_app(args: argparse.Namespace) -> int:
    """Start the app (``engine.cli.parse``'s GUI form), or hand the files to the one already running.
    ``ocr-tray capture``: the running app captures; otherwise the app starts in the menu bar and captures."""
    from .logging_setup import setup_logging

    log_file = setup_logging()
    capture = getattr(args, "mode", None) if args.command == "capture" else None
    instance = SingleInstance(args.instance_key)
    if not instance.lock():  # another app runs: hand the files over, without starting a GUI
        return hand_over_capture(instance, capture) if capture else hand_over(instance, args.paths)
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
            show_window=not args.background and not capture,
            api=True,  # the local API, when its setting is on (engine.api)
        )
        instance.pathsReceived.connect(tray_app.open_paths)
        instance.captureRequested.connect(tray_app.capture.start)
        if capture:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, lambda: tray_app.capture.start(capture))
        on_signals(app, lambda _signum: tray_app.quit())  # the notifier is the app's child: it lives as long
        if args.paths:
            tray_app.open_paths(args.paths)
        code = app.exec()
        tray_app.shutdown()
        if not tray_app.engine_stopped:
            # the engine thread is inside something that does not stop (a load); every page read so far
            # is committed. Waiting would hang the quit, and tearing Qt down around a running thread aborts.
            log.error("the engine did not stop within 5 s; the app ends without waiting for it")
            logging.shutdown()
            sys.stdout.flush()
            os._exit(code)
        return code
    finally:
        instance.release()
