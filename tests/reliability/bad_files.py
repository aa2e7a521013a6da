"""Makers of the awkward files a person drags onto the app. Each returns the path it wrote."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

from PIL import Image

from engine.testing import samples


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_header(path: Path, width: int, height: int, bit_depth: int = 1, colour: int = 0, rows: int = 1) -> Path:
    """A PNG whose header says ``width``×``height`` with only ``rows`` rows of data (a bomb, or 0×0)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    row_bytes = 1 + max(1, (width * bit_depth + 7) // 8)
    raw = zlib.compress(b"\x00" * row_bytes * max(rows, 1), 9)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", raw) + _png_chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def png(path: Path, size=(64, 64)) -> Path:
    samples.text_image(*size).save(path, "PNG")
    return path


def truncated(path: Path, maker, keep: float = 0.5) -> Path:
    """Write a good file with ``maker`` and keep only the first ``keep`` of its bytes."""
    maker(path)
    data = path.read_bytes()
    path.write_bytes(data[: max(16, int(len(data) * keep))])
    return path


def jpeg(path: Path, size=(256, 256)) -> Path:
    samples.text_image(*size).save(path, "JPEG", quality=90)
    return path


def scan_pdf(path: Path, pages: int = 3) -> Path:
    return samples.write_pdf(path, pages=pages, text_pages=set())


def text_pdf(path: Path, pages: int = 1, marker: str | None = None) -> Path:
    """A born-digital PDF (text layer: no model call), optionally holding ``marker`` on every page."""
    if marker is None:
        return samples.write_pdf(path, pages=pages, text_pages=set(range(1, pages + 1)))
    import pymupdf

    doc = pymupdf.open()
    for n in range(1, pages + 1):
        page = doc.new_page(width=300, height=200)
        page.insert_text((20, 40), f"Page {n} of the private letter.", fontsize=11)
        page.insert_text((20, 70), marker, fontsize=11)
        page.insert_text((20, 100), "Nothing else in it is secret at all.", fontsize=11)
    doc.save(os.fspath(path))
    doc.close()
    return path


def encrypted_pdf(path: Path, password: str = "s3cret") -> Path:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    page.insert_text((20, 40), "Protected page with enough text to be a text layer.", fontsize=11)
    doc.save(os.fspath(path), encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password + "-owner")
    doc.close()
    return path


def zero_page_pdf(path: Path) -> Path:
    """A syntactically valid PDF whose page tree is empty (PyMuPDF refuses to write one)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())
    return path


def broken_xref_pdf(path: Path, pages: int = 2) -> Path:
    """A good text PDF whose xref table and startxref point at the wrong places (MuPDF repairs it)."""
    text_pdf(path, pages=pages)
    data = bytearray(path.read_bytes())
    at = data.rfind(b"startxref")
    tail = data[at:]
    number = tail.split(b"\n")[1].strip()
    data[at:] = tail.replace(number, b"9" * len(number), 1)  # startxref beyond the end of the file
    xref = data.find(b"xref\n")
    if xref >= 0:
        data[xref:xref + 4] = b"xxxx"  # and the table itself unreadable
    path.write_bytes(bytes(data))
    return path


def sixteen_bit_png(path: Path) -> Path:
    import numpy as np

    a = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    im = Image.fromarray(a)
    assert im.mode.startswith("I;16"), im.mode
    im.save(path, "PNG")
    assert Image.open(path).mode.startswith("I;16")
    return path


def cmyk_jpeg(path: Path) -> Path:
    samples.text_image(96, 96).convert("CMYK").save(path, "JPEG")
    return path


def palette_alpha_png(path: Path) -> Path:
    im = samples.text_image(64, 64).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    im.info["transparency"] = 0
    im.save(path, "PNG", transparency=0)
    return path


def animated_gif(path: Path) -> Path:
    frames = [samples.text_image(64, 64, text=t).convert("P") for t in ("one", "two", "three")]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def heic(path: Path) -> Path:
    """The first bytes of an HEIC file (the brand is what tells it apart)."""
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 512)
    return path


def big_bmp(path: Path, width: int = 8192, height: int = 8192) -> Path:
    """A plain 24-bit BMP: 8192×8192 is 201 MB on disk, written without holding it in memory."""
    row = (width * 3 + 3) & ~3
    size = 54 + row * height
    header = b"BM" + struct.pack("<IHHI", size, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, row * height, 2835, 2835, 0, 0)
    white = b"\xff" * row
    with open(path, "wb") as f:
        f.write(header + info)
        chunk = white * 256
        for _ in range(height // 256):
            f.write(chunk)
        f.write(white * (height % 256))
    return path
