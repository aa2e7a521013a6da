"""Generated benchmark documents: A4 pages whose every page differs (no shared image to dedupe).

``write(path, pages, kind)`` (figures 6 and 7): "text" (born-digital pages: a text layer, read
without the model), "scan" (one greyscale JPEG per page, drawn at about 100 dpi with Pillow's
small bitmap font) or "mixed" (odd pages text, even pages scans).

Realistic pages (figures 3, 4, 5, 8 and 50–53): the same born-digital text (Helvetica 10 pt,
45 lines of 12 words) rendered by MuPDF at the app's default 144 dpi, as a scanner or a phone
app would save it:

- ``page_image(number)``: one A4 page at 144 dpi (1190×1684 pixels, greyscale, real glyphs);
- ``write_png(path, number)``: that page as a PNG;
- ``write_pdf(path, pages, scanned)``: an A4 PDF whose pages in ``scanned`` are such pictures
  (JPEG) and the others born-digital text;
- ``varied(folder, count)``: ``count`` distinct documents of eight kinds (A4 scans as PNG,
  born-digital and mixed PDFs, a Letter page photographed at 200 dpi, a till receipt, an A4
  page scanned at 300 dpi, a two-page TIFF, a screenshot), so image sizes, page counts and
  paths through the pipeline vary from one document to the next.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

A4 = (595.0, 842.0)  # points
LETTER = (612.0, 792.0)
RECEIPT = (227.0, 640.0)  # an 80 mm till roll
DPI = 144  # the app's default PDF resolution (engine.jobs.DEFAULT_DPI)

WORDS = [
    "invoice", "receipt", "letter", "total", "amount", "date", "account", "reference", "customer", "address",
    "payment", "order", "quantity", "price", "delivery", "tax", "number", "page", "section", "summary", "report",
    "the", "of", "and", "to", "in",
]


def _lines(seed: int, count: int, width: int = 12) -> list[str]:
    out = []
    x = seed * 7919 + 1
    for _ in range(count):
        words = []
        for _ in range(width):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            words.append(WORDS[x % len(WORDS)])
        out.append(" ".join(words).capitalize() + ".")
    return out


def _scan_jpeg(number: int, size=(827, 1169)) -> bytes:
    """A page-sized greyscale picture with lines of text, like a 100 dpi scan."""
    from PIL import Image, ImageDraw

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    draw.text((60, 40), f"Scanned page {number}", fill=0)
    for i, line in enumerate(_lines(number, 40, 10)):
        draw.text((60, 80 + i * 26), line, fill=0)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def write(path: str | os.PathLike, pages: int, kind: str) -> Path:
    """``kind``: "text", "scan" or "mixed" (odd pages text, even pages scans)."""
    import pymupdf

    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page(width=A4[0], height=A4[1])
        scan = kind == "scan" or (kind == "mixed" and number % 2 == 0)
        if scan:
            page.insert_image(page.rect, stream=_scan_jpeg(number))
        else:
            body = f"Page {number}\n\n" + "\n".join(_lines(number, 45))
            page.insert_textbox(page.rect + (50, 50, -50, -50), body, fontsize=10, fontname="helv")
    doc.save(os.fspath(path), garbage=3, deflate=True)
    doc.close()
    return Path(path)


def cached(folder: Path, pages: int, kind: str) -> Path:
    """The PDF, generated once per run folder."""
    path = folder / f"{kind}-{pages}.pdf"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write(path, pages, kind)
    return path


# ------------------------------------------------------------------ realistic pages
def _text_page(page, number: int, lines: int = 45, fontsize: float = 10.0) -> None:
    """Born-digital text on a pymupdf page: a heading and ``lines`` lines of words (distinct per ``number``);
    narrow pages (a receipt) get narrower margins, smaller type and fewer words per line."""
    narrow = page.rect.width < 400
    margin, size = (12, 7.0) if narrow else (50, fontsize)
    width = 4 if narrow else 12
    body = f"Page {number}\n\n" + "\n".join(_lines(number, lines, width))
    left = page.insert_textbox(page.rect + (margin, margin, -margin, -margin), body, fontsize=size, fontname="helv")
    if left < 0:  # MuPDF writes nothing when the text does not fit: never hand out a blank "text" page
        raise ValueError(f"the text of page {number} does not fit a {page.rect.width:.0f}-point page")


def page_image(number: int, dpi: int = DPI, size: tuple[float, float] = A4, lines: int = 45):
    """A page of real rendered text, as a greyscale Pillow image at ``dpi`` (a clean scan): MuPDF draws the
    born-digital page (Helvetica glyphs, anti-aliased) and the pixels are handed over as they are."""
    import pymupdf
    from PIL import Image

    doc = pymupdf.open()
    try:
        page = doc.new_page(width=size[0], height=size[1])
        _text_page(page, number, lines)
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
        return Image.frombytes("L", (pix.width, pix.height), pix.samples)
    finally:
        doc.close()


def _encoded(image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def write_png(path: str | os.PathLike, number: int = 1, dpi: int = DPI) -> Path:
    """One A4 page of real text at ``dpi`` (default 144: 1190×1684 pixels) as a greyscale PNG."""
    page_image(number, dpi).save(os.fspath(path), "PNG")
    return Path(path)


def write_pdf(path: str | os.PathLike, pages: int, scanned: set[int] | frozenset[int], dpi: int = DPI) -> Path:
    """An A4 PDF: the pages in ``scanned`` (1-based) are a picture of a page of text at ``dpi`` (JPEG, as a
    scanner saves it; the model reads them), the others born-digital text (read from the text layer)."""
    import pymupdf

    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page(width=A4[0], height=A4[1])
        if number in scanned:
            page.insert_image(page.rect, stream=_encoded(page_image(number, dpi), "JPEG", quality=75))
        else:
            _text_page(page, number)
    doc.save(os.fspath(path), garbage=3, deflate=True)
    doc.close()
    return Path(path)


# the kinds ``varied`` cycles through: (name, file suffix, pages the model reads)
VARIED_KINDS = (
    ("A4 scan, 144 dpi PNG", "png", 1),
    ("2-page born-digital PDF", "pdf", 0),
    ("Letter page photographed at 200 dpi, JPEG", "jpg", 1),
    ("3-page PDF: text, scan, text", "pdf", 1),
    ("till receipt, 203 dpi PNG", "png", 1),
    ("1-page born-digital PDF", "pdf", 0),
    ("2-page TIFF, 144 dpi", "tif", 2),
    ("screenshot, 1440×900 PNG", "png", 1),
)


def varied_kind(index: int) -> tuple[str, str, int]:
    """The kind of the ``index``-th (0-based) document ``varied`` writes: name, suffix, model pages."""
    return VARIED_KINDS[index % len(VARIED_KINDS)]


def write_varied(path: str | os.PathLike, index: int) -> Path:
    """The ``index``-th varied document (``path`` gets the kind's suffix); every index gives different text."""
    import pymupdf
    from PIL import Image

    name, suffix, _ = varied_kind(index)
    path = Path(path).with_suffix("." + suffix)
    n = 1000 + index * 10  # the text's seed: no two documents alike
    kind = index % len(VARIED_KINDS)
    if kind == 0:
        page_image(n).save(path, "PNG")
    elif kind in (1, 3, 5):
        pages, scanned = {1: (2, set()), 3: (3, {2}), 5: (1, set())}[kind]
        doc = pymupdf.open()
        for k in range(1, pages + 1):
            page = doc.new_page(width=A4[0], height=A4[1])
            if k in scanned:
                page.insert_image(page.rect, stream=_encoded(page_image(n + k), "JPEG", quality=75))
            else:
                _text_page(page, n + k)
        doc.save(os.fspath(path), garbage=3, deflate=True)
        doc.close()
    elif kind == 2:
        page_image(n, dpi=200, size=LETTER).convert("RGB").save(path, "JPEG", quality=85)
    elif kind == 4:
        page_image(n, dpi=203, size=RECEIPT, lines=30).save(path, "PNG")
    elif kind == 6:
        first, second = page_image(n), page_image(n + 1)
        first.save(path, "TIFF", save_all=True, append_images=[second], compression="tiff_deflate")
    else:  # a screenshot: a page of text centred on a grey desktop
        shot = Image.new("L", (1440, 900), 200)
        text = page_image(n, dpi=72, lines=30)
        shot.paste(text.crop((0, 0, min(text.width, 1400), min(text.height, 860))), (20, 20))
        shot.convert("RGB").save(path, "PNG")
    return path


def varied(folder: str | os.PathLike, count: int) -> list[Path]:
    """``count`` distinct documents in ``folder``, cycling through ``VARIED_KINDS``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_varied(folder / f"doc-{i:03d}", i) for i in range(count)]
