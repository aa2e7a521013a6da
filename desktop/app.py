"""The app: one engine and its job controller, one tray icon, one window, and the presenters between them.

``OcrTrayApp`` is wiring and shutdown order only; what happens lives in the parts it wires:
``engine.controller.JobController`` (submission, retries, temporary files, settings → engine),
``TrayPresenter`` (the tray's text and icon), ``JobFeedback`` (copy when done, notifications,
failures), ``PasswordPrompt``, ``ModelDownloadFlow``, ``HistoryPresenter``, ``ClipboardImages``.
It can be built in-process (tests, benchmarks)::

    settings = Settings(QSettings(path, QSettings.Format.IniFormat))   # a private scope
    settings.set("model/preset", "custom"); settings.set("model/custom_source", model_dir)
    app = OcrTrayApp(settings, idle_seconds=1.0, tray=False)           # offscreen: no tray icon
    app.submit([pdf])                                                  # or drop on the window
    ...
    app.quit()      # engine stopped, temp files removed, QApplication.quit(); tests call app.shutdown()

The GUI thread never waits on the engine, the disk or the network: folder walks and clipboard
PNGs run on a pool thread, the model on the engine's own thread, downloads on their own.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from engine.controller import JobController
from engine.engine_thread import Engine
from engine.history import HistoryStore
from engine.lifecycle import State
from engine.settings import Settings

from .application import Application
from .capture.wiring import attach_capture
from .clipboard_image import ClipboardImages
from .history_presenter import HistoryPresenter
from .job_feedback import JobFeedback
from .model_download import ModelDownloadFlow
from .password_prompt import PasswordPrompt
from .tray import Tray
from .tray_presenter import APP_NAME, TrayPresenter
from .views.main_window import MainWindow

log = logging.getLogger(__name__)

__all__ = ["APP_NAME", "OcrTrayApp"]


class OcrTrayApp(QObject):
    """Everything the person sees, wired to one engine through one ``JobController``.

    ``settings``: the persisted settings (a private ``QSettings`` scope in tests); ``engine``: one to
    use (default: built from the settings); ``idle_seconds`` overrides the idle-unload minutes (tests);
    ``tray``: show a tray icon (default: when the platform has one); ``show_window``: show the window at
    once (it always shows without a tray icon); ``history``: the store each page is committed to;
    ``downloader``: the model downloader shared by the first-run download and the settings panel.
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
        history: HistoryStore | None = None,
        api: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.qapp = QApplication.instance()
        self.settings = settings or Settings()
        self.history = history
        self.engine = engine or JobController.engine_for(self.settings, history, idle_seconds)
        self.controller = JobController(self.engine, self.settings, history, idle_seconds=idle_seconds, parent=self)
        self._closing = False
        self.engine_stopped = True
        self.settings_panel = None
        self.api = None  # engine.api.server.ApiServer while the local API runs
        self._api_wanted = api

        self.tray = Tray(show_icon=bool(QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray), parent=self)
        self.window = MainWindow(self.settings, shared_actions=self.tray.menu.actions())
        if downloader is None:
            from engine.models.downloads import Downloader

            downloader = Downloader(parent=self)
        self.downloader = downloader
        self.flow = ModelDownloadFlow(self.window, downloader, self.controller, parent=self)
        self.tray_presenter = TrayPresenter(self.tray, self.controller, parent=self)
        self.feedback = JobFeedback(self.controller, self.window, self.tray, self.settings, parent=self)
        self.passwords = PasswordPrompt(self.controller, self.window, parent=self)
        self.clipboard_images = ClipboardImages(self.controller, self.window, parent=self)
        self.history_presenter = HistoryPresenter(history, self.window, self.controller, self.settings, self) \
            if history is not None else None
        self.history_view = self.history_presenter.view if self.history_presenter is not None else None
        self._wire()
        self.capture = attach_capture(self)  # Capture Text: shortcut, pickers, popover (desktop/capture)
        self.window.set_engine_status(self.controller.status)
        # the local API's code loads once the window has painted and the engine has nothing in hand (ADR 0025)
        self._window_painted = False
        if show_window or not self.tray.visible:
            self.window.installEventFilter(self)
            self.window.bring_forward()
        else:
            self._window_painted = True  # no window to wait for
        log.info("app ready (tray icon: %s)", "yes" if self.tray.visible else "no")
        if api:
            self.settings.changed.connect(self._on_api_setting)
            self.controller.statusChanged.connect(self._maybe_wake_api)
            self.controller.jobEnded.connect(self._maybe_wake_api)
            self.controller.submissionsSettled.connect(self._maybe_wake_api)
            QTimer.singleShot(0, self.start_api)  # after the tray is up: the server imports in its own thread

    def _wire(self) -> None:
        c, w, t, flow = self.controller, self.window, self.tray, self.flow
        c.statusChanged.connect(w.set_engine_status)
        c.jobQueued.connect(w.job_queued)
        c.jobStarted.connect(w.job_started)
        c.pageStarted.connect(w.page_started)
        c.textDelta.connect(w.text_delta)
        c.pageFinished.connect(w.page_finished)
        c.jobEnded.connect(w.job_ended)
        c.message.connect(w.show_message)

        w.pathsChosen.connect(self.submit)
        w.filesComing.connect(c.prewarm)  # a drag entered or an open dialog opened: the model loads now
        w.rereadRequested.connect(c.reread)
        w.cancelRequested.connect(c.cancel)
        w.cancelAllRequested.connect(c.cancel_all)
        w.statusRefreshRequested.connect(c.request_status)
        w.closed.connect(self._on_window_closed)
        w.downloadCancelRequested.connect(flow.cancel)

        t.openWindowRequested.connect(w.bring_forward)
        t.ocrFileRequested.connect(lambda: (w.bring_forward(), w.choose_files()))
        t.ocrClipboardRequested.connect(c.prewarm)  # first: the model loads while the picture is written
        t.ocrClipboardRequested.connect(self.clipboard_images.read)
        t.unloadRequested.connect(c.unload_now)
        t.settingsRequested.connect(self.open_settings)
        t.quitRequested.connect(self.quit)

        presenter = self.tray_presenter
        flow.started.connect(lambda label: (w.download_started(label), presenter.download_started(label)))
        flow.progress.connect(lambda p: (w.download_progress(p.done_bytes, p.total_bytes, p.speed_bps, p.eta_s),
                                         presenter.download_progress(flow.label, p.done_bytes, p.total_bytes)))
        flow.ended.connect(lambda ok, message: self._download_ended(message))
        flow.asking.connect(lambda *_: w.bring_forward())

        if isinstance(self.qapp, Application):
            self.qapp.fileOpened.connect(self._on_file_opened)
            early = self.qapp.take_early_files()
            if early:
                QTimer.singleShot(0, lambda: self.open_paths(early))
        if self.qapp is not None:
            self.qapp.aboutToQuit.connect(self.shutdown)

    # ------------------------------------------------------------------ requests
    def submit(self, paths: list[str]) -> None:
        """Files and folders from the window (dropped or chosen)."""
        self.controller.submit(paths)

    def open_paths(self, paths: list[str]) -> None:
        """Files from Finder ("Open With", drop on the app) or a second launch: queue them and show the window."""
        self.window.bring_forward()
        if paths:
            self.controller.submit(paths)

    def _on_file_opened(self, path: str) -> None:
        self.open_paths([path])

    def _download_ended(self, message: str) -> None:
        self.window.download_finished()
        self.tray_presenter.download_ended()
        if message:
            self.window.show_message(message)

    def open_settings(self) -> None:
        if self.settings_panel is None:
            from .views.settings_panel import SettingsPanel

            self.settings_panel = SettingsPanel(self.settings, downloader=self.downloader)
        self.settings_panel.present()

    # ------------------------------------------------------------------ the local API
    def start_api(self) -> None:
        """Start the local API when its setting is on (engine.api: a client of the controller like the window)."""
        if self._closing or self.api is not None or not self.settings.get("api/enabled"):
            return
        from engine.api.server import ApiServer

        server = ApiServer(self.controller, self.settings, parent=self)
        server.failed.connect(self.window.show_message)
        try:
            server.start(defer=True)  # the port and the discovery file now; FastAPI's import when wanted
        except OSError as e:
            log.error("the local API could not start: %s", e)
            self.window.show_message(f"The local API could not start ({e})")
            return
        self.api = server
        self._maybe_wake_api()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.window and event.type() == QEvent.Type.Paint and not self._window_painted:
            self._window_painted = True
            self.window.removeEventFilter(self)
            QTimer.singleShot(0, self._maybe_wake_api)  # after this paint, not inside it
        return False

    def _maybe_wake_api(self, *_args: object) -> None:
        """The local API's server imports its code (0.25 s of Python holding the GIL) once nothing a person waits
        for would pay for it: the window has painted, and the engine is not loading and has no job in hand or on
        its way (a launch with a file reads it first). A client that connects before wakes the server itself."""
        status = self.controller.status
        if (self.api is not None and self._window_painted and not self.controller.busy
                and not self.controller.submitting and status.state is not State.LOADING):
            self.api.wake()

    def stop_api(self) -> None:
        server, self.api = self.api, None
        if server is not None:
            server.stop()
            server.deleteLater()

    def _on_api_setting(self, key: str, _value: object) -> None:
        if key == "api/enabled" or (key == "api/port" and self.api is not None):
            self.stop_api()
            self.start_api()

    def _on_window_closed(self) -> None:
        if not self.tray.visible:
            self.quit()  # nowhere left to come back from

    # ------------------------------------------------------------------ quit, in order
    def quit(self) -> None:
        self.shutdown()
        if self.qapp is not None:
            self.qapp.quit()

    def shutdown(self) -> None:
        """Questions closed, downloads cancelled, the controller stopped (disk chores, then the engine: at
        most 5 s, then temporary files), the history closed, the icon and windows hidden."""
        if self._closing:
            return
        self._closing = True
        log.info("quitting")
        if isinstance(self.qapp, Application):
            self.qapp.fileOpened.disconnect(self._on_file_opened)
        if self.qapp is not None:
            self.qapp.aboutToQuit.disconnect(self.shutdown)
        self.quitting.emit()
        self.passwords.cancel_all()
        self.stop_api()  # clients' requests end and the discovery file goes before the engine stops
        self.flow.cancel()
        if self.history_presenter is not None:
            self.history_presenter.stop()
        if hasattr(self.downloader, "shutdown"):
            self.downloader.shutdown(2.0)  # a cancelled download stops at its next chunk
        self.engine_stopped = self.controller.shutdown(5.0)  # False: stuck in a load; launch exits without it
        if self.engine_stopped and self.history is not None:
            self.history.close()
        self.tray.hide()
        if self.settings_panel is not None:
            self.settings_panel.close()
        self.window.hide()
