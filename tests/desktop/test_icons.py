"""Tray and app icons: from the resources at 1x and 2x, drawn when a file is missing."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

from desktop import icons


def test_tray_icons_exist_for_every_state_even_without_resource_files(qapp, monkeypatch, tmp_path):
    monkeypatch.setattr(icons, "resources_dir", lambda: tmp_path)  # no files: drawn fallbacks
    icons._template.cache_clear()
    try:
        images = {}
        for kind in (icons.IDLE, icons.LOADING, icons.BUSY):
            icon = icons.tray_icon(kind)
            assert isinstance(icon, QIcon) and not icon.isNull() and icon.isMask()
            images[kind] = icon.pixmap(QSize(36, 36)).toImage()
        assert images[icons.IDLE] != images[icons.BUSY] != images[icons.LOADING]
        tinted = icons.tray_icon(icons.IDLE, icons.palette_text_color())
        assert not tinted.isNull()
    finally:
        icons._template.cache_clear()


def test_tray_icons_come_from_resources_at_1x_and_2x(qapp):
    icons._template.cache_clear()
    for kind, names in icons.TRAY_FILES.items():
        path = icons.resources_dir() / names[0]
        assert path.is_file(), f"resources/{names[0]} is missing"
        sizes = {(s.width(), s.height()) for s in icons._template(kind).availableSizes()}
        assert {(18, 18), (36, 36)} <= sizes, (kind, sizes)
        from_file = QIcon(str(path)).pixmap(QSize(18, 18)).toImage()
        assert icons._template(kind).pixmap(QSize(18, 18)).toImage() == from_file  # not the drawn fallback
    assert not icons.app_icon().isNull()
