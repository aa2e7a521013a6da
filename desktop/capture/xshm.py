"""X11 screens grabbed through shared memory (MIT-SHM) without blocking: libxcb and libxcb-shm through ctypes.

Qt's ``QScreen.grabWindow`` waits on the GUI thread while the server writes every pixel into the X socket,
Qt reads them back and copies them once more (40–110 ms for three screens). Here the request is sent and
the GUI thread goes back to its events: the X server, a process of its own, copies the screen once into a
segment it shares with us (``ShmGetImage``) while we paint the screen it copied before, and the
``QImage`` is made over that segment — no copy on our side. The segment lives as long as the pictures
made over it (``Segment``; the ``QImage`` holds it) and goes back to the system with the last of them.

A ``Connection`` is our own, to a local display only (shared memory is a same-machine thing, and a local
server keeps every wait short); ``Connection.fileno()`` is watched by the caller (``QSocketNotifier``)
and ``poll`` takes what has arrived. Waits that block (the connection's set-up, ``wait``) stop at a
deadline with ``XcbError``. Anything this cannot do (no libxcb, no MIT-SHM, a pixel format other than
32-bit little-endian RGB) raises ``XcbError``; the caller grabs with Qt instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import sys
import time
import weakref
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_int16, c_uint, c_uint8, c_uint16, c_uint32, c_void_p
from dataclasses import dataclass

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage

DEFAULT_TIMEOUT = 3.0  # seconds for every answer of the X server
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0
MADV_POPULATE_READ = 22  # Linux 5.14+: map every page of a range now
Z_PIXMAP = 2
ALL_PLANES = 0xFFFFFFFF


class XcbError(Exception):
    """This display cannot be grabbed this way (one line: why)."""


class _Screen(Structure):
    _fields_ = [("root", c_uint32), ("default_colormap", c_uint32), ("white_pixel", c_uint32),
                ("black_pixel", c_uint32), ("current_input_masks", c_uint32), ("width_in_pixels", c_uint16),
                ("height_in_pixels", c_uint16), ("width_in_millimeters", c_uint16),
                ("height_in_millimeters", c_uint16), ("min_installed_maps", c_uint16),
                ("max_installed_maps", c_uint16), ("root_visual", c_uint32), ("backing_stores", c_uint8),
                ("save_unders", c_uint8), ("root_depth", c_uint8), ("allowed_depths_len", c_uint8)]


class _ScreenIterator(Structure):
    _fields_ = [("data", POINTER(_Screen)), ("rem", c_int), ("index", c_int)]


class _Depth(Structure):
    _fields_ = [("depth", c_uint8), ("pad0", c_uint8), ("visuals_len", c_uint16), ("pad1", c_uint8 * 4)]


class _DepthIterator(Structure):
    _fields_ = [("data", POINTER(_Depth)), ("rem", c_int), ("index", c_int)]


class _Visual(Structure):
    _fields_ = [("visual_id", c_uint32), ("_class", c_uint8), ("bits_per_rgb_value", c_uint8),
                ("colormap_entries", c_uint16), ("red_mask", c_uint32), ("green_mask", c_uint32),
                ("blue_mask", c_uint32), ("pad0", c_uint8 * 4)]


class _VisualIterator(Structure):
    _fields_ = [("data", POINTER(_Visual)), ("rem", c_int), ("index", c_int)]


class _Format(Structure):
    _fields_ = [("depth", c_uint8), ("bits_per_pixel", c_uint8), ("scanline_pad", c_uint8), ("pad0", c_uint8 * 5)]


class _Setup(Structure):  # the fixed part of xcb_setup_t
    _fields_ = [("status", c_uint8), ("pad0", c_uint8), ("protocol_major_version", c_uint16),
                ("protocol_minor_version", c_uint16), ("length", c_uint16), ("release_number", c_uint32),
                ("resource_id_base", c_uint32), ("resource_id_mask", c_uint32), ("motion_buffer_size", c_uint32),
                ("vendor_len", c_uint16), ("maximum_request_length", c_uint16), ("roots_len", c_uint8),
                ("pixmap_formats_len", c_uint8), ("image_byte_order", c_uint8), ("bitmap_format_bit_order", c_uint8),
                ("bitmap_format_scanline_unit", c_uint8), ("bitmap_format_scanline_pad", c_uint8),
                ("min_keycode", c_uint8), ("max_keycode", c_uint8), ("pad1", c_uint8 * 4)]


class _Cookie(Structure):
    _fields_ = [("sequence", c_uint)]


class _Error(Structure):
    _fields_ = [("response_type", c_uint8), ("error_code", c_uint8), ("sequence", c_uint16),
                ("resource_id", c_uint32), ("minor_code", c_uint16), ("major_code", c_uint8)]


class _ExtensionId(Structure):
    _fields_ = [("name", c_char_p), ("global_id", c_int)]


class _QueryExtensionReply(Structure):
    _fields_ = [("response_type", c_uint8), ("pad0", c_uint8), ("sequence", c_uint16), ("length", c_uint32),
                ("present", c_uint8), ("major_opcode", c_uint8), ("first_event", c_uint8), ("first_error", c_uint8)]


class _PointerReply(Structure):
    _fields_ = [("response_type", c_uint8), ("same_screen", c_uint8), ("sequence", c_uint16), ("length", c_uint32),
                ("root", c_uint32), ("child", c_uint32), ("root_x", c_int16), ("root_y", c_int16),
                ("win_x", c_int16), ("win_y", c_int16), ("mask", c_uint16)]


class _ShmImageReply(Structure):
    _fields_ = [("response_type", c_uint8), ("depth", c_uint8), ("sequence", c_uint16), ("length", c_uint32),
                ("visual", c_uint32), ("size", c_uint32)]


def _fn(lib, name: str, restype, *argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


class _Libs:
    """The few libxcb, libxcb-shm and libc functions used here, declared once."""

    def __init__(self) -> None:
        try:
            xcb = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")
            shm = ctypes.CDLL(ctypes.util.find_library("xcb-shm") or "libxcb-shm.so.0")
            libc = ctypes.CDLL(None)
        except OSError as e:
            raise XcbError(f"libxcb or libxcb-shm is missing ({e})") from e
        self.connect = _fn(xcb, "xcb_connect", c_void_p, c_char_p, POINTER(c_int))
        self.disconnect = _fn(xcb, "xcb_disconnect", None, c_void_p)
        self.has_error = _fn(xcb, "xcb_connection_has_error", c_int, c_void_p)
        self.get_setup = _fn(xcb, "xcb_get_setup", POINTER(_Setup), c_void_p)
        self.roots = _fn(xcb, "xcb_setup_roots_iterator", _ScreenIterator, POINTER(_Setup))
        self.screen_next = _fn(xcb, "xcb_screen_next", None, POINTER(_ScreenIterator))
        self.formats = _fn(xcb, "xcb_setup_pixmap_formats", POINTER(_Format), POINTER(_Setup))
        self.depths = _fn(xcb, "xcb_screen_allowed_depths_iterator", _DepthIterator, POINTER(_Screen))
        self.depth_next = _fn(xcb, "xcb_depth_next", None, POINTER(_DepthIterator))
        self.visuals = _fn(xcb, "xcb_depth_visuals_iterator", _VisualIterator, POINTER(_Depth))
        self.visual_next = _fn(xcb, "xcb_visualtype_next", None, POINTER(_VisualIterator))
        self.generate_id = _fn(xcb, "xcb_generate_id", c_uint32, c_void_p)
        self.flush = _fn(xcb, "xcb_flush", c_int, c_void_p)
        self.fd = _fn(xcb, "xcb_get_file_descriptor", c_int, c_void_p)
        self.poll_for_reply = _fn(xcb, "xcb_poll_for_reply", c_int, c_void_p, c_uint, POINTER(c_void_p),
                                  POINTER(c_void_p))
        self.extension_data = _fn(xcb, "xcb_get_extension_data", POINTER(_QueryExtensionReply), c_void_p,
                                  POINTER(_ExtensionId))
        self.shm_id = _ExtensionId.in_dll(shm, "xcb_shm_id")
        self.poll_for_event = _fn(xcb, "xcb_poll_for_event", c_void_p, c_void_p)
        self.query_pointer = _fn(xcb, "xcb_query_pointer", _Cookie, c_void_p, c_uint32)
        self.shm_attach = _fn(shm, "xcb_shm_attach", _Cookie, c_void_p, c_uint32, c_uint32, c_uint8)
        self.shm_detach = _fn(shm, "xcb_shm_detach", _Cookie, c_void_p, c_uint32)
        self.shm_get_image = _fn(shm, "xcb_shm_get_image", _Cookie, c_void_p, c_uint32, c_int16, c_int16, c_uint16,
                                 c_uint16, c_uint32, c_uint8, c_uint32, c_uint32)
        self.shmget = _fn(libc, "shmget", c_int, c_int, ctypes.c_size_t, c_int)
        self.shmat = _fn(libc, "shmat", c_void_p, c_int, c_void_p, c_int)
        self.shmdt = _fn(libc, "shmdt", c_int, c_void_p)
        self.shmctl = _fn(libc, "shmctl", c_int, c_int, c_int, c_void_p)
        self.free = _fn(libc, "free", None, c_void_p)
        self.madvise = _fn(libc, "madvise", c_int, c_void_p, ctypes.c_size_t, c_int)


_libs: _Libs | None = None


def _load() -> _Libs:
    global _libs
    if not sys.platform.startswith("linux"):
        raise XcbError("MIT-SHM grabs are for X11 on Linux")
    if _libs is None:
        _libs = _Libs()
    return _libs


@dataclass(frozen=True)
class Root:
    """One X screen: its number, root window and size in pixels."""

    number: int
    window: int
    width: int
    height: int


@dataclass(frozen=True)
class Pointer:
    """Where the pointer is: on which X screen, at which root (device) pixel."""

    screen: int
    x: int
    y: int


def is_local(display: str | None) -> bool:
    """``:0``, ``:1.0``, ``unix:0``: a server on this machine (shared memory can work, waits stay short)."""
    name = display if display is not None else os.environ.get("DISPLAY", "")
    return name.startswith(":") or name.startswith("unix:")


_live: weakref.WeakSet[Segment] = weakref.WeakSet()


def live_segments() -> int:
    """Shared-memory segments still mapped (tests: every picture's memory went back)."""
    return sum(1 for s in list(_live) if s.address is not None)


class Segment:
    """Shared memory the X server writes one grab into. Marked for removal at once, so it goes back to the
    system when both sides let go (``release``, or the last picture made over it), even after a crash."""

    def __init__(self, connection: Connection, size: int) -> None:
        x = connection._x
        self._x, self._connection, self.size = x, weakref.ref(connection), size
        self.address: int | None = None
        shmid = x.shmget(IPC_PRIVATE, size, IPC_CREAT | 0o600)
        if shmid < 0:
            raise XcbError(f"no shared memory segment of {size} bytes")
        address = x.shmat(shmid, None, 0)
        x.shmctl(shmid, IPC_RMID, None)  # Linux lets the server attach it still; it goes when both detach
        if address is None or address == ctypes.c_void_p(-1).value:
            raise XcbError("the shared memory segment could not be mapped")
        self.address = address
        self.id = x.generate_id(connection._c)
        x.shm_attach(connection._c, self.id, shmid, 0)  # a refusal shows as the grab's error
        _live.add(self)

    def image(self, width: int, height: int) -> QImage:
        """The picture over this memory (Format_RGB32: the server's fourth byte is not an alpha, which
        Qt ignores in this format); it keeps the segment as long as it, or any copy sharing it, lives."""
        if self.address is None or width * height * 4 > self.size:
            raise XcbError("the grab's memory is gone")
        buffer = (ctypes.c_char * (width * height * 4)).from_address(self.address)
        buffer._segment = self  # type: ignore[attr-defined]  # PySide keeps ``buffer`` with the image
        return QImage(buffer, width, height, width * 4, QImage.Format.Format_RGB32)

    def populate(self) -> bool:
        """(any thread: ctypes lets go of the GIL) Map every page of the segment into this process now, so
        that painting the picture later costs no page fault per 4 KiB (about 3,600 for a 2560×1440 screen,
        microseconds each in a virtual machine). Safe while the X server writes: it only maps pages. False
        where the kernel cannot (before Linux 5.14) or the segment is gone."""
        address = self.address
        return address is not None and self._x.madvise(address, self.size, MADV_POPULATE_READ) == 0

    def release(self) -> None:
        if self.address is None:
            return
        connection = self._connection()
        try:
            if connection is not None and connection._c is not None:
                self._x.shm_detach(connection._c, self.id)
                self._x.flush(connection._c)
            self._x.shmdt(self.address)
        finally:
            self.address = None

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # interpreter shutdown: the process going takes the mapping with it
            pass


@dataclass
class Pending:
    """A grab sent to the server: ``poll`` it; its picture is ``segment.image(width, height)``."""

    sequence: int
    segment: Segment
    width: int
    height: int

    def image(self) -> QImage:
        return self.segment.image(self.width, self.height)


class Connection:
    """Our own connection to a local X server. GUI-thread use: send, then ``poll`` when ``fileno()`` is
    readable. ``close()`` it (the segments of pictures still alive stay mapped until those go)."""

    def __init__(self, display: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._x = _load()
        self.timeout = timeout
        self._c: int | None = None
        self._pointer_sequences: dict[int, bool] = {}
        if not is_local(display):
            raise XcbError("not a local display: shared memory cannot reach it")
        number = c_int(0)
        name = os.fsencode(display) if display else None
        c = self._x.connect(name, byref(number))
        if not c or self._x.has_error(c):
            if c:
                self._x.disconnect(c)
            raise XcbError(f"no connection to the X server {display or os.environ.get('DISPLAY', '')}".strip())
        self._c = c
        self.default_screen = number.value
        try:
            self.roots = self._screens()
            self._require_shm()
        except BaseException:
            self.close()
            raise

    @property
    def is_open(self) -> bool:
        return self._c is not None and not self._x.has_error(self._c)

    def fileno(self) -> int:
        return self._x.fd(self._c)

    # ------------------------------------------------------------------ the display
    def _screens(self) -> list[Root]:
        x, setup = self._x, self._x.get_setup(self._c)
        if setup.contents.image_byte_order != 0:  # MSBFirst: not the byte order of Format_RGB32 here
            raise XcbError("the X server's images are big-endian")
        formats = x.formats(setup)
        bpp = {formats[i].depth: formats[i].bits_per_pixel for i in range(setup.contents.pixmap_formats_len)}
        roots = []
        it = x.roots(setup)
        number = 0
        while it.rem:
            screen = it.data.contents
            if screen.root_depth not in (24, 32) or bpp.get(screen.root_depth) != 32:
                raise XcbError(f"X screen {number} has {screen.root_depth}-bit pixels")
            if self._visual_masks(it.data, screen.root_visual) != (0xFF0000, 0xFF00, 0xFF):
                raise XcbError(f"X screen {number} is not RGB")
            roots.append(Root(number, screen.root, screen.width_in_pixels, screen.height_in_pixels))
            x.screen_next(byref(it))
            number += 1
        if not roots:
            raise XcbError("the X server lists no screen")
        return roots

    def _visual_masks(self, screen, visual_id: int) -> tuple[int, int, int] | None:
        x = self._x
        depths = x.depths(screen)
        while depths.rem:
            visuals = x.visuals(depths.data)
            while visuals.rem:
                v = visuals.data.contents
                if v.visual_id == visual_id:
                    return v.red_mask, v.green_mask, v.blue_mask
                x.visual_next(byref(visuals))
            x.depth_next(byref(depths))
        return None

    def _require_shm(self) -> None:
        # libxcb asks the server once and keeps the answer (its shm requests need it): a short, local wait
        data = self._x.extension_data(self._c, byref(self._x.shm_id))
        if not data or not data.contents.present or self._x.has_error(self._c):
            raise XcbError("the X server has no MIT-SHM")

    # ------------------------------------------------------------------ requests and answers
    def send_pointer(self) -> int:
        """Ask where the pointer is (``poll(sequence, "pointer")``)."""
        root = next((r for r in self.roots if r.number == self.default_screen), self.roots[0])
        sequence = self._x.query_pointer(self._c, root.window).sequence
        self._pointer_sequences[sequence] = True
        self._x.flush(self._c)
        return sequence

    def send_grab(self, root: Root, rect: QRect) -> Pending:
        """Ask the server to copy ``rect`` of ``root`` (device pixels) into a segment of its own."""
        if not QRect(0, 0, root.width, root.height).contains(rect) or rect.isEmpty():
            raise XcbError(f"{rect.getRect()} is not inside X screen {root.number}")
        w, h = rect.width(), rect.height()
        segment = Segment(self, w * h * 4)
        cookie = self._x.shm_get_image(self._c, root.window, rect.x(), rect.y(), w, h, ALL_PLANES, Z_PIXMAP,
                                       segment.id, 0)
        self._x.flush(self._c)
        return Pending(cookie.sequence, segment, w, h)

    def poll(self, sequence: int):
        """The answer to request ``sequence`` if it is here (a ``Pointer`` for ``send_pointer``, True for a
        grab), else None. ``XcbError`` when the server refused or the connection broke."""
        x, c = self._x, self._c
        if c is None:
            raise XcbError("the connection to the X server is closed")
        reply, error = c_void_p(), c_void_p()
        if not x.poll_for_reply(c, sequence, byref(reply), byref(error)):
            if x.has_error(c):
                raise XcbError("the connection to the X server broke")
            return None
        try:
            if error.value:
                code = ctypes.cast(error, POINTER(_Error)).contents.error_code
                raise XcbError(f"the X server refused (error {code})")
            if not reply.value:
                raise XcbError("the connection to the X server broke")
            if ctypes.cast(reply, POINTER(_ShmImageReply)).contents.response_type != 1:
                raise XcbError("the X server answered something else")
            if self._pointer_sequences.pop(sequence, None) is not None:
                p = ctypes.cast(reply, POINTER(_PointerReply)).contents
                screen = next((r.number for r in self.roots if r.window == p.root), None)
                return Pointer(screen, p.root_x, p.root_y) if screen is not None else Pointer(-1, 0, 0)
            return True
        finally:
            x.free(reply)
            x.free(error)

    def wait(self, sequence: int, timeout: float | None = None):
        """``poll`` until the answer is here, at most ``timeout`` (blocking: for tests and one-off use)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            got = self.poll(sequence)
            if got is not None:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise XcbError(f"the X server did not answer within {self.timeout:g} s")
            select.select([self.fileno()], [], [], left)

    def drain_events(self) -> None:
        """Drop events and errors of requests without answers (a refused attach shows in the grab anyway)."""
        x, c = self._x, self._c
        while c is not None:
            event = x.poll_for_event(c)
            if not event:
                return
            x.free(event)

    def grab(self, root: Root, rect: QRect) -> QImage:
        """``rect`` of ``root`` now (blocking, bounded): a picture over its own segment."""
        pending = self.send_grab(root, rect)
        self.wait(pending.sequence)
        return pending.image()

    def pointer(self) -> Pointer:
        return self.wait(self.send_pointer())

    def close(self) -> None:
        if self._c is None:
            return
        self._x.disconnect(self._c)
        self._c = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
