"""Process memory: reading RSS and handing freed heap pages back to the OS.

Unloading a model drops its arrays, but glibc keeps freed heap pages mapped unless
told otherwise, so RSS would not fall. Two measures (see docs/adr/0002):
- at start, large allocations (≥ 1 MiB) are served by mmap, which returns to the
  OS on free (``mallopt(M_MMAP_THRESHOLD)``);
- after an unload, ``malloc_trim(0)`` gives back what remains.
Both are glibc-only and no-ops elsewhere (macOS's allocator returns memory itself).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import lru_cache

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 << 20


def rss_bytes() -> int:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss


@lru_cache(maxsize=1)
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only (not musl)
        return libc
    except (OSError, AttributeError):
        return None


def tune_allocator() -> bool:
    """Serve big allocations by mmap so that freeing them returns memory at once (glibc)."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(MMAP_THRESHOLD_BYTES)))


def trim_heap() -> bool:
    """glibc ``malloc_trim(0)``: return free heap pages to the OS. No-op off Linux."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))
