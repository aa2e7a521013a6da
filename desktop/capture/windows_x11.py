"""The top-level windows' rectangles on X11, for "Capture Window": listed before any overlay shows.

Every X screen is asked (a second monitor run as its own X screen has windows too): with a window manager,
its own stacking list (``_NET_CLIENT_LIST_STACKING``) and each window's frame (``_NET_FRAME_EXTENTS``);
without one, the root window's mapped children. Root coordinates are device pixels;
``grab.on_screen`` gives each Qt screen the rectangles that fall on it, in its logical pixels.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from Xlib import X
from Xlib.display import Display


def window_rects(display: Display, screen: int | None = None) -> list[QRect]:
    """Top-level windows of X screen ``screen`` (None: the default one), in root (device) pixels, topmost first."""
    root = display.screen(screen).root
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


def window_lists(display_name: str | None, screens: set[int] | None = None) -> dict[int, list[QRect]]:
    """The top-level windows of every X screen (or of ``screens``), by X screen number."""
    display = Display(display_name)
    try:
        numbers = range(display.screen_count()) if screens is None else sorted(screens)
        return {n: window_rects(display, n) for n in numbers}
    finally:
        display.close()

