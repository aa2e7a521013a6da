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


# ------------------------------------------------------------ hand-written PDFs
def raw_pdf(objects: list, header: bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", root: int = 1,
            trailer: bytes = b"") -> bytes:
    """A PDF written object by object: ``objects[i]`` is object i+1, a dictionary's bytes or
    ``(dictionary, stream data)``; a correct xref table follows. ``trailer`` adds trailer keys."""
    out = io.BytesIO()
    out.write(header)
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        if isinstance(body, tuple):
            head, data = body
            out.write(b"%d 0 obj\n%s\nstream\n%s\nendstream\nendobj\n" % (number, head, data))
        else:
            out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    size = len(objects) + 1
    out.write(b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (size, root, trailer, xref))
    return out.getvalue()


def text_stream(*lines: str, font: bytes = b"/F1", size: int = 12) -> tuple[bytes, bytes]:
    """A content stream showing ``lines`` (Latin-1 text) one under another."""
    body = b"BT %s %d Tf 20 150 Td %d TL " % (font, size, size + 4)
    for line in lines:
        escaped = line.encode("latin-1").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        body += b"(%s) Tj T* " % escaped
    body += b"ET"
    return b"<< /Length %d >>" % len(body), body


HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _page(contents: int, parent: int = 2, font: int = 3) -> bytes:
    return (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 300 200] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (parent, contents, font))


def headerless_pdf(path: Path) -> Path:
    """A sound one-page text PDF whose ``%PDF-`` line is missing: it starts ``%âãÏÓ`` then ``1 0 obj``."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        HELVETICA,
        _page(5),
        text_stream("A page whose file lost its header line.", "The body of the PDF is fine."),
    ]
    path.write_bytes(raw_pdf(objects, header=b"%\xe2\xe3\xcf\xd3\n"))
    return path


def page_tree_cycle_pdf(path: Path) -> Path:
    """Three pages; the second entry of the page tree is a /Pages node whose only kid is itself."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R 6 0 R 7 0 R] /Count 3 >>",
        HELVETICA,
        _page(5),
        text_stream("Page one of three, read from its text layer."),
        b"<< /Type /Pages /Parent 2 0 R /Kids [6 0 R] /Count 1 >>",  # the cycle: page 2
        _page(8),
        text_stream("Page three of three, after the broken one."),
    ]
    path.write_bytes(raw_pdf(objects))
    return path


FUZZED_PAGE_TREES = ("pages-is-a-page", "count-zero", "count-missing", "pages-missing", "root-missing", "count-huge")


def fuzzed_page_tree_pdf(path: Path, damage: str) -> Path:
    """A one-page text PDF with the kind of page-tree damage fuzzers make; Poppler reads one page of each."""
    catalog_pages, count, root = b"2 0 R", b"/Count 1", 1
    if damage == "pages-is-a-page":
        catalog_pages = b"4 0 R"  # the catalog's /Pages is the page itself
    elif damage == "count-zero":
        count = b"/Count 0"
    elif damage == "count-missing":
        count = b""
    elif damage == "count-huge":
        count = b"/Count 2147483647"
    elif damage == "pages-missing":
        catalog_pages = b"9 0 R"  # no such object
    elif damage == "root-missing":
        root = 8  # the trailer names an object that does not exist
    else:
        raise ValueError(damage)
    objects = [
        b"<< /Type /Catalog /Pages %s >>" % catalog_pages,
        b"<< /Type /Pages /Kids [4 0 R] %s >>" % count,
        HELVETICA,
        _page(5),
        text_stream("The only page of a damaged PDF.", f"damage: {damage}"),
    ]
    path.write_bytes(raw_pdf(objects, root=root))
    return path


def unknown_keyword_pdf(path: Path, keyword: str = "TOPSECRETPAYROLL", pages: int = 2) -> Path:
    """Pages whose content streams hold an operator MuPDF does not know (it warns, quoting it)."""
    objects: list = [b"<< /Type /Catalog /Pages 2 0 R >>", None, HELVETICA]
    kids = []
    for n in range(pages):
        kids.append(len(objects) + 1)
        objects.append(_page(len(objects) + 2))
        body = b"BT /F1 12 Tf 20 150 Td %s (Page %d of a document with a stray operator.) Tj ET" % (
            keyword.encode(), n + 1)
        objects.append((b"<< /Length %d >>" % len(body), body))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), pages)
    path.write_bytes(raw_pdf(objects))
    return path


