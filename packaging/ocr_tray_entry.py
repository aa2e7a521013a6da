"""PyInstaller entry point of the frozen app: the same ``main`` as the ``ocr-tray`` console script."""

import multiprocessing
import sys

from desktop.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start a second app
    sys.exit(main())
