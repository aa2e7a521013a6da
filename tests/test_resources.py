"""The icons in resources/: made by resources/make_icons.py, usable as a macOS template icon and app icon."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def load_make_icons():
    spec = importlib.util.spec_from_file_location("make_icons", RESOURCES / "make_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_icons = load_make_icons()
TRAY = [make_icons.TRAY_FILES[kind] for kind in make_icons.TRAY_KINDS]


def tray(name: str, retina: bool = False) -> Image.Image:
    return Image.open(RESOURCES / f"{name}{'@2x' if retina else ''}.png")


def test_checked_in_icons_are_what_the_script_draws(tmp_path):
    written = make_icons.write_all(tmp_path)
    assert {p.name for p in written} == {
        *(f"{n}{s}.png" for n in TRAY for s in ("", "@2x")), "app-icon.png", "OCRTray.icns",
    }
    for path in written:
        fresh, checked_in = Image.open(path), Image.open(RESOURCES / path.name)
        assert fresh.size == checked_in.size, path.name
        diff = ImageChops.difference(fresh.convert("RGBA"), checked_in.convert("RGBA")).getbbox()
        assert diff is None, f"resources/{path.name} is stale: run python resources/make_icons.py"


@pytest.mark.parametrize("name", TRAY)
@pytest.mark.parametrize("retina", [False, True])
def test_tray_icons_are_black_templates_of_18_points(name, retina):
    image = tray(name, retina)
    px = 36 if retina else 18
    assert image.size == (px, px) and image.mode == "RGBA"
    alpha = image.getchannel("A")
    rgba = image.tobytes()
    colours = {rgba[i:i + 3] for i in range(0, len(rgba), 4) if rgba[i + 3]}
    assert colours == {b"\0\0\0"}, "a template is black; macOS draws it in the menu bar's colour"
    hist = alpha.histogram()
    assert hist[0] > 0.3 * px * px and hist[255] > 0.15 * px * px  # clear background, solid ink
    ink = sum(alpha.tobytes()) / (255 * px * px)
    assert 0.2 < ink < 0.55, f"{ink:.0%} ink: too faint or too heavy for a menu bar"
    # the glyph keeps a clear edge, so it does not touch the menu bar's neighbours
    ring = [alpha.getpixel((x, y)) for x in range(px) for y in range(px) if min(x, y, px - 1 - x, px - 1 - y) == 0]
    assert max(ring) == 0


@pytest.mark.parametrize("name", TRAY)
def test_retina_icon_draws_the_same_shape(name):
    small = tray(name).getchannel("A")
    halved = tray(name, retina=True).getchannel("A").resize(small.size, Image.Resampling.BOX)
    mean_diff = sum(ImageChops.difference(small, halved).tobytes()) / (255 * small.width * small.height)
    assert mean_diff < 0.06, f"1x and 2x differ by {mean_diff:.1%}"


def test_state_variants_are_told_apart_at_a_glance():
    shapes = {name: tray(name, retina=True).getchannel("A") for name in TRAY}
    names = list(shapes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            changed = sum(1 for v in ImageChops.difference(shapes[a], shapes[b]).tobytes() if v > 128)
            assert changed >= 40, f"{a} and {b} differ in only {changed} pixels"


def test_app_icon_is_a_1024_rounded_square_and_an_icns():
    icon = Image.open(RESOURCES / "app-icon.png")
    assert icon.size == (1024, 1024) and icon.mode == "RGBA"
    assert icon.getpixel((0, 0))[3] == 0 and icon.getpixel((110, 110))[3] == 0  # margin, rounded corner
    assert icon.getpixel((512, 130))[3] == 255 and icon.getpixel((512, 512))[3] == 255
    icns = Image.open(RESOURCES / "OCRTray.icns")
    assert icns.format == "ICNS"
    sizes = set(icns.info["sizes"])
    assert {(512, 512, 2), (256, 256, 2), (128, 128, 1), (16, 16, 2)} <= sizes
    icns.size = (512, 512)
    icns.load(scale=2)  # the 512@2x entry
    assert icns.size == (1024, 1024)
    assert ImageChops.difference(icns.convert("RGBA"), icon).getbbox() is None


def test_qt_picks_the_retina_file_and_uses_the_template_as_a_mask(qapp):
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    for name in TRAY:
        icon = QIcon()  # as desktop/icons.py loads it: both files
        icon.addFile(str(RESOURCES / f"{name}.png"))
        icon.addFile(str(RESOURCES / f"{name}@2x.png"))
        assert {(s.width(), s.height()) for s in icon.availableSizes()} == {(18, 18), (36, 36)}
        icon.setIsMask(True)
        assert icon.isMask()
        pixmap = icon.pixmap(QSize(18, 18), 2.0)
        assert (pixmap.width(), pixmap.height(), pixmap.devicePixelRatio()) == (36, 36, 2.0)
        assert pixmap.toImage().pixelColor(0, 0).alpha() == 0
