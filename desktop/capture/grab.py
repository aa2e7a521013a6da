"""Grabbing the screens for the overlay without waiting on the GUI thread, the screen under the pointer first.

``ScreenGrabber(screens).start()`` hands each screen's frozen picture over as it arrives
(``grabbed(index, QImage, windows)``), so the overlay on the screen the person looks at is painted while
the X server is still copying the others.

- X11 on this machine (``xshm``, MIT-SHM): our own connection, kept between captures. One request asks
  where the pointer is; its answer sends one ``ShmGetImage`` per screen, that screen first. The X server —
  a process of its own, on the other core — copies each screen into a shared segment while the GUI
  thread paints the one before; ``QSocketNotifier`` says when an answer is there, and the picture is a
  ``QImage`` over the segment: no copy, no conversion on our side (a pool thread maps the segments'
  pages while the server writes them, so the first paint takes no page fault per 4 KiB). The window
  list of "Capture Window Text" is read on a pool thread before the first request, so none of our
  overlays can be in it.
- Anything else (offscreen, a remote display, a server without MIT-SHM or with another pixel format):
  ``QScreen.grabWindow`` on the GUI thread, at once, in the same order. Shared memory that fails midway
  (an error, no answer within ``WAIT_MS``) hands the screens still missing to Qt; after a refusal (not a
  slow answer) Qt grabs on this display from then on.

Qt's screens and the X screens: Qt makes one virtual desktop per X screen, the one of ``$DISPLAY``'s screen
first, then the others in order; a screen's rectangle in its X screen keeps Qt's position (Qt keeps
positions native) and its size times the device-pixel ratio (Qt rounds ``native / ratio``; of the
lengths that give the logical one, the one reaching the root's edge, else the roundest). A mismatch is a
fallback to Qt.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, QPoint, QRect, QSize, QSocketNotifier, QTimer, Signal
from PySide6.QtGui import QCursor, QGuiApplication, QImage, QScreen

from engine.background import run_in_background

from . import xshm

log = logging.getLogger(__name__)

WAIT_MS = 3000  # every screen's picture within this, or Qt grabs the rest


@dataclass(frozen=True)
class ScreenSpec:
    """One Qt screen as the X side needs it."""

    index: int  # in the list given to the grabber
    desktop: int  # Qt's virtual desktop (one per X screen), numbered in the order Qt lists them
    desktops: int  # how many virtual desktops Qt has
    logical: QRect  # Qt's geometry: the position is native, the size logical
    ratio: float  # device pixels per logical pixel

    def native(self, root_size: QSize) -> QRect:
        """Where this screen is in its X screen's root, in device pixels."""
        return QRect(self.logical.topLeft(), QSize(_native(self.logical.width(), self.ratio,
                                                           root_size.width() - self.logical.x()),
                                                   _native(self.logical.height(), self.ratio,
                                                           root_size.height() - self.logical.y())))


def _native(logical: int, ratio: float, to_edge: int) -> int:
    """The native length Qt shows as ``logical`` (``round(native / ratio)``). When several fit (a fractional
    ratio): the one that reaches the root's edge (a single screen, the last one in a row), else the roundest
    (screens are 1280 or 1024 wide, not 1279 or 1025)."""
    candidates = [n for n in range(math.floor(logical * ratio) - 1, math.ceil(logical * ratio) + 2)
                  if n > 0 and _qround(n / ratio) == logical]
    if to_edge in candidates:
        return to_edge
    if not candidates:
        return _qround(logical * ratio)
    return min(candidates, key=lambda n: (-((n & -n).bit_length()), abs(n - logical * ratio)))


def _qround(value: float) -> int:
    return math.floor(value + 0.5)  # Qt's qRound (Python's round goes to even)


def specs(screens: Sequence[QScreen], everyone: Sequence[QScreen] | None = None) -> list[ScreenSpec]:
    """``screens`` with their virtual desktops, numbered over ``everyone`` (all of Qt's screens)."""
    desktops: list[list[QScreen]] = []
    for screen in QGuiApplication.screens() if everyone is None else everyone:
        if not any(screen is m for d in desktops for m in d):
            desktops.append([screen, *screen.virtualSiblings()])

    def desktop(screen: QScreen) -> int:
        return next((i for i, d in enumerate(desktops) if any(screen is m for m in d)), -1)

    return [ScreenSpec(i, desktop(s), len(desktops), s.geometry(), s.devicePixelRatio()) for i, s in enumerate(screens)]


