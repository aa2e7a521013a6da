"""On Linux, MLX's float32 matrix products run on OpenBLAS, not the reference BLAS its wheel bundles.

The mlx-cpu wheel for Linux links MLX against netlib's *reference* BLAS (auditwheel bundles it as
``mlx_cpu.libs/libblas-*.so.3``): a triple loop in Fortran. On the benchmark machine a float32 product of
87×1024 by 1024×3584 took 160 ms there and 12 ms through OpenBLAS, and a bench-model page's prefill
(87 tokens) 13.6 s against 1.3 s with two threads, 2.2–2.9 s with the one it now gets on two cores
(ADR 0023). MLX asks the dynamic linker for ``cblas_sgemm`` by name, and a
library loaded with ``RTLD_GLOBAL`` is searched before a library's own dependencies, so loading OpenBLAS
that way before ``mlx.core`` is first imported makes MLX call it. The results are the same products
(tested against numpy's). bfloat16 products do not go through BLAS in MLX, so real (bf16) checkpoints
are unaffected; macOS uses Accelerate and Metal and is left alone.

``use()`` is called before MLX is imported: by the backend (the engine thread's first load), by the
test set-up and by every benchmark process, so that a benchmark's "bare mlx-vlm" side and the engine use
the same BLAS. ``OCR_TRAY_BLAS=reference`` keeps the bundled one; ``OCR_TRAY_BLAS=/path/libopenblas.so.0``
names another library. The library must be a regular file owned by root or by this user and writable by
no one else: it is code loaded into the process.
"""

from __future__ import annotations

import ctypes
import logging
import os
import stat
import sys
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "OCR_TRAY_BLAS"
# Debian/Ubuntu's libopenblas0-pthread (the test set-up installs it), then the usual other places.
CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
)

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")  # in the order OpenBLAS reads them
_state: dict[str, str] = {}
_handle: ctypes.CDLL | None = None


def _trusted(path: Path) -> bool:
    try:
        st = path.stat()  # follows the symlink Debian puts at libopenblas.so.0
    except OSError:
        return False
    return (stat.S_ISREG(st.st_mode) and st.st_uid in (0, os.getuid())
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def find() -> Path | None:
    """The OpenBLAS library to load, or None (not Linux, turned off, or none installed)."""
    if not sys.platform.startswith("linux"):
        return None
    choice = os.environ.get(ENV, "").strip()
    if choice == "reference":
        return None
    for candidate in ([choice] if choice else CANDIDATES):
        path = Path(candidate)
        if _trusted(path):
            return path
    return None


def use() -> str:
    """Load OpenBLAS globally if MLX has not been imported yet; returns what MLX's products run on.

    Idempotent and cheap after the first call. Never raises: without OpenBLAS MLX keeps its own BLAS."""
    global _handle
    if "blas" in _state:
        return _state["blas"]
    if not sys.platform.startswith("linux"):
        return _remember("platform (Accelerate)" if sys.platform == "darwin" else "bundled")
    path = find()
    if path is None:
        why = "turned off" if os.environ.get(ENV, "").strip() == "reference" else "no OpenBLAS installed"
        return _remember(f"reference BLAS bundled with mlx ({why})")
    if "mlx.core" in sys.modules:
        # MLX's symbols are already bound: loading now would change nothing but the report.
        return _remember("reference BLAS bundled with mlx (mlx was imported before OpenBLAS could be loaded)")
    threads = _leave_a_core()
    try:
        _handle = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        log.warning("OpenBLAS at %s could not be loaded (%s); MLX keeps its bundled BLAS", path, exc)
        return _remember("reference BLAS bundled with mlx (OpenBLAS failed to load)")
    return _remember(f"OpenBLAS ({path}), {threads} thread(s)")


def _leave_a_core() -> str:
    """OpenBLAS's thread count, set before it loads (it reads the environment once, when loaded): one core fewer
    than the machine has, at least one, unless the environment already says. A product with every core busy
    left the window's thread waiting for a core during a prefill (a 97 ms gap in figure 4's full run with two
    threads on two cores, ADR 0023); the core left over is also where the next page is prepared meanwhile.
    Child processes inherit the setting, so a benchmark's bare side uses the same count."""
    for name in THREAD_VARS:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    count = str(max(1, (os.cpu_count() or 1) - 1))
    os.environ[THREAD_VARS[0]] = count
    return count


def _remember(what: str) -> str:
    _state["blas"] = what
    return what


def status() -> str:
    """What ``use()`` decided, or that it has not been called."""
    return _state.get("blas", "not chosen yet (use() not called)")


def sgemm_provider() -> str | None:
    """The file that provides ``cblas_sgemm`` to code that looks it up by name in this process (Linux), as the
    dynamic linker resolves it for MLX; None where that cannot be told."""
    if not sys.platform.startswith("linux"):
        return None

    class _DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    libc = ctypes.CDLL(None)
    try:
        address = ctypes.cast(libc.cblas_sgemm, ctypes.c_void_p).value
    except AttributeError:
        return None
    info = _DlInfo()
    libdl = ctypes.CDLL("libc.so.6")
    libdl.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    if not libdl.dladdr(address, ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname)
