"""The app: one engine, one tray icon, one window, wired together. And ``run_app``, the GUI entry point.

``OcrTrayApp`` can be built in-process (tests, benchmarks)::

    settings = Settings(QSettings(path, QSettings.Format.IniFormat))   # a private scope
    settings.set("model/preset", "custom"); settings.set("model/custom_source", model_dir)
    app = OcrTrayApp(settings, idle_seconds=1.0, tray=False)           # offscreen: no tray icon
    app.submit([pdf])                                                  # or drop on app.window.drop_zone
    ...
    app.quit()      # engine.shutdown(), temp files removed, QApplication.quit(); tests call app.shutdown()

``desktop`` talks to the engine only through its signals and its non-blocking methods;
the GUI thread never waits on the engine, the disk or the network (folder walks and
clipboard PNGs run on a pool thread; the model on the engine's own thread).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from dataclasses import replace

from PySide6.QtCore import QEvent, QObject, QSocketNotifier, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QSystemTrayIcon

from engine import documents
from engine.documents import display_name
from engine.engine_thread import Engine
from engine.jobs import EngineStatus, JobInfo, JobResult, OcrOptions, PageProgress
from engine.lifecycle import State
from engine.settings import Settings

from . import background, icons
from .background import run_in_background
from .clipboard_image import ClipboardImages
from .model_download import ModelDownloadFlow
from .single_instance import SingleInstance
from .status_text import model_line, size
from .tray import Tray
from .views.drop_zone import paths_from_mime
from .views.history_view import HistoryView, show_pages
from .views.main_window import MainWindow

log = logging.getLogger(__name__)

APP_NAME = "OCR Tray"
MEMORY_KEYS = ("memory/mode", "memory/idle_minutes")
MODEL_KEYS = ("model/preset", "model/custom_source", "model/custom_prompt")
HISTORY_REFRESH_MS = 300


class Application(QApplication):
    """The QApplication, plus macOS's "Open With" / drop-on-the-app files (``QFileOpenEvent``).

    Files that arrive before the app is wired (a launch by "Open With") are kept until
    ``take_early_files()``; later ones go out through ``fileOpened``.
    """

    fileOpened = Signal(str)

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self._early: list[str] | None = []

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.FileOpen:
            path = e.file() or e.url().toLocalFile()
            if path and self._early is not None:
                self._early.append(path)
            elif path:
                self.fileOpened.emit(path)
            return True
        return super().event(e)

    def take_early_files(self) -> list[str]:
        """The files opened before anyone listened; from now on ``fileOpened`` carries them."""
        early, self._early = self._early or [], None
        return early


class OcrTrayApp(QObject):
    """Everything the person sees, wired to one ``Engine``.

    ``settings``: the persisted settings (pass a private ``QSettings`` scope in tests).
    ``engine``: an engine to use; by default one is built from the settings.
    ``idle_seconds``: overrides the idle-unload minutes (tests use 1 s).
    ``tray``: show a tray icon (default: when the platform has a system tray).
    ``show_window``: show the window at once (it always shows when there is no tray icon).
    ``history``: the history store the engine records pages in (``run_app`` passes the user's).
    ``downloader``: the model downloader, shared by the first-run download and the settings
    panel's model list (default: an ``engine.models.downloads.Downloader``; it starts threads only
    when asked to download).
    """

    quitting = Signal()

    def __init__(
        self,
        settings: Settings | None = None,
        engine: Engine | None = None,
        *,
        idle_seconds: float | None = None,
        tray: bool | None = None,
        show_window: bool = False,
        downloader: QObject | None = None,
        history=None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.qapp = QApplication.instance()
        self.settings = settings or Settings()
        self.history = history  # engine.history.HistoryStore the engine writes each page to, or None
        self._idle_seconds = idle_seconds
        if engine is None:
            mode, idle = self._memory_mode()
            engine = Engine(
                self.settings.model_spec(), mode, idle,
                check_memory=bool(self.settings.get("memory/check_fit")), history=history,
            )
        self.engine = engine
        self._closing = False
        self._options: dict[int, OcrOptions] = {}  # job id -> the options it was submitted with
        self._current_page: PageProgress | None = None
        self._download_note = ""
        self._password_queue: list[tuple[JobResult, OcrOptions]] = []
        self._password_dialog: QInputDialog | None = None
        self.settings_panel = None
        self.clipboard_images = ClipboardImages()

        if tray is None:
            tray = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray = Tray(show_icon=bool(tray), parent=self)
        self.window = MainWindow(self.settings, shared_actions=self.tray.menu.actions())
        if downloader is None:
            from engine.models.downloads import Downloader

            downloader = Downloader(parent=self)
        self.downloader = downloader
        self.flow = ModelDownloadFlow(self.window, downloader, parent=self)
        self.history_view = None
        self._wire()
        if self.history is not None:
            self._wire_history()
        self._on_state(self.engine.status)
        if show_window or not self.tray.visible:
            self.window.bring_forward()
        log.info("app ready (tray icon: %s)", "yes" if self.tray.visible else "no")

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        e, w, t = self.engine, self.window, self.tray
        e.stateChanged.connect(self._on_state)
        e.jobQueued.connect(self._on_queued)
        e.jobStarted.connect(self._on_started)
        e.pageStarted.connect(self._on_page)
        e.textDelta.connect(w.result_view.append)
        e.pageFinished.connect(w.result_view.finish_page)
        e.jobFinished.connect(self._on_job_done)
        e.jobFailed.connect(self._on_job_done)
        e.notice.connect(w.messages.add)

        w.pathsChosen.connect(self.submit)
        w.job_queue.cancelRequested.connect(e.cancel)
        w.job_queue.cancelAllRequested.connect(e.cancel_all)
        w.status.refreshRequested.connect(e.request_status)
        w.closed.connect(self._on_window_closed)
        w.download_bar.cancelRequested.connect(self.flow.cancel)

        t.openWindowRequested.connect(w.bring_forward)
        t.ocrFileRequested.connect(self._choose_files)
        t.ocrClipboardRequested.connect(self.ocr_clipboard)
        t.unloadRequested.connect(e.unload_now)
        t.settingsRequested.connect(self.open_settings)
        t.quitRequested.connect(self.quit)

        self.flow.started.connect(self._on_download_started)
        self.flow.progress.connect(self._on_download_progress)
        self.flow.ended.connect(self._on_download_ended)
        self.flow.ready.connect(self._resubmit)
        self.flow.abandoned.connect(lambda paths: [self.clipboard_images.release(p) for p in paths])
        self.flow.asking.connect(lambda *_: w.bring_forward())

        self.settings.changed.connect(self._on_setting)
        if isinstance(self.qapp, Application):
            self.qapp.fileOpened.connect(self._on_file_opened)
            early = self.qapp.take_early_files()
            if early:
                QTimer.singleShot(0, lambda: self.open_paths(early))
        if self.qapp is not None:
            self.qapp.aboutToQuit.connect(self.shutdown)

    def _wire_history(self) -> None:
        """The History tab: refreshed when shown and shortly after each job ends; open and resume go to the engine."""
        view = self.history_view = HistoryView(self.history)
        self.window.add_history(view)
        self._history_timer = QTimer(self)
        self._history_timer.setSingleShot(True)
        self._history_timer.setInterval(HISTORY_REFRESH_MS)  # a burst of job ends: one reload
        self._history_timer.timeout.connect(view.refresh)
        self.engine.jobFinished.connect(lambda *_: self._history_timer.start())
        self.engine.jobFailed.connect(lambda *_: self._history_timer.start())
        self.engine.pageFinished.connect(self._page_saved)  # "Reading · n of m" follows while it is shown
        self.window.historyShown.connect(view.refresh)
        view.message.connect(self.window.messages.add)
        view.openRequested.connect(self._open_from_history)
        view.resumeRequested.connect(self._resume_from_history)
        view.loaded.connect(self._announce_interrupted)
        view.refresh()  # at start: interrupted documents are announced, a damaged file reported

    def _page_saved(self, *_) -> None:
        if self.window.tabs.currentWidget() is self.history_view and not self._closing:
            self._history_timer.start()

    def _announce_interrupted(self) -> None:
        """Once, after the first load: documents a crash or a kill left unfinished."""
        self.history_view.loaded.disconnect(self._announce_interrupted)
        n = sum(1 for d in self.history_view.documents if d.status == "interrupted")
        if n:
            keys = self.window.show_history_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            self.window.messages.add(
                f"{n} document{'s were' if n != 1 else ' was'} interrupted before the end — "
                f"open History ({keys}) to resume {'them' if n != 1 else 'it'}"
            )

    def _open_from_history(self, _doc, pages) -> None:
        show_pages(self.window.result_view, pages)
        self.window.show_results()
        self.window.refresh_actions()

    def _resume_from_history(self, plan) -> None:
        """Read only the missing pages, into the same history record."""
        if self._closing:
            return
        self._send([plan.path], plan.options(self.settings.ocr_options()))
        self.window.show_results()

    # ------------------------------------------------------------- submitting
    def open_paths(self, paths: list[str]) -> None:
        """Files from Finder ("Open With", drop on the app) or a second launch: queue them and show the window."""
        self.window.bring_forward()
        if paths:
            self.submit(paths)

    def _on_file_opened(self, path: str) -> None:
        self.open_paths([path])

    def submit(self, paths: list[str], options: OcrOptions | None = None) -> None:
        """Expand folders and check files off the GUI thread, then queue what can be read."""
        paths = [os.fspath(p) for p in paths]
        if not paths or self._closing:
            return
        options = options or self.settings.ocr_options()
        run_in_background(lambda: _expand_and_check(paths), lambda found, error: self._queue(found, error, options))

    def _queue(self, found, error: BaseException | None, options: OcrOptions) -> None:
        if self._closing:
            return
        if error is not None:
            self.window.messages.add(f"The dropped files could not be read ({error})")
            return
        files, problems = found
        for problem in problems:
            self.window.messages.add(str(problem))
        self._send(files, options)

    def _send(self, files: list[str], options: OcrOptions) -> None:
        """Queue on the engine, remembering each job's options (a password retry reuses them)."""
        for job_id in self.engine.submit(files, options) if files else []:
            self._options[job_id] = options

    def _resubmit(self, paths: list[str]) -> None:
        if paths:
            log.info("submitting %d document(s) again", len(paths))
            self._send(paths, self.settings.ocr_options())

    def _choose_files(self) -> None:
        self.window.bring_forward()
        self.window.choose_files()

    def ocr_clipboard(self) -> None:
        """Files copied in Finder are read as files; an image is written to a private PNG first."""
        self.window.bring_forward()
        mime = QGuiApplication.clipboard().mimeData()
        paths, _ = paths_from_mime(mime) if mime is not None else ([], [])
        if paths:
            self.submit(paths)
            return
        image = QGuiApplication.clipboard().image() if mime is not None and mime.hasImage() else None
        if image is None or image.isNull():
            self.window.messages.add("The clipboard holds no image — copy an image or a file, then try again")
            return
        path = self.clipboard_images.new_path()
        run_in_background(lambda: ClipboardImages.write(image, path), self._clipboard_written)

    def _clipboard_written(self, path, error: BaseException | None) -> None:
        if error is not None:
            self.window.messages.add(f"The clipboard image could not be saved ({error})")
            return
        if self._closing:
            self.clipboard_images.release(path)
            return
        self._send([path], self.settings.ocr_options())

    # ------------------------------------------------------------ engine events
    def _on_queued(self, info: JobInfo) -> None:
        self.window.job_queue.add(info)
        self.window.refresh_actions()

    def _on_started(self, info: JobInfo) -> None:
        self.window.job_queue.started(info)

    def _on_page(self, progress: PageProgress) -> None:
        self._current_page = progress
        self.window.job_queue.page(progress)
        self.window.result_view.begin_page(progress)
        self._show_tray_status()

    def _on_job_done(self, result: JobResult) -> None:
        self._current_page = None
        log.info("job %d %s: %d of %d page(s) in %.1f s%s", result.job_id, result.status, len(result.pages),
                 result.page_count, result.seconds, f" ({result.error_kind})" if result.error_kind else "")
        self.window.job_queue.finished(result)
        self.window.result_view.end_job(result)
        options = self._options.pop(result.job_id, None) or self.settings.ocr_options()
        kept = False  # the file is needed again (a retry)
        if result.status == "failed":
            kept = self._on_failure(result, options)
        elif result.status == "done":
            self._on_success(result)
        if not kept:
            self.clipboard_images.release(result.path)
        self._show_tray_status()

    def _on_success(self, result: JobResult) -> None:
        copied = False
        if self.settings.get("ui/auto_copy") and result.pages:
            QGuiApplication.clipboard().setText(
                self.window.result_view.export("txt", [s for s in self.window.result_view.sections if s.job_id == result.job_id])
            )
            copied = True
        if self._window_hidden() and self.settings.get("ui/notify"):
            pages = len(result.pages)
            self.tray.notify(
                "Text ready",
                f"{display_name(result.path)} · {pages} page{'s' if pages != 1 else ''}"
                + (" — copied to the clipboard" if copied else ""),
            )

    def _on_failure(self, result: JobResult, options: OcrOptions) -> bool:
        if result.error_kind == "password":
            self._password_queue.append((result, options))
            self._ask_password()
            return True
        if result.error_kind == "model-missing" and self.flow.offer(self.engine.spec, result.path):
            return True
        self.window.messages.add(result.error or f"{display_name(result.path)}: could not be read")
        if self._window_hidden() and self.settings.get("ui/notify"):
            self.tray.notify("Could not read a document", result.error or display_name(result.path))
        return False

    # ------------------------------------------------------------- passwords
    def _ask_password(self) -> None:
        if self._password_dialog is not None or not self._password_queue:
            return
        result, options = self._password_queue[0]
        wrong = options.password is not None  # it was tried with one
        dialog = QInputDialog(self.window)
        dialog.setObjectName("passwordDialog")
        dialog.setWindowTitle("Password Required")
        dialog.setLabelText(
            (f"The password for “{display_name(result.path)}” was wrong. Try again:"
             if wrong else f"“{display_name(result.path)}” is protected by a password:")
        )
        dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
        dialog.setOkButtonText("Open")
        dialog.finished.connect(lambda code: self._password_answered(dialog, code))
        self._password_dialog = dialog
        self.window.bring_forward()
        dialog.open()

    def _password_answered(self, dialog: QInputDialog, code: int) -> None:
        result, options = self._password_queue.pop(0)
        self._password_dialog = None
        password = dialog.textValue()
        dialog.deleteLater()
        if code and password:
            self._send([result.path], replace(options, password=password))
        else:
            self.window.messages.add(f"{display_name(result.path)}: not read — it needs its password")
            self.clipboard_images.release(result.path)
        self._ask_password()

    # ------------------------------------------------------------------ state
    def _on_state(self, status: EngineStatus) -> None:
        self.window.status.set_status(status)
        loaded = status.state in (State.READY, State.BUSY)
        if status.unload_pending:
            self.tray.set_unload(False, "Unloads After Current Job")
        elif status.state is State.BUSY:
            self.tray.set_unload(True, "Unload After Current Job")
        else:
            self.tray.set_unload(loaded, "Unload Model")
        self._show_tray_status()

    def _show_tray_status(self) -> None:
        status = self.engine.status
        line = model_line(status)
        lines = [f"{APP_NAME} — {line}"]
        if self._current_page is not None:
            p = self._current_page
            lines.append(f"Reading {display_name(p.path)} · page {p.page} of {p.pages}")
        if self._download_note:
            lines.append(self._download_note)
        if status.error and status.state is State.UNLOADED:
            lines.append(status.error)
        if self.flow.downloading or status.state in (State.LOADING, State.UNLOADING):
            kind = icons.LOADING
        elif status.state is State.BUSY or self.engine.busy:
            kind = icons.BUSY
        else:
            kind = icons.IDLE
        self.tray.set_status(line, "\n".join(lines), kind)

    # --------------------------------------------------------------- download
    def _on_download_started(self, label: str) -> None:
        self.window.download_bar.start(label)
        self._download_note = f"Downloading {label}…"
        self._show_tray_status()

    def _on_download_progress(self, p) -> None:
        self.window.download_bar.progress(p.done_bytes, p.total_bytes, p.speed_bps, p.eta_s)
        note = f"Downloading {self.engine.spec.label}"
        if p.total_bytes:
            note += f" · {int(100 * p.done_bytes / p.total_bytes)}% of {size(p.total_bytes)}"
        if note != self._download_note:
            self._download_note = note
            self._show_tray_status()

    def _on_download_ended(self, ok: bool, message: str) -> None:
        self.window.download_bar.finish()
        self._download_note = ""
        if message:
            self.window.messages.add(message)
        self._show_tray_status()

    # --------------------------------------------------------------- settings
    def _memory_mode(self):
        mode, idle = self.settings.mode()
        return mode, (self._idle_seconds if self._idle_seconds is not None else idle)

    def _on_setting(self, key: str, _value) -> None:
        if key in MEMORY_KEYS:
            self.engine.set_mode(*self._memory_mode())
        elif key in MODEL_KEYS:
            self.engine.set_model(self.settings.model_spec())
        elif key == "memory/check_fit":
            self.engine.set_memory_check(bool(self.settings.get(key)))
        elif key == "history/keep" and self.history is not None:
            self.history.set_keep(self.settings.get(key))

    def open_settings(self) -> None:
        if self.settings_panel is None:
            try:
                from .views.settings_panel import SettingsPanel
            except ImportError as e:
                log.error("the settings panel is not available: %s", e)
                self.window.bring_forward()
                self.window.messages.add("Settings are not available in this build")
                return
            self.settings_panel = SettingsPanel(self.settings, downloader=self.downloader)
        self.settings_panel.present()

    # ------------------------------------------------------------ window, quit
    def _window_hidden(self) -> bool:
        return not self.window.isVisible() or self.window.isMinimized()

    def _on_window_closed(self) -> None:
        if not self.tray.visible:
            self.quit()  # nowhere left to come back from

    def quit(self) -> None:
        self.shutdown()
        if self.qapp is not None:
            self.qapp.quit()

    def shutdown(self) -> None:
        """Stop the engine (cancel, unload, join: at most 5 s), remove temporary files, hide the icon."""
        if self._closing:
            return
        self._closing = True
        log.info("quitting")
        if isinstance(self.qapp, Application):
            self.qapp.fileOpened.disconnect(self._on_file_opened)
        if self.qapp is not None:
            self.qapp.aboutToQuit.disconnect(self.shutdown)
        self.quitting.emit()
        self.flow.cancel()
        if self.history_view is not None:
            self._history_timer.stop()
        if hasattr(self.downloader, "shutdown"):
            self.downloader.shutdown(2.0)  # a cancelled download stops at its next chunk
        # disk chores (history reads, folder walks, clipboard PNGs) end before the history closes: short, bounded
        if not background.wait(2.0):
            log.warning("a background chore was still running at quit")
        if not self.engine.shutdown(5.0):
            log.error("the engine did not stop in time")
        elif self.history is not None:
            self.history.close()
        self.clipboard_images.cleanup()
        self.tray.hide()
        if self.settings_panel is not None:
            self.settings_panel.close()
        self.window.hide()


def _expand_and_check(paths: list[str]) -> tuple[list[str], list[documents.DocumentError]]:
    """Folders to files, and each file's type checked by its bytes (pool thread: disk only, no MLX)."""
    files, problems = documents.expand(paths)
    readable = []
    for path in files:
        try:
            documents.sniff(path)
        except documents.DocumentError as e:
            problems.append(e)
            continue
        readable.append(path)
    return readable, problems


# --------------------------------------------------------------------- run_app
def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ocr-tray", description="OCR Tray: menu-bar OCR with a local model")
    p.add_argument("paths", nargs="*", metavar="FILE", help="images, PDFs or folders to read")
    p.add_argument("--background", action="store_true", help="start in the menu bar without opening the window")
    p.add_argument("--idle-seconds", type=float, default=None, help=argparse.SUPPRESS)  # tests
    p.add_argument("--instance-key", default=None, help=argparse.SUPPRESS)  # tests
    return p.parse_args(argv)


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


def run_app(argv: list[str]) -> int:
    """Start the app, or hand the files to the one already running."""
    args = _parse(argv)
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
        from engine.history import default_store

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
