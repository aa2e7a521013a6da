"""The project's one native module, built on Linux only (pyproject.toml holds everything else).

``engine._stepread`` reads model weights in small steps without holding Python's lock between them
(engine/weights_reader.py, ADR 0010). It is optional: where it cannot be compiled (no C compiler),
the install goes on and the reader does the same steps in Python. macOS keeps MLX's own loader.
"""

import sys

from setuptools import Extension, setup

native = []
if sys.platform.startswith("linux"):
    native.append(Extension("engine._stepread", ["engine/_stepread.c"], optional=True))

setup(ext_modules=native)
