"""Draw OCR Tray's icons into ``resources/`` (run again after changing a shape).

    python resources/make_icons.py [OUT_DIR]

Writes, beside this file by default:

- ``tray-template.png`` / ``@2x``: the menu-bar glyph, black on transparent, for
  ``QIcon.setIsMask(True)`` (macOS tints it for light and dark menu bars): a page with three
  lines of text inside the corners of a scanner's viewfinder.
- ``tray-busy-template.png`` / ``@2x``: the same with a scan line across it (a document is
  being read).
- ``tray-loading-template.png`` / ``@2x``: the page still blank, outlined (the model is loading).
- ``app-icon.png`` (1024 px) and ``OCRTray.icns`` (macOS app icon, 32–1024 px).

Every shape is defined on an 18-unit grid (the menu-bar glyph is 18 points), drawn at 16x
the target size (less for large icons) and box-filtered down, so edges on whole units stay
crisp at 1x and 2x. Only Pillow is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
GRID = 18  # design units per side of the tray glyph
TRAY_POINTS = 18  # the glyph's size in points: 18 px at 1x, 36 px at 2x
SUPERSAMPLE = 16  # for the small sizes; large ones need less


def supersample(px: int) -> int:
    return SUPERSAMPLE if px <= 64 else max(2, 2048 // px)
INK, CLEAR = 255, 0

TRAY_KINDS = ("idle", "busy", "loading")
TRAY_FILES = {"idle": "tray-template", "busy": "tray-busy-template", "loading": "tray-loading-template"}
APP_ICON = "app-icon.png"
APP_ICNS = "OCRTray.icns"
ICNS_SIZES = (32, 64, 128, 256, 512)  # plus the 1024 master

# app icon colours (a blue field, a white page)
FIELD_TOP = (64, 140, 255)
FIELD_BOTTOM = (22, 82, 214)
PAGE = (255, 255, 255)
TEXT = (39, 96, 222)
BRACKETS = (255, 255, 255)


class Pen:
    """Draws on a supersampled coverage mask in design units."""

    def __init__(self, px: int, grid: float = GRID) -> None:
        ss = supersample(px)
        self.scale = px * ss / grid
        self.mask = Image.new("L", (px * ss, px * ss), CLEAR)
        self.draw = ImageDraw.Draw(self.mask)

    def _xy(self, points):
        # PIL fills a polygon's boundary pixels too: pull each vertex half a subpixel towards the
        # middle so a (convex) shape covers exactly its area
        pts = [(x * self.scale, y * self.scale) for x, y in points]
        cx = sum(x for x, _ in pts) / len(pts)
        cy = sum(y for _, y in pts) / len(pts)

        def towards(v, c):
            return v + 0.5 if c > v else v - 0.5 if c < v else v

        return [(towards(x, cx), towards(y, cy)) for x, y in pts]

    def rect(self, x0, y0, x1, y1, fill=INK, radius=0.0):
        box = [x0 * self.scale, y0 * self.scale, x1 * self.scale - 1, y1 * self.scale - 1]
        if radius:
            self.draw.rounded_rectangle(box, radius * self.scale, fill=fill)
        else:
            self.draw.rectangle(box, fill=fill)

    def polygon(self, points, fill=INK):
        self.draw.polygon(self._xy(points), fill=fill)

    def coverage(self, px: int) -> Image.Image:
        return self.mask.resize((px, px), Image.Resampling.BOX)


# ------------------------------------------------------------------ the glyph, in design units
FRAME = (1, 1, 17, 17)  # outer edge of the viewfinder corners
ARM = 5  # length of each corner's arms
PAGE_BOX = (5, 4, 13, 14)
FOLD = 3  # the dog-ear cut off the page's top-right corner
LINES = ((7, 7, 11, 8), (7, 9, 11, 10), (7, 11, 10, 12))  # knocked out of the page


def corners(pen: Pen, frame=FRAME, arm=ARM, stroke=1.5, radius=2.5, fill=INK) -> None:
    """Four rounded L-shaped corners of a viewfinder."""
    x0, y0, x1, y1 = frame
    pen.rect(x0, y0, x1, y1, fill=fill, radius=radius)
    pen.rect(x0 + stroke, y0 + stroke, x1 - stroke, y1 - stroke, fill=CLEAR, radius=max(radius - stroke, 0))
    pen.rect(x0 + arm, y0, x1 - arm, y1, fill=CLEAR)  # open the middle of each side
    pen.rect(x0, y0 + arm, x1, y1 - arm, fill=CLEAR)


def page_outline(box=PAGE_BOX, fold=FOLD):
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1 - fold, y0), (x1, y0 + fold), (x1, y1), (x0, y1)]


def tray_glyph(kind: str, px: int) -> Image.Image:
    """The ``kind`` menu-bar glyph at ``px`` pixels: black, with the shape in the alpha channel."""
    pen = Pen(px)
    if px >= 2 * TRAY_POINTS:
        corners(pen)
    else:  # whole pixels at 1x
        corners(pen, stroke=1, radius=1.5)
    pen.polygon(page_outline())
    if kind == "idle":
        for line in LINES:
            pen.rect(*line, fill=CLEAR)
    elif kind == "loading":  # an empty page, outlined
        pen.polygon(page_outline((6, 5, 12, 13), FOLD - 0.5), fill=CLEAR)
    elif kind == "busy":  # a scan line across the page and the frame, cut free of the page
        pen.rect(PAGE_BOX[0], 8, PAGE_BOX[2], 11, fill=CLEAR)
        pen.rect(1, 9, 17, 10)
    alpha = pen.coverage(px)
    glyph = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    glyph.putalpha(alpha)
    return glyph


# ------------------------------------------------------------------ the app icon
def _gradient(px: int) -> Image.Image:
    top, bottom = FIELD_TOP, FIELD_BOTTOM
    column = Image.new("RGB", (1, px))
    for y in range(px):
        t = y / max(px - 1, 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return column.resize((px, px), Image.Resampling.NEAREST)


def app_icon(px: int) -> Image.Image:
    """The macOS app icon: a rounded blue square (824/1024 of the canvas) holding the glyph in colour.

    Drawn on a 1024-unit grid scaled to ``px``; the glyph's 18 units span 520 of them.
    """
    grid = 1024
    icon = Image.new("RGBA", (px, px), (0, 0, 0, 0))

    field = Pen(px, grid)
    field.rect(100, 100, 924, 924, radius=185)
    icon.paste(_gradient(px), (0, 0), field.coverage(px))

    u = 520 / GRID  # one glyph unit in icon units
    ox = oy = (grid - GRID * u) / 2

    def g(points):
        return [(ox + x * u, oy + y * u) for x, y in points]

    def gbox(x0, y0, x1, y1):
        return (ox + x0 * u, oy + y0 * u, ox + x1 * u, oy + y1 * u)

    shadow = Pen(px, grid)  # a soft shadow under the page
    shadow.polygon([(x, y + 10) for x, y in g(page_outline())])
    shadow_mask = shadow.coverage(px).point(lambda v: v * 0.22).filter(ImageFilter.GaussianBlur(px / 90))
    icon.paste((8, 40, 120), (0, 0), shadow_mask)

    page = Pen(px, grid)
    page.polygon(g(page_outline()))
    icon.paste(PAGE, (0, 0), page.coverage(px))

    fold = Pen(px, grid)
    x0, y0, x1, _ = PAGE_BOX
    fold.polygon(g([(x1 - FOLD, y0), (x1 - FOLD, y0 + FOLD), (x1, y0 + FOLD)]))
    icon.paste((196, 216, 250), (0, 0), fold.coverage(px))

    text = Pen(px, grid)
    for x0, y0, x1, y1 in LINES:
        text.rect(*gbox(x0, y0 + 0.1, x1, y1 - 0.1), radius=0.4 * u)
    icon.paste(TEXT, (0, 0), text.coverage(px))

    brackets = Pen(px, grid)
    fx0, fy0, fx1, fy1 = FRAME
    corners(brackets, frame=gbox(fx0 - 1, fy0 - 1, fx1 + 1, fy1 + 1), arm=ARM * u, stroke=1.4 * u, radius=3 * u)
    icon.paste(BRACKETS, (0, 0), brackets.coverage(px))
    return icon


def write_all(out_dir: Path = HERE) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in TRAY_KINDS:
        for scale, suffix in ((1, ""), (2, "@2x")):
            path = out_dir / f"{TRAY_FILES[kind]}{suffix}.png"
            tray_glyph(kind, TRAY_POINTS * scale).save(path, optimize=True)
            written.append(path)
    master = app_icon(1024)
    path = out_dir / APP_ICON
    master.save(path, optimize=True)
    written.append(path)
    path = out_dir / APP_ICNS
    master.save(path, format="ICNS", append_images=[app_icon(size) for size in ICNS_SIZES])
    written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(p)
