"""OCR Clipboard Image: files copied in Finder are read as files; an image is written to a private PNG first.

The PNG goes into a private (0700) temporary folder of the app's own (``JobController.temp_dir``),
is submitted as a temporary file (the controller deletes it when its job ends for good), and the
folder is removed at quit. Writing the PNG runs on a pool thread.
"""

from __future__ import annotations

import itertools
import os

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication, QImage

from engine.background import run_in_background
from engine.controller import JobController
from engine.human import one_line
from engine.jobs import Client

from .views.drop_zone import paths_from_mime
from .views.main_window import MainWindow


class ClipboardImages(QObject):
    def __init__(self, controller: JobController, window: MainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._controller, self._window = controller, window
        self._folder: str | None = None
        self._numbers = itertools.count(1)

    @property
    def folder(self) -> str | None:
        return self._folder

    def read(self) -> None:
        self._window.bring_forward()
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        paths, _ = paths_from_mime(mime) if mime is not None else ([], [])
        if paths:
            self._controller.submit(paths, client=Client.CLIPBOARD)
            return
        image = clipboard.image() if mime is not None and mime.hasImage() else None
        if image is None or image.isNull():
            self._window.show_message("The clipboard holds no image — copy an image or a file, then try again")
            return
        path = self.new_path()
        run_in_background(lambda: self.write(image, path), self._written)

    def new_path(self) -> str:
        if self._folder is None or not os.path.isdir(self._folder):
            self._folder = str(self._controller.temp_dir("clipboard"))
        return os.path.join(self._folder, f"Clipboard image {next(self._numbers)}.png")

    @staticmethod
    def write(image: QImage, path: str) -> str:
        """Save ``image`` as PNG (on a pool thread: a QImage is safe to read from one)."""
        if not image.save(path, "PNG"):
            raise OSError(f"could not write {os.path.basename(path)}")
        os.chmod(path, 0o600)
        return path

    def _written(self, path, error: BaseException | None) -> None:
        if error is not None:
            self._window.show_message(f"The clipboard image could not be saved ({one_line(error)})")
            return
        self._controller.submit_files([path], client=Client.CLIPBOARD, temporary=True)
