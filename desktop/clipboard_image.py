"""Clipboard images as files: written as PNG into a private (0700) temporary folder, deleted after their job.

The folder is made on first use and removed on quit.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time

from PySide6.QtGui import QImage


class ClipboardImages:
    def __init__(self) -> None:
        self._folder: str | None = None
        self._numbers = itertools.count(1)

    def new_path(self) -> str:
        """A fresh path for the next image, in the private folder."""
        if self._folder is None or not os.path.isdir(self._folder):
            self._folder = tempfile.mkdtemp(prefix="ocr-tray-clipboard-")  # mode 0700
        stamp = time.strftime("%H.%M.%S")
        return os.path.join(self._folder, f"Clipboard {stamp} {next(self._numbers)}.png")

    @staticmethod
    def write(image: QImage, path: str) -> str:
        """Save ``image`` as PNG (called on a pool thread: a QImage is safe to read from one)."""
        if not image.save(path, "PNG"):
            raise OSError(f"could not write {os.path.basename(path)}")
        os.chmod(path, 0o600)
        return path

    def owns(self, path: str) -> bool:
        return self._folder is not None and os.path.dirname(os.path.abspath(path)) == os.path.abspath(self._folder)

    def release(self, path: str) -> None:
        """The image's job ended: delete the file."""
        if self.owns(path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def cleanup(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    @property
    def folder(self) -> str | None:
        return self._folder
