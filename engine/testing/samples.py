"""Small documents made on the fly: for the self-test, the tests and the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

LINES = [
    "OCR Tray self-test",
    "The quick brown fox jumps over the lazy dog.",
    "0123456789 - invoices, receipts and letters.",
]


def text_image(width: int = 64, height: int = 64, text: str = "OCR"):
    """An RGB image with a little dark text on white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((4, max(0, height // 2 - 6)), text, fill="black")
    return image


def write_png(path: str | os.PathLike, width: int = 64, height: int = 64) -> Path:
    text_image(width, height).save(path, "PNG")
    return Path(path)


def write_pdf(
    path: str | os.PathLike,
    pages: int = 3,
    text_pages: frozenset[int] | set[int] = frozenset({1}),
    size: tuple[float, float] = (64, 64),
) -> Path:
    """A PDF whose pages in ``text_pages`` (1-based) are born-digital text and the rest are scans.

    Scanned pages hold one picture covering the page, so they go to the model. ``size``
    is the page size in points: 64×64 points renders to a small image at 72 DPI.
    """
    import pymupdf

    doc = pymupdf.open()
    png = _png_bytes(int(size[0] * 2), int(size[1] * 2))
    for number in range(1, pages + 1):
        page = doc.new_page(width=size[0], height=size[1])
        if number in text_pages:
            body = f"Page {number}. " + " ".join(LINES)
            page.insert_textbox(page.rect + (2, 2, -2, -2), body, fontsize=max(3.0, size[0] / 40))
        else:
            page.insert_image(page.rect, stream=png)
    doc.save(os.fspath(path))
    doc.close()
    return Path(path)


def _png_bytes(width: int, height: int) -> bytes:
    import io

    buf = io.BytesIO()
    text_image(width, height).save(buf, "PNG")
    return buf.getvalue()