def x_screen_numbers(targets: Sequence[ScreenSpec], default: int, count: int) -> list[int] | None:
    """The X screen of each target's virtual desktop: the default X screen's first, then the others in order
    (None: Qt's desktops and the X screens do not pair up)."""
    if not targets or any(t.desktops != count or not 0 <= t.desktop < count for t in targets) \
            or not 0 <= default < count:
        return None
    order = [default] + [n for n in range(count) if n != default]
    return [order[t.desktop] for t in targets]


# ------------------------------------------------------------------ on the GUI thread
_connections: dict[str, xshm.Connection] = {}
_no_shm: set[str] = set()  # displays where shared memory did not work: Qt grabs there


def _shared_memory_possible(display: str) -> bool:
    return QGuiApplication.platformName().lower() == "xcb" and display not in _no_shm and xshm.is_local(display)


def _connection(display: str) -> xshm.Connection:
    """Our connection to ``display``, made at the first capture and kept (a socket) until ``close_all``."""
    connection = _connections.get(display)
    if connection is None or not connection.is_open:
        connection = _connections[display] = xshm.Connection(display or None)
    return connection


def close_all() -> None:
    """At quit: our X connections go (pictures still alive keep their memory until they go)."""
    while _connections:
        _connections.popitem()[1].close()


