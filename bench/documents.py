"""Generated benchmark documents: A4 PDFs whose every page differs (no shared image to dedupe).

- ``text_pdf``: born-digital pages (a text layer; read without the model).
- ``scan_pdf``: pages that are one JPEG picture each (a scan; rendered for the model).
- ``mixed_pdf``: alternating text and scan pages (for rasterising speed).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

A4 = (595.0, 842.0)  # points

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
