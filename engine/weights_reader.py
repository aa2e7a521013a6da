"""Read ``.safetensors`` weights into MLX arrays in small, preemptible steps (Linux).

``mx.load`` reads a weights file with four threads, each ``pread``-ing 4 MiB straight
into freshly allocated memory. On Linux every one of those reads also takes the page
faults that clear the destination pages, inside one long system call. A kernel built
without full preemption (the default of most server and VM kernels) does not switch
threads until the call returns, so two cores busy with such reads left the GUI thread
runnable but unscheduled for 50–180 ms at a time (``docs/benchmarks.md``, figure 4).

This reader lets MLX parse the file and allocate every array as ``mx.load`` does, but hands
it a file object (``StepFile``) whose ``readinto`` does the reading: ``pread`` in 1 MiB
steps, a big tensor split between the calling thread and one helper thread (two cores, and
no more than two reads in flight). The steps run in ``engine._stepread``, a small C module
that releases the GIL once for a whole range; where it was not built (no C compiler), the
same steps run in Python, the GIL released during each system call but taken back between
them, which beside a thread that holds the GIL for long (PyMuPDF preparing the first page
while the model loads) makes every step wait. The helper only reads into memory MLX already
allocated; it makes no MLX call. The arrays are MLX's own (``mx.load``
with a file object evaluates at once), and the GUI keeps its heartbeat
(docs/adr/0010-own-safetensors-reader-on-linux.md).

Anything unusual (a dtype MLX has no name for, a header that is not plain safetensors)
goes to the original loader, so behaviour and error messages stay mlx-vlm's own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

STEP_BYTES = 1 << 20
SPLIT_BYTES = 4 * STEP_BYTES  # a read at least this big is shared with the helper thread
STEP_WAIT_S = 600.0  # the longest wait for the helper's half of one tensor (a local file)
MAX_HEADER_BYTES = 100 << 20  # the safetensors format's own limit

# safetensors dtype → mlx.core attribute
DTYPES = {
    "BOOL": "bool_",
    "U8": "uint8",
    "I8": "int8",
    "U16": "uint16",
    "I16": "int16",
    "U32": "uint32",
    "I32": "int32",
    "U64": "uint64",
    "I64": "int64",
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
}


class NotPlain(Exception):
    """The file is not one this reader handles; the original loader takes it."""


def wanted() -> bool:
    """Where this reader replaces ``mx.load``: Linux (see the module text). macOS keeps MLX's
    own loader, which fills unified memory for Metal and has no such kernel stretch."""
    return sys.platform.startswith("linux")


def read_header(f) -> tuple[dict, int]:
    """The header dict and the offset where the data starts. Raises NotPlain when odd."""
    raw = f.read(8)
    if len(raw) != 8:
        raise NotPlain("shorter than a safetensors header")
    (n,) = struct.unpack("<Q", raw)
    if not 2 <= n <= MAX_HEADER_BYTES:
        raise NotPlain("header size out of range")
    try:
        header = json.loads(f.read(n))
    except (UnicodeDecodeError, ValueError) as e:
        raise NotPlain(f"header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise NotPlain("header is not an object")
    return header, 8 + n


def load(path: str) -> dict:
    """``{name: mx.array}`` for every tensor in ``path``, evaluated, as ``mx.load`` would give.

    Raises NotPlain (before allocating anything) when the file needs the original loader,
    and OSError/ValueError when the file is shorter than its header says.
    """
    import mlx.core as mx

    with open(path, "rb") as f:
        header, base = read_header(f)
        size = os.fstat(f.fileno()).st_size
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            known = info["dtype"] in DTYPES
            start, end = (int(x) for x in info["data_offsets"])
            shaped = all(int(d) >= 0 for d in info["shape"])
        except (KeyError, TypeError, ValueError):
            known = shaped = False
        if not (known and shaped):
            raise NotPlain(f"tensor {name!r}: unsupported or malformed entry")
        if not 0 <= start <= end or base + end > size:
            raise ValueError(f"{os.path.basename(path)} is truncated or damaged: tensor {name} lies past its end")
    with StepFile(path) as stepped:
        loaded = mx.load(cast(BinaryIO, stepped), format="safetensors")
    if not isinstance(loaded, dict):  # a safetensors file always gives a dict
        raise NotPlain("mx.load did not return tensors by name")
    return loaded


MADV_POPULATE_WRITE = 23  # Linux 5.14+: fault a range in writable, without touching its bytes
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_state: dict[str, object] = {}  # "madvise", "off" (the kernel refused it), "native" (engine._stepread or None)


def _populate(address: int, n: int) -> None:
    """Fault in the destination pages of the next read in one ``madvise``: the kernel zeroes them in a batch,
    which costs less than taking each fault inside the copy of ``preadv`` (ADR 0010, 2026-12-02 amendment:
    1 MiB steps with this 0.31-0.36 s for the bench model, as fast as ``mx.load``; without it 0.41-0.43 s).
    A kernel without it (EINVAL) is asked once; the read then takes the faults itself."""
    if _state.get("off"):
        return
    madvise = _state.get("madvise")
    if madvise is None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
        _state["madvise"] = madvise
    start = address - address % PAGE_BYTES  # a whole page: the range may share its first page with another array
    if madvise(start, address + n - start, MADV_POPULATE_WRITE) != 0:  # type: ignore[operator]
        _state["off"] = True  # old kernel (EINVAL) or an odd mapping: plain reads from here on


def _address(view: memoryview) -> int | None:
    """Where ``view``'s bytes start (a writable buffer MLX allocated), or None."""
    import ctypes

    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(view))
    except (TypeError, ValueError):
        return None


