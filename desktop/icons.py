"""Icons: the tray's template icon (idle, loading, busy) and the app icon.

They are loaded from ``resources/`` (beside the packages, or inside a PyInstaller
bundle at ``sys._MEIPASS``). A missing file falls back to an icon drawn here, so the
app never shows an empty tray slot.

The tray icon is a template (black on transparent, ``QIcon.setIsMask(True)``): macOS
tints it for the light or dark menu bar. Elsewhere nothing tints masks, so the icon is
painted in the palette's text colour, and repainted when the palette changes.
"""

from __future__ import annotations

import sys
from functools import cache, lru_cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPainterPath, QPalette, QPen, QPixmap

IDLE, LOADING, BUSY = "idle", "loading", "busy"

# file names written by resources/make_icons.py (first match wins)
TRAY_FILES = {
    IDLE: ("tray-template.png",),
    LOADING: ("tray-loading-template.png", "tray-busy-template.png"),
    BUSY: ("tray-busy-template.png",),
}
APP_FILES = ("app-icon.png",)
TRAY_SIZE = 18  # points; a @2x file gives Retina pixels


def resources_dir() -> Path:
    """``resources/`` beside the packages, or in the PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def _find(names: tuple[str, ...]) -> Path | None:
    folder = resources_dir()
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


@cache
def _template(kind: str) -> QIcon:
    """The black-on-transparent template for ``kind`` (file with its @2x sibling, or drawn)."""
    icon = QIcon()
    path = _find(TRAY_FILES[kind])
    if path is not None:
        icon.addFile(str(path))
        retina = path.with_name(path.stem + "@2x" + path.suffix)
        if retina.is_file():
            icon.addFile(str(retina))
    if icon.isNull() or not icon.availableSizes():
        icon = QIcon()
        for scale in (1, 2):
            icon.addPixmap(QPixmap.fromImage(draw_tray(kind, TRAY_SIZE * scale)))
    return icon


def tray_icon(kind: str, color: QColor | None = None) -> QIcon:
    """The tray icon for ``kind``: a mask on macOS, painted in ``color`` (the palette's text) elsewhere."""
    template = _template(kind)
    if sys.platform == "darwin" or color is None:
        icon = QIcon(template)
        icon.setIsMask(True)
        return icon
    tinted = QIcon()
    for size in template.availableSizes() or [QSize(TRAY_SIZE, TRAY_SIZE)]:
        image = template.pixmap(size).toImage().convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        painter.fillRect(image.rect(), color)
        painter.end()
        tinted.addPixmap(QPixmap.fromImage(image))
    return tinted


def palette_text_color() -> QColor | None:
    app = QGuiApplication.instance()
    if app is None:
        return None
    palette = app.palette()  # keep it alive while its colour is copied (color() returns a reference)
    return QColor(palette.color(QPalette.ColorRole.WindowText))


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    path = _find(APP_FILES)
    if path is not None:
        icon = QIcon(str(path))
        if not icon.isNull():
            return icon
    icon = QIcon()
    for size in (32, 64, 128, 256):
        icon.addPixmap(QPixmap.fromImage(draw_app_icon(size)))
    return icon


# ------------------------------------------------------------------- drawn fallbacks
def draw_tray(kind: str, px: int) -> QImage:
    """A page with a folded corner and three text lines; busy adds a dot, loading dashes the outline."""
    image = QImage(px, px, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = px / 18.0
    pen = QPen(QColor("black"), 1.5 * s)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    if kind == LOADING:
        pen.setDashPattern([1.6, 1.4])
    p.setPen(pen)
    page = QPainterPath()
    page.moveTo(3.5 * s, 1.5 * s)
    page.lineTo(10.5 * s, 1.5 * s)
    page.lineTo(14.5 * s, 5.5 * s)
    page.lineTo(14.5 * s, 16.5 * s)
    page.lineTo(3.5 * s, 16.5 * s)
    page.closeSubpath()
    p.drawPath(page)
    pen.setStyle(Qt.PenStyle.SolidLine)  # the fold and the lines stay solid
    p.setPen(pen)
    p.drawLine(QPointF(10.5 * s, 1.5 * s), QPointF(10.5 * s, 5.5 * s))
    p.drawLine(QPointF(10.5 * s, 5.5 * s), QPointF(14.5 * s, 5.5 * s))
    widths = (6.5, 7.5, 4.5) if kind != BUSY else (6.5, 3.5, 2.5)
    for i, w in enumerate(widths):
        y = (8.5 + 2.6 * i) * s
        p.drawLine(QPointF(6 * s, y), QPointF((6 + w) * s - (1.5 * s if i == 0 else 0), y))
    if kind == BUSY:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("black"))
        p.drawEllipse(QPointF(13.2 * s, 13.2 * s), 3.6 * s, 3.6 * s)
    p.end()
    return image


def draw_app_icon(px: int) -> QImage:
    image = QImage(px, px, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    m = px * 0.1
    rect = QRectF(m, m, px - 2 * m, px - 2 * m)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#2f6fde"))
    p.drawRoundedRect(rect, px * 0.18, px * 0.18)
    p.drawImage(rect.adjusted(px * 0.12, px * 0.1, -px * 0.12, -px * 0.1).toRect(), _white(draw_tray(IDLE, px)))
    p.end()
    return image


def _white(image: QImage) -> QImage:
    p = QPainter(image)
    p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    p.fillRect(image.rect(), QColor("white"))
    p.end()
    return image
