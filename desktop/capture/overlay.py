"""The region picker where the system has none of its own (Linux/X11, and any Qt platform that can grab).

Each screen is grabbed before anything of ours is shown on it (``grab.ScreenGrabber``: the picture is
frozen, so a menu or a tooltip that closes when the overlay appears is still there to read), then one
frameless full-screen window per screen shows its own grab dimmed — each as soon as its picture arrives,
the screen under the pointer first; the keyboard is taken once every screen is grabbed. The person drags
a rectangle (crosshair cursor); the area is shown undimmed, with its size in the pixels the model will
get. Esc, or a click without a drag, cancels.

Coordinates: each window works in its screen's logical pixels, with (0, 0) at the screen's top-left, so a
screen left of or above the primary one (negative position) needs nothing special. The crop is taken
from the frozen grab in device pixels: the scale is the grab's width over the screen's logical width
(``devicePixelRatio`` on X11 and macOS; 1 on platforms whose grab is not scaled), so a 600×200 region on a
2× screen is a 1200×400 picture, and its pixels are those of the grab.

Window mode: the top-level windows' rectangles (listed when the screens are grabbed, X11 only) light up
under the cursor and a click takes one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QPoint, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen, QRegion, QScreen
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

DRAG_THRESHOLD = 4  # logical pixels: a press and release closer than this is a click (cancel)
DIM = QColor(0, 0, 0, 110)
ACCENT = QColor(10, 132, 255)


@dataclass
class Frozen:
    """One screen as it was grabbed: its logical geometry and the picture in device pixels (null until the
    grab of this screen arrives)."""

    screen: QScreen | None
    name: str
    geometry: QRect  # logical, in the desktop's coordinates
    image: QImage
    windows: list[QRect] = field(default_factory=list)  # top-level windows, screen-local logical, topmost first

    @property
    def ready(self) -> bool:
        return not self.image.isNull()

    @property
    def scale(self) -> float:
        width = self.geometry.width()
        return self.image.width() / width if width > 0 else 1.0


@dataclass(frozen=True)
class Region:
    """What was picked: which screen, the rectangle in its logical pixels, and in the picture's pixels."""

    screen: str
    logical: QRect
    device: QRect


def screen_key(screen: QScreen) -> str:
    """Names one screen among those connected now: its name and its place (X11 screens may share a name)."""
    g = screen.geometry()
    return f"{screen.name()} {g.x()},{g.y()} {g.width()}x{g.height()}"


def device_rect(logical: QRect, scale: float, bounds: QSize) -> QRect:
    """``logical`` (screen-local logical pixels) in the grab's device pixels, inside ``bounds``."""
    left, top = round(logical.x() * scale), round(logical.y() * scale)
    right, bottom = round((logical.x() + logical.width()) * scale), round((logical.y() + logical.height()) * scale)
    return QRect(left, top, right - left, bottom - top).intersected(QRect(QPoint(0, 0), bounds))


def crop(frozen: Frozen, logical: QRect) -> tuple[QImage, Region]:
    rect = device_rect(logical, frozen.scale, frozen.image.size())
    image = frozen.image.copy(rect)
    image.setDevicePixelRatio(1.0)  # the model sees pixels; the ratio only mattered on screen
    return image, Region(frozen.name, QRect(logical), rect)


