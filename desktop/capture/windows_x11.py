"""The top-level windows' rectangles on X11, for "Capture Window": listed with the grab, before any overlay shows.

With a window manager, its own stacking list (``_NET_CLIENT_LIST_STACKING``) and each window's frame
(``_NET_FRAME_EXTENTS``); without one, the root window's mapped children. Root coordinates are device
pixels; each rectangle is given to the screens it falls on, in their logical pixels, topmost first.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from Xlib import X
from Xlib.display import Display

from .overlay import Frozen


def window_rects(display: Display) -> list[QRect]:
    """Top-level windows of the default screen, in root (device) pixels, topmost first."""
    root = display.screen().root
    stacking = display.intern_atom("_NET_CLIENT_LIST_STACKING")
    extents_atom = display.intern_atom("_NET_FRAME_EXTENTS")
    prop = root.get_full_property(stacking, X.AnyPropertyType)
    windows = [display.create_resource_object("window", w) for w in prop.value] if prop is not None else [
        w for w in root.query_tree().children if w.get_attributes().map_state == X.IsViewable]
    rects = []
    for window in windows:
        try:
            geometry = window.get_geometry()
            at = window.translate_coords(root, 0, 0)
            left, right, top, bottom = 0, 0, 0, 0
            extents = window.get_full_property(extents_atom, X.AnyPropertyType) if prop is not None else None
            if extents is not None and len(extents.value) == 4:
                left, right, top, bottom = (int(v) for v in extents.value)
            rects.append(QRect(-at.x - left, -at.y - top, geometry.width + left + right,
                               geometry.height + top + bottom))
        except Exception:  # a window that went away while it was listed
            continue
    return list(reversed(rects))


def attach_windows(frozen: list[Frozen], display_name: str | None = None) -> None:
    display = Display(display_name)
    try:
        rects = window_rects(display)
    finally:
        display.close()
    for f in frozen:
        scale = f.scale
        origin = QPoint(round(f.geometry.x() * scale), round(f.geometry.y() * scale))
        native = QRect(origin, f.pixmap.size())
        for r in rects:
            part = r.intersected(native)
            if part.isEmpty() or r == native:
                continue
            local = part.translated(-origin)
            f.windows.append(QRect(round(local.x() / scale), round(local.y() / scale),
                                   round(local.width() / scale), round(local.height() / scale)))