# Standard security handler (ISO 32000-1, 7.6.3), revision 4 with RC4 crypt filters: enough to
# write a file whose only encrypted part is an attachment, which PyMuPDF cannot write itself.
_PASSWORD_PAD = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _rc4_rounds(key: bytes, data: bytes) -> bytes:
    for i in range(20):
        data = _rc4(bytes(b ^ i for b in key), data)
    return data


def _standard_security(user: bytes, owner: bytes, permissions: int, file_id: bytes) -> tuple[bytes, bytes, bytes]:
    """(file key, /O, /U) for revision 4 with a 128-bit key (algorithms 2, 3 and 5)."""
    import hashlib

    def padded(password: bytes) -> bytes:
        return (password + _PASSWORD_PAD)[:32]

    h = hashlib.md5(padded(owner)).digest()
    for _ in range(50):
        h = hashlib.md5(h).digest()
    o = _rc4_rounds(h, padded(user))
    k = hashlib.md5(padded(user) + o + struct.pack("<i", permissions) + file_id).digest()
    for _ in range(50):
        k = hashlib.md5(k).digest()
    u = _rc4_rounds(k, hashlib.md5(_PASSWORD_PAD + file_id).digest()) + bytes(16)
    return k, o, u


def attachment_encrypted_pdf(path: Path, password: str = "for-the-attachment") -> Path:
    """A PDF whose only encrypted part is its attachment (/EFF; /StmF and /StrF /Identity).

    Acrobat and Poppler show its pages without a password and ask for one only to open the
    attached file. The attachment is RC4-encrypted with the file key, as the spec says."""
    import hashlib

    file_id = hashlib.md5(b"ocr-tray attachment-only encryption").digest()
    key, o, u = _standard_security(password.encode(), password.encode() + b"-owner", -4, file_id)
    attachment_number = 7
    object_key = hashlib.md5(key + struct.pack("<i", attachment_number)[:3] + b"\0\0").digest()
    attachment = _rc4(object_key, b"the attached spreadsheet, which does need the password")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(numbers.csv) 6 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        HELVETICA,
        _page(5),
        text_stream("The pages of this PDF are not encrypted.", "Only its attachment is."),
        b"<< /Type /Filespec /F (numbers.csv) /UF (numbers.csv) /EF << /F 7 0 R >> >>",
        (b"<< /Type /EmbeddedFile /Length %d >>" % len(attachment), attachment),
        b"<< /Filter /Standard /V 4 /R 4 /Length 128 /P -4 "
        b"/CF << /StdCF << /CFM /V2 /AuthEvent /EFOpen /Length 16 >> >> "
        b"/StmF /Identity /StrF /Identity /EFF /StdCF "
        b"/O <" + o.hex().encode() + b"> /U <" + u.hex().encode() + b"> >>",
    ]
    ident = b"<" + file_id.hex().encode() + b">"
    path.write_bytes(raw_pdf(objects, trailer=b"/Encrypt 8 0 R /ID [%s %s] " % (ident, ident)))
    return path


def postscript(path: Path) -> Path:
    """An Encapsulated PostScript file (Pillow would hand it to Ghostscript), under any name."""
    path.write_bytes(
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n%%EndComments\n"
        b"newpath 0 0 moveto 64 64 lineto stroke\nshowpage\n%%EOF\n"
    )
    return path


def tiff_with_damaged_page(path: Path, pages: int = 3, damaged: int = 2) -> Path:
    """A multi-page TIFF (deflate) whose page ``damaged`` has its compressed data zeroed."""
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("white", "gray", "black", "red")[:pages]]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    data = bytearray(buf.getvalue())
    with Image.open(io.BytesIO(bytes(data))) as im:
        im.seek(damaged - 1)
        offset, length = im.tag_v2[273][0], im.tag_v2[279][0]  # StripOffsets, StripByteCounts
    data[offset:offset + length] = bytes(length)
    path.write_bytes(bytes(data))
    return path