class OverlayWindow(QWidget):
    """One screen's frozen picture, dimmed, with the selection drawn undimmed."""

    picked = Signal(QRect)  # screen-local logical rectangle
    cancelled = Signal()
    firstShown = Signal()  # the first paint has been handed to the window system

    def __init__(self, frozen: Frozen, window_mode: bool = False) -> None:
        super().__init__(None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
                         | Qt.WindowType.Tool | Qt.WindowType.BypassWindowManagerHint)
        self.setObjectName("captureOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.frozen = frozen
        self.window_mode = window_mode and bool(frozen.windows)
        self._window_mode_wanted = window_mode
        self._origin: QPoint | None = None
        self._selection = QRect()
        self._hover = QRect()
        self._done = False
        self.painted_at = 0.0  # perf_counter at the end of the first paint
        self.shown_at = 0.0  # ...and once Qt has handed that paint to the window system (benchmarks)
        if frozen.screen is not None:
            self.setScreen(frozen.screen)
        self.setGeometry(frozen.geometry)

    @property
    def selection(self) -> QRect:
        return QRect(self._selection)

    def open(self) -> None:
        """Show the frozen picture (once it is there)."""
        self.window_mode = self._window_mode_wanted and bool(self.frozen.windows)
        self.setGeometry(self.frozen.geometry)
        self.show()  # not showFullScreen: the window manager would move a window it thinks is a normal one
        self.setGeometry(self.frozen.geometry)
        self.raise_()

    # ------------------------------------------------------------------ input
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._origin = event.position().toPoint()
            before, label = self._shown(), self._label_box(self._shown())
            self._selection = QRect(self._origin, QSize(0, 0))
            self._moved(before, label)
        elif event.button() == Qt.MouseButton.RightButton:
            self._finish(None)

    def _stretch(self, pos: QPoint) -> None:
        a = self._origin  # corners are between pixels: a drag from x 10 to x 110 is 100 wide
        if a is not None:
            before = self._shown()
            label = self._label_box(before)
            span = QRect(min(a.x(), pos.x()), min(a.y(), pos.y()), abs(pos.x() - a.x()), abs(pos.y() - a.y()))
            self._selection = span.intersected(self.rect())
            self._moved(before, label)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        if self._origin is not None:
            self._stretch(pos)
        elif self.window_mode:
            hover = next((r for r in self.frozen.windows if r.contains(pos)), QRect())
            if hover != self._hover:
                before, label = self._hover, self._label_box(self._hover)
                self._hover = hover
                self._moved(before, label)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._origin is None:
            return
        end = event.position().toPoint()
        self._stretch(end)
        moved = (end - self._origin).manhattanLength() >= DRAG_THRESHOLD
        self._origin = None
        if moved and self._selection.width() > 1 and self._selection.height() > 1:
            self._finish(self._selection)
        elif self.window_mode and self._hover.isValid():
            self._finish(self._hover.intersected(self.rect()))
        else:
            self._finish(None)  # a click without a drag

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self._finish(None)
        else:
            super().keyPressEvent(event)

    def _finish(self, rect: QRect | None) -> None:
        if self._done:
            return
        self._done = True
        if rect is None:
            self.cancelled.emit()
        else:
            self.picked.emit(QRect(rect))

    # ------------------------------------------------------------------ drawing
    def _shown(self) -> QRect:
        return self._selection if self._selection.isValid() and not self._selection.isEmpty() else self._hover

    def _moved(self, before: QRect, label_before: QRect) -> None:
        """Repaint only where the selection (its border and its size label) was and is now."""
        after = self._shown()
        dirty = before.united(after).adjusted(-2, -2, 2, 2).united(label_before).united(self._label_box(after))
        self.update(dirty)

    def paintEvent(self, event) -> None:
        """The picture, dimmed outside the selection; only the part that changed (``event.region()``)."""
        p = QPainter(self)
        dirty = event.region()
        p.setClipRegion(dirty)
        p.drawImage(QRectF(self.rect()), self.frozen.image, QRectF(self.frozen.image.rect()))
        shown = self._shown()
        p.setClipRegion(dirty.subtracted(QRegion(shown)) if shown.isValid() else dirty)
        p.fillRect(self.rect(), DIM)
        p.setClipRegion(dirty)
        if shown.isValid() and not shown.isEmpty():
            p.setPen(QPen(ACCENT, 1))
            p.drawRect(shown.adjusted(0, 0, -1, -1))
            self._label(p, shown)
        p.end()
        if not self.painted_at:
            self.painted_at = time.perf_counter()
            QTimer.singleShot(0, self, self._mark_shown)  # runs after Qt's flush of this paint

    def _mark_shown(self) -> None:
        self.shown_at = time.perf_counter()
        self.firstShown.emit()

    def _label_text(self, rect: QRect) -> str:
        size = device_rect(rect, self.frozen.scale, self.frozen.image.size()).size()
        return f"{size.width()} × {size.height()}"

    def _label_box(self, rect: QRect) -> QRect:
        """Where the size label of ``rect`` goes: under it, or above it at the bottom of the screen."""
        if not rect.isValid() or rect.isEmpty():
            return QRect()
        box = self.fontMetrics().boundingRect(self._label_text(rect)).adjusted(-6, -3, 6, 3)
        box.moveTopLeft(rect.bottomLeft() + QPoint(0, 6))
        if box.bottom() > self.height():
            box.moveBottomLeft(rect.topLeft() - QPoint(0, 6))
        box.moveLeft(max(0, min(box.left(), self.width() - box.width())))
        box.moveTop(max(0, box.top()))
        return box

    def _label(self, p: QPainter, rect: QRect) -> None:
        text = self._label_text(rect)
        box = self._label_box(rect)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 180))
        p.drawRoundedRect(box, 4, 4)
        p.setPen(QColor("white"))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class RegionPicker(QObject):
    """One overlay window per screen; ``picked(QImage, Region)`` or ``cancelled()`` once.

    Given frozen screens whose pictures are there, ``open()`` shows them all. Made ``for_screens`` before
    the grab, each window shows when ``deliver`` brings its screen's picture, and ``grab_finished`` drops
    the windows of screens that could not be grabbed. The first window shown (the screen under the
    pointer) takes the keyboard once every screen is grabbed.
    """

    picked = Signal(QImage, object)
    cancelled = Signal()
    shown = Signal()  # every screen's overlay is painted

    def __init__(self, frozen: list[Frozen], window_mode: bool = False, parent=None) -> None:
        super().__init__(parent)
        self.frozen = frozen
        self.windows = [OverlayWindow(f, window_mode) for f in frozen]
        self._over = False
        self._opened = False
        self._first: OverlayWindow | None = None  # the first window shown: it takes the keyboard
        self._focused = False
        self._all_shown = False
        for w in self.windows:
            w.picked.connect(lambda rect, w=w: self._picked(w, rect))
            w.cancelled.connect(self._cancel)
            w.firstShown.connect(self._window_shown)

    @classmethod
    def for_screens(cls, screens: Sequence[QScreen], window_mode: bool = False, parent=None) -> RegionPicker:
        """A window per screen, each waiting for its picture (``deliver``)."""
        return cls([Frozen(s, screen_key(s), s.geometry(), QImage()) for s in screens], window_mode, parent)

    @property
    def complete(self) -> bool:
        """Every screen's picture has arrived (and every window that has one is shown, once opened)."""
        return all(w.frozen.ready for w in self.windows)

    def open(self) -> None:
        self._opened = True
        if self.complete:
            self._first = self._first or self._window_under_cursor()
        for w in self.windows:
            if w.frozen.ready:
                w.open()
        self._take_keyboard()

    def deliver(self, index: int, image: QImage, windows: list[QRect] | None = None) -> None:
        """Screen ``index``'s picture is here: its window shows it."""
        if self._over or not 0 <= index < len(self.windows):
            return
        window = self.windows[index]
        frozen = window.frozen
        frozen.image = image
        frozen.windows = list(windows or [])
        self._first = self._first or window
        if self._opened:
            window.open()
            self._take_keyboard()

    def grab_finished(self) -> None:
        """The grab is over: windows still without a picture go (their screens could not be grabbed)."""
        if self._over:
            return
        for w in [w for w in self.windows if not w.frozen.ready]:
            self.windows.remove(w)
            self.frozen.remove(w.frozen)
            w.close()
        if self._opened:
            self._take_keyboard()
            self._window_shown()

    def _window_shown(self) -> None:
        if not self._over and not self._all_shown and self.complete and all(w.shown_at for w in self.windows):
            self._all_shown = True
            self.shown.emit()

    def _take_keyboard(self) -> None:
        if self._focused or self._over or not self.complete or not self.windows:
            return
        self._focused = True
        under = self._first if self._first in self.windows else self._window_under_cursor()
        self._first = under
        if under is not None:
            under.activateWindow()
            under.setFocus()
            under.grabKeyboard()  # Esc must reach us even where the window manager gave focus elsewhere
        QTimer.singleShot(0, self._refocus)

    def _refocus(self) -> None:
        under = self._first
        if under is not None and not self._over:
            under.activateWindow()

    def _window_under_cursor(self) -> OverlayWindow | None:
        if not self.windows:
            return None
        from PySide6.QtGui import QCursor

        at = QCursor.pos()
        screen = QGuiApplication.screenAt(at)
        return next((w for w in self.windows if w.frozen.screen is screen), self.windows[0])

    def _picked(self, window: OverlayWindow, rect: QRect) -> None:
        if self._over:
            return
        image, region = crop(window.frozen, rect)
        self.close()
        self.picked.emit(image, region)

    def _cancel(self) -> None:
        if self._over:
            return
        self.close()
        self.cancelled.emit()

    def cancel(self) -> None:
        self._cancel()

    def close(self) -> None:
        if self._over:
            return
        self._over = True
        for w in self.windows:
            w.releaseKeyboard()
            w.close()  # deleted on close, with its screen's picture
        self.windows = []
        self.frozen = []

    @property
    def is_open(self) -> bool:
        return not self._over
