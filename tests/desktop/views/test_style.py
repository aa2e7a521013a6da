"""Small shared touches of look."""

from __future__ import annotations

from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QLabel

from desktop.views.style import result_font, scaled, secondary


def test_secondary_text_is_the_placeholder_grey(qapp):
    label = QLabel("hint")
    secondary(label)
    pal = label.palette()
    assert pal.color(QPalette.ColorRole.WindowText) == pal.color(QPalette.ColorRole.PlaceholderText)


def test_scaled_fonts(qapp):
    base = QFont()
    base.setPointSizeF(10.0)
    bigger = scaled(base, 1.5, bold=True)
    assert bigger.pointSizeF() == 15.0 and bigger.weight() == QFont.Weight.DemiBold and base.pointSizeF() == 10.0
    assert result_font().pointSizeF() > 0