def _native() -> object | None:
    """``engine._stepread`` when it was built (Linux, a C compiler at install time), else None."""
    if "native" not in _state:
        try:
            from . import _stepread  # type: ignore[attr-defined]
        except ImportError:
            _stepread = None
        _state["native"] = _stepread
    return _state["native"]


def _fill(fd: int, view: memoryview, offset: int, path: str) -> int:
    """Read ``len(view)`` bytes at ``offset`` into ``view`` in STEP_BYTES system calls, each step's pages
    faulted in just before its read (``_populate``): in C without the GIL when ``engine._stepread`` is
    there, else in Python."""
    native = _native()
    if native is not None:
        got, populating = native.fill(fd, view, offset, STEP_BYTES, not _state.get("off"))  # type: ignore[attr-defined]
        if not populating:
            _state["off"] = True  # as _populate: old kernel or odd mapping, plain reads from here on
        if got < len(view):
            raise ValueError(f"{os.path.basename(path)} is truncated: it ends inside a tensor")
        return got
    return _fill_in_python(fd, view, offset, path)


def _fill_in_python(fd: int, view: memoryview, offset: int, path: str) -> int:
    """``_fill``'s steps in Python (no ``engine._stepread``)."""
    done, n = 0, len(view)
    base = _address(view) if n >= STEP_BYTES else None
    while done < n:
        step = view[done:done + STEP_BYTES]
        if base is not None:
            _populate(base + done, len(step))
        got = os.preadv(fd, [step], offset + done)
        step.release()
        if got <= 0:
            raise ValueError(f"{os.path.basename(path)} is truncated: it ends inside a tensor")
        done += got
    return done


class StepFile(io.RawIOBase):
    """A read-only file whose ``readinto`` reads in 1 MiB steps, a big read split in two halves:
    one read by the caller, the other by a helper thread that makes no MLX call. Closing it
    stops the helper."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._size = os.fstat(self._fd).st_size
        self._pos = 0
        self._todo: queue.Queue = queue.Queue()
        self._done: queue.Queue = queue.Queue()
        self._helper = threading.Thread(target=self._work, name="ocr-tray-weights-reader", daemon=True)
        self._helper.start()

    def _work(self) -> None:
        while (item := self._todo.get()) is not None:
            view, offset = item
            try:
                self._done.put(_fill(self._fd, view, offset, self.path))
            except BaseException as e:  # handed to the caller, which raises it
                self._done.put(e)
            finally:
                view.release()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            n = min(len(view), max(0, self._size - self._pos))
            if n >= SPLIT_BYTES:
                half = (n // 2 // STEP_BYTES) * STEP_BYTES
                self._todo.put((view[half:n], self._pos + half))
                try:
                    got = _fill(self._fd, view[:half], self._pos, self.path)
                finally:  # MLX frees the buffer when this returns or raises: the helper must be done with it
                    try:
                        theirs = self._done.get(timeout=STEP_WAIT_S)
                    except queue.Empty:
                        raise OSError(
                            f"reading {os.path.basename(self.path)} took longer than {STEP_WAIT_S:.0f} s"
                        ) from None
                if isinstance(theirs, BaseException):
                    raise theirs
                got += theirs
            else:
                got = _fill(self._fd, view[:n], self._pos, self.path) if n else 0
        finally:
            view.release()
        self._pos += got
        return got

    def close(self) -> None:
        if not self.closed:
            self._todo.put(None)
            self._helper.join(timeout=STEP_WAIT_S)
            os.close(self._fd)
        super().close()


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """While active, mlx-vlm reads weights with this reader (on Linux; elsewhere a no-op).

    mlx-vlm 0.7.10 reads every weights file through ``mlx_vlm.utils._load_safetensors``;
    the pin in pyproject.toml and ``tests/engine/test_weights_reader.py`` keep that true.
    """
    if not wanted():
        yield
        return
    import mlx_vlm.utils as vlm_utils

    original: Callable[[str], dict] = vlm_utils._load_safetensors

    def _load(path: str) -> dict:
        try:
            return load(path)
        except NotPlain:
            return original(path)

    setattr(vlm_utils, "_load_safetensors", _load)  # noqa: B010 (a private function of a pinned mlx-vlm)
    try:
        yield
    finally:
        setattr(vlm_utils, "_load_safetensors", original)  # noqa: B010
