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
# Freed Pillow image blocks kept for the next page's picture (each at most Pillow's 16 MB block size);
# emptied after every document and at every unload (release_image_blocks).
IMAGE_BLOCKS_KEPT = 4


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


def reuse_image_blocks() -> None:
    """Let Pillow keep up to ``IMAGE_BLOCKS_KEPT`` freed image blocks for the next picture (process-wide).

    Every page of a document is a new picture of the same size (8 MB for an A4 page at 144 dpi). Freed
    and allocated again, its memory is fresh each time (big blocks are served by mmap, see above), and
    on Linux each 4 KiB page of it is a page fault, 4–6 ms per A4 picture here; kept, the next page
    writes into memory that is already there (figure 7's findings)."""
    from PIL import Image

    if Image.core.get_blocks_max() < IMAGE_BLOCKS_KEPT:
        Image.core.set_blocks_max(IMAGE_BLOCKS_KEPT)


def release_image_blocks() -> None:
    """Give Pillow's kept image blocks back (after a document, and at an unload). No-op before Pillow is used."""
    image = sys.modules.get("PIL.Image")
    if image is not None:
        image.core.clear_cache()
