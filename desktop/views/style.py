"""Small shared touches of look: secondary text colour, the results font."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QWidget


def secondary(widget: QWidget) -> None:
    """Grey secondary text, as macOS draws hints and captions."""
    pal = widget.palette()
    pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
    pal.setColor(QPalette.ColorRole.Text, pal.color(QPalette.ColorRole.PlaceholderText))
    widget.setPalette(pal)


def scaled(font: QFont, factor: float, bold: bool = False) -> QFont:
    font = QFont(font)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * factor)
    if bold:
        font.setWeight(QFont.Weight.DemiBold)
    return font


def result_font() -> QFont:
    """The system font a touch larger: results are read, not skimmed."""
    return scaled(QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont), 1.08)
