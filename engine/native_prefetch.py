"""Read the native libraries that importing mlx-vlm maps into the page cache first.

Importing an extension module (``dlopen`` plus its init function) holds the GIL, and the
library's pages are read from disk on first touch, inside that call. When the files are
not in the page cache (after a reboot, or on a machine that reclaims cache quickly, as the
benchmark machines do), importing mlx_vlm on the engine thread held the GIL for 70–80 ms
at a time while numpy's, MLX's and the tokenizers' libraries came off the disk, and the
GUI thread could not run (docs/benchmarks.md, figure 4).

``warm()`` reads those files beforehand with plain ``os.readv`` calls in 1 MiB steps,
which release the GIL, so the disk wait happens where other threads can run and the
import then finds every page in memory. Reading a file that is already cached costs a
copy (about 30 ms for all of them), and a file that is missing is skipped.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

STEP_BYTES = 1 << 20

# Top-level packages with native code that ``import mlx_vlm`` loads (mlx-vlm 0.7.10, pinned).
# tests/engine/test_native_prefetch.py imports mlx_vlm in a fresh process and checks that
# these cover the native libraries it maps, so an upgrade that adds one cannot go unseen.
PACKAGES = (
    "mlx", "numpy", "tokenizers", "PIL", "sentencepiece", "safetensors", "regex", "yaml",
    "charset_normalizer", "markupsafe",
)
# auditwheel puts a wheel's bundled libraries beside the package, in "<distribution>.libs"
LIBS_DIRS = ("mlx_cpu.libs", "mlx.libs", "numpy.libs", "pillow.libs", "sentencepiece.libs")


def _is_native(path: Path) -> bool:
    return path.suffix == ".so" or ".so." in path.name or path.suffix in (".dylib", ".pyd")


def files(packages=PACKAGES, libs_dirs=LIBS_DIRS) -> list[Path]:
    """The native library files of ``packages`` and their bundled-library folders.

    Found without importing anything (``importlib.util.find_spec`` on a top-level name
    only looks the package up)."""
    roots: list[Path] = []
    for name in packages:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        for location in spec.submodule_search_locations or []:
            roots.append(Path(location))
        if spec.origin and not spec.submodule_search_locations and _is_native(Path(spec.origin)):
            roots.append(Path(spec.origin))  # a single-file extension module
    sites = {r.parent for r in roots}
    for site in sites:
        roots.extend(site / d for d in libs_dirs if (site / d).is_dir())
    out: list[Path] = []
    seen: set[Path] = set()
    for root in roots:
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and _is_native(p))
        for p in candidates:
            if p not in seen:
                seen.add(p)
                out.append(p)
    return out


def warm(paths=None) -> int:
    """Read ``paths`` (default: ``files()``) through once, GIL released per step. Returns the
    bytes read. Never raises for a file it cannot read."""
    if paths is None:
        paths = files()
    buf = bytearray(STEP_BYTES)
    view = memoryview(buf)
    total = 0
    for p in paths:
        try:
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            while True:
                n = os.readv(fd, [view])
                if n <= 0:
                    break
                total += n
        except OSError:
            pass
        finally:
            os.close(fd)
    return total