class ScreenGrabber(QObject):
    """Grabs ``screens`` once; ``grabbed(index, image, windows)`` per screen, then ``finished()``.

    ``windows``: the top-level windows on that screen (window mode), screen-local logical, topmost first.
    ``failed(str)`` when not one screen could be grabbed. ``stop()`` drops what is still coming.
    """

    grabbed = Signal(int, QImage, list)
    finished = Signal()
    failed = Signal(str)

    def __init__(self, screens: Sequence[QScreen], list_windows: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.screens = list(screens)
        self.list_windows = list_windows
        self.delivered: set[int] = set()
        self.shared_memory = False  # the X server is copying the screens into shared memory (tests, benchmarks)
        self._over = False
        self._connection: xshm.Connection | None = None
        self._notifier: QSocketNotifier | None = None
        self._timer: QTimer | None = None
        self._windows: dict[int, list[QRect]] = {}  # by screen index, screen-local logical
        self._lists: dict[int, list[QRect]] = {}  # by X screen number, root pixels
        self._pointer: int | None = None  # the pointer query's sequence
        self._pending: list[tuple[ScreenSpec, xshm.Pending, QRect]] = []

    def start(self) -> None:
        display = os.environ.get("DISPLAY", "")
        if _shared_memory_possible(display) and self.screens:
            try:
                self._connection = _connection(display)
            except xshm.XcbError as e:
                log.info("screens grabbed with Qt: %s", e)
                _no_shm.add(display)
        if self._connection is None:
            self._grab_with_qt()
            return
        self.shared_memory = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._fall_back("the X server did not answer in time", remember=False))
        self._timer.start(WAIT_MS)
        if self.list_windows:  # listed before any overlay can be in the list; a pool thread, not this one
            run_in_background(lambda: _window_lists(display or None), self._listed)
        else:
            self._ask_pointer()

    def stop(self) -> None:
        self._finish()

    # ------------------------------------------------------------------ shared memory
    def _listed(self, lists, _error) -> None:
        self._lists = lists or {}
        if not self._over:
            self._ask_pointer()

    def _ask_pointer(self) -> None:
        try:
            connection = self._connection
            assert connection is not None
            self._notifier = QSocketNotifier(connection.fileno(), QSocketNotifier.Type.Read, self)
            self._notifier.activated.connect(self._readable)
            self._pointer = connection.send_pointer()
        except xshm.XcbError as e:
            self._fall_back(str(e))
            return
        self._readable()

    def _send_grabs(self, pointer: xshm.Pointer) -> None:
        connection = self._connection
        assert connection is not None
        targets = specs(self.screens)
        numbers = x_screen_numbers(targets, connection.default_screen, len(connection.roots))
        if numbers is None:
            raise xshm.XcbError(f"Qt's {targets[0].desktops} desktops are not the {len(connection.roots)} X screens")
        roots = {r.number: r for r in connection.roots}
        plan = []
        for target, number in zip(targets, numbers):
            root = roots[number]
            plan.append((target, root, target.native(QSize(root.width, root.height))))
        at = QPoint(pointer.x, pointer.y)
        plan.sort(key=lambda p: not (p[1].number == pointer.screen and p[2].contains(at)))
        for target, root, native in plan:  # the server copies them in this order, while we paint
            self._pending.append((target, connection.send_grab(root, native), native))
            scale = native.width() / max(1, target.logical.width())
            self._windows[target.index] = on_screen(self._lists.get(root.number, []), native, scale)
        segments = [pending.segment for _target, pending, _native in self._pending]
        run_in_background(lambda: [s.populate() for s in segments], lambda _done, _error: None)

    def _readable(self, *_args) -> None:
        """Take every answer that has arrived (some may wait in libxcb's buffer: poll until one is missing)."""
        connection = self._connection
        if self._over or connection is None:
            return
        try:
            connection.drain_events()
            if self._pointer is not None:
                pointer = connection.poll(self._pointer)
                if pointer is None:
                    return
                self._pointer = None
                self._send_grabs(pointer)
            while self._pending:
                target, pending, _native = self._pending[0]
                if connection.poll(pending.sequence) is None:
                    return
                self._pending.pop(0)
                image = pending.image()
                self.delivered.add(target.index)
                self.grabbed.emit(target.index, image, self._windows.get(target.index, []))
                if self._over:
                    return
        except xshm.XcbError as e:
            self._fall_back(str(e))
            return
        self._finish()

    def _fall_back(self, why: str, remember: bool = True) -> None:
        """Shared memory failed here: Qt grabs the screens not delivered yet (and, when it was refused rather
        than slow, every later capture on this display)."""
        if self._over:
            return
        log.info("screens grabbed with Qt: %s", why)
        if remember:
            _no_shm.add(os.environ.get("DISPLAY", ""))
        self._drop_shared()
        self._grab_with_qt([i for i in range(len(self.screens)) if i not in self.delivered], why)

    def _drop_shared(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        self._pending.clear()  # their segments go with them
        self._pointer = None

    # ------------------------------------------------------------------ Qt's grab
    def _grab_with_qt(self, indexes: Sequence[int] | None = None, why: str = "") -> None:
        """``QScreen.grabWindow`` on this (GUI) thread, the screen under the pointer first."""
        indexes = list(range(len(self.screens))) if indexes is None else list(indexes)
        under = QGuiApplication.screenAt(QCursor.pos())
        indexes.sort(key=lambda i: self.screens[i] is not under)
        windows = self._windows or (self._qt_window_lists() if self.list_windows else {})
        for i in indexes:
            if self._over:
                return
            screen = self.screens[i]
            image = screen.grabWindow(0).toImage()
            if image.isNull():
                log.warning("screen %s could not be grabbed", screen.name())
                continue
            image.setDevicePixelRatio(1.0)
            self.delivered.add(i)
            self.grabbed.emit(i, image, windows.get(i, []))
        if not self.delivered and not self._over:
            self.failed.emit(why or "no screen could be grabbed")
        self._finish()

    def _qt_window_lists(self) -> dict[int, list[QRect]]:
        targets = specs(self.screens)
        try:
            from Xlib.display import Display

            display = Display()
            try:
                default, count = display.get_default_screen(), display.screen_count()
            finally:
                display.close()
            numbers = x_screen_numbers(targets, default, count) or [default] * len(targets)
            lists = _window_lists(None)
        except Exception as e:  # no python-xlib, no X server: region only
            log.info("no window list (%s)", type(e).__name__)
            return {}
        out = {}
        for target, number in zip(targets, numbers):
            native = QRect(target.logical.topLeft(), QSize(round(target.logical.width() * target.ratio),
                                                           round(target.logical.height() * target.ratio)))
            out[target.index] = on_screen(lists.get(number, []), native, target.ratio)
        return out

    def _finish(self) -> None:
        if self._over:
            return
        self._over = True
        if self._timer is not None:
            self._timer.stop()
        self._drop_shared()
        self.finished.emit()


def on_screen(rects: Sequence[QRect], native: QRect, scale: float) -> list[QRect]:
    """The parts of ``rects`` (root pixels) on the screen at ``native`` (root pixels), in its logical pixels
    with (0, 0) at its top-left; a window that is the whole screen (the desktop) is left out."""
    out = []
    for r in rects:
        part = r.intersected(native)
        if part.isEmpty() or r == native:
            continue
        local = part.translated(-native.topLeft())
        out.append(QRect(round(local.x() / scale), round(local.y() / scale),
                         round(local.width() / scale), round(local.height() / scale)))
    return out


def _window_lists(display: str | None) -> dict[int, list[QRect]]:
    """(any thread) Every X screen's top-level windows ({} without python-xlib or an X server)."""
    try:
        from .windows_x11 import window_lists

        return window_lists(display)
    except Exception as e:
        log.info("no window list (%s)", type(e).__name__)
        return {}
