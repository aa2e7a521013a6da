"""Read ``.safetensors`` weights into MLX arrays in small, preemptible steps (Linux).

``mx.load`` reads a weights file with four threads, each ``pread``-ing 4 MiB straight
into freshly allocated memory. On Linux every one of those reads also takes the page
faults that clear the destination pages, inside one long system call. A kernel built
without full preemption (the default of most server and VM kernels) does not switch
threads until the call returns, so two cores busy with such reads left the GUI thread
runnable but unscheduled for 50–180 ms at a time (``docs/benchmarks.md``, figure 4).

This reader does the same work in another order: it allocates and zero-fills each
tensor's buffer first (page faults taken one at a time from user space, where the
scheduler can switch at any moment), then reads the bytes into it with ``preadv`` in
1 MiB steps (the GIL is released during each). The arrays it returns are evaluated and
byte-identical to ``mx.load``'s; loading is single-threaded, and the GUI keeps its
heartbeat (docs/adr/0010-own-safetensors-reader-on-linux.md).

Anything unusual (a dtype MLX has no name for, a header that is not plain safetensors)
goes to the original loader, so behaviour and error messages stay mlx-vlm's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import sys
from collections.abc import Callable, Iterator

STEP_BYTES = 1 << 20
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
        plan = []
        for name, info in header.items():
            if name == "__metadata__":
                continue
            try:
                dtype = getattr(mx, DTYPES[info["dtype"]])
                start, end = (int(x) for x in info["data_offsets"])
                shape = [int(d) for d in info["shape"]]
            except (KeyError, TypeError, ValueError):
                raise NotPlain(f"tensor {name!r}: unsupported or malformed entry") from None
            if not 0 <= start <= end or base + end > size:
                raise ValueError(f"{os.path.basename(path)} is truncated or damaged: tensor {name} lies past its end")
            plan.append((name, dtype, shape, start, end))
        out = {}
        fd = f.fileno()
        for name, dtype, shape, start, end in plan:
            out[name] = _read_tensor(mx, fd, base + start, end - start, dtype, shape, path)
    return out


def _read_tensor(mx, fd: int, offset: int, nbytes: int, dtype, shape, path: str):
    buf = mx.zeros((nbytes,), dtype=mx.uint8)
    mx.eval(buf)  # allocate and fault the pages in from user space
    if nbytes:
        view = memoryview(buf)
        try:
            done = 0
            while done < nbytes:
                got = os.preadv(fd, [view[done:done + STEP_BYTES]], offset + done)
                if got <= 0:
                    raise ValueError(f"{os.path.basename(path)} is truncated: it ends inside a tensor")
                done += got
        finally:
            view.release()
    arr = buf.view(dtype).reshape(shape)
    mx.eval(arr)
    return arr


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
