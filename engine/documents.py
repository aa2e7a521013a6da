"""Turning files into pages: images through Pillow, PDFs through PyMuPDF.

A document yields its pages one at a time, so at most one rendered page is in
memory whatever the page count. Each page is either an RGB image sized for the
model, or, for a born-digital PDF page, the text of its text layer (no model call)
when that text reads as text (``engine.text_trust``), or, for a page that cannot be
read, a one-line error: one bad page costs one page, not the rest of the document.

Every problem is a ``DocumentError`` whose message is one line naming the file. A
document is never handed to an external program: Pillow opens only an allowlist of
formats decoded in-process (no EPS through Ghostscript). Nothing here logs a
document's text: MuPDF's messages are logged as a count and fixed wording.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import time
import warnings
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import memory
from .human import one_line
from .jobs import DEFAULT_DPI, PageSource, TextLayer

log = logging.getLogger(__name__)

PDF_SUFFIXES = {".pdf"}
IMAGE_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".bmp", ".gif", ".webp",
    ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".j2k", ".tga", ".ico",
}
HEIC_SUFFIXES = {".heic", ".heif", ".avif"}
SUPPORTED_SUFFIXES = PDF_SUFFIXES | IMAGE_SUFFIXES | HEIC_SUFFIXES

MAX_IMAGE_PIXELS = 150_000_000  # refuse to decode beyond this: a decompression bomb, or a poster
MIN_SIDE = 32  # the vision towers need a few patches; smaller images are padded with white
MAX_ASPECT = 50  # thinner strips are padded with white (processors reject extreme ratios)
TEXT_LAYER_MIN_CHARS = 16
TEXT_LAYER_MAX_IMAGE_COVER = 0.5  # a page mostly covered by images is a scan: OCR it
TEXT_LAYER_FAILED = "text layer could not be read"  # the extraction itself failed; the page is rendered
PDF_SNIFF_BYTES = 1024  # "%PDF-" must be within the first KB (as in Acrobat and MuPDF) ...
PDF_SNIFF_BYTES_NAMED = 64 * 1024  # ... or, for a file named .pdf, within the first 64 KB
# Pillow formats that are decoded in-process. Never EPS (Pillow runs Ghostscript on it) nor
# any other plugin that hands the file to an external program; HEIF/AVIF only through pillow-heif.
PILLOW_FORMATS = ("PNG", "JPEG", "TIFF", "GIF", "WEBP", "BMP", "PPM", "JPEG2000", "TGA", "ICO")
PILLOW_HEIF_FORMATS = ("HEIF", "AVIF")


class DocumentError(Exception):
    """A file that cannot be OCR'd. ``str()`` is one line: "name: what is wrong".

    ``skipped``: a file met in a folder that is no document (a note, not a failure: the person did
    not ask for it by name)."""

    def __init__(self, path: str | os.PathLike, problem: str, skipped: bool = False) -> None:
        self.path = os.fspath(path)
        self.problem = " ".join(str(problem).split())  # always one line
        self.skipped = skipped
        super().__init__(f"{display_name(self.path)}: {self.problem}")


class PasswordRequired(DocumentError):
    """An encrypted PDF: ask for the password and submit it again."""

    def __init__(self, path: str | os.PathLike, wrong: bool = False) -> None:
        super().__init__(path, "wrong password for this PDF" if wrong else "this PDF is protected by a password")
        self.wrong = wrong


def display_name(path: str | os.PathLike) -> str:
    """The file name as a person reads it, even when the bytes are not valid UTF-8."""
    name = os.path.basename(os.fspath(path).rstrip("/")) or os.fspath(path)
    return name.encode("utf-8", "replace").decode("utf-8")


@dataclass
class PageInput:
    """One page of a document, in exactly one of three forms.

    - ``text`` is set: the page was read from the PDF's own text layer (no model call).
    - ``image`` is set: an RGB picture for the model. When the page had a text layer that was
      not used, ``text_layer_rejected`` says why, in a short phrase for a person (for example
      "text layer unreadable: characters from unrelated scripts inside words"); it is None for
      a page without a text layer and for a scan (its OCR layer is not a broken text layer).
    - ``error`` is set: the page could not be read. One line, "name: page N cannot be read
      (problem)", naming the file, the page and the problem, never the page's text. ``text`` and
      ``image`` are None; the caller reports the page as failed and goes on with the next one:
      ``pages()`` yields such a page and continues, so one bad page costs one page.
      A document of a single page raises ``DocumentError`` instead (that page is the document).
    """

    number: int  # 1-based
    count: int
    image: object | None = None  # PIL.Image.Image in RGB
    text: str | None = None
    error: str | None = None
    text_layer_rejected: str | None = None

    @property
    def source(self) -> PageSource:
        if self.error is not None:
            return PageSource.FAILED
        return PageSource.TEXT_LAYER if self.text is not None else PageSource.MODEL


# --------------------------------------------------------------------------- detection
def sniff(path: str | os.PathLike) -> str:
    """'pdf' or 'image', decided by the bytes, not the name. Raises DocumentError."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DocumentError(path, "the file no longer exists") from None
    except OSError as e:
        raise DocumentError(path, _os_problem(e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise DocumentError(path, "is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):  # a named pipe or a device: never opened (reading could block forever)
        raise DocumentError(path, "is not a regular file (a pipe or a device)")
    if st.st_size == 0:
        raise DocumentError(path, "the file is empty")
    named_pdf = Path(path).suffix.lower() in PDF_SUFFIXES
    try:
        with open(path, "rb") as f:
            head = f.read(PDF_SNIFF_BYTES_NAMED if named_pdf else PDF_SNIFF_BYTES)
            f.seek(max(0, st.st_size - 1024))
            tail = f.read(1024)
    except OSError as e:
        raise DocumentError(path, _os_problem(e)) from None
    if b"%PDF-" in head or _pdf_structure(head[:PDF_SNIFF_BYTES], tail, named_pdf):
        return "pdf"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"heif", b"avif"):
        if not _heif_plugin():
            raise DocumentError(path, "HEIC/AVIF images are not supported without the pillow-heif plugin")
        return "image"
    from PIL import Image

    try:
        with Image.open(path, formats=pillow_formats()) as im:
            im.size  # noqa: B018 - header parsed
        return "image"
    except Image.DecompressionBombError:
        raise DocumentError(path, "the image is too large to decode safely") from None
    except Exception:
        raise DocumentError(path, "not an image or PDF that can be read") from None


_PDF_OBJECT = re.compile(rb"(?:^|[\r\n\t %>])\d{1,10}[ \t\r\n]+\d{1,5}[ \t\r\n]+obj\b")


def _pdf_structure(head: bytes, tail: bytes, named_pdf: bool) -> bool:
    """A PDF whose ``%PDF-`` header is missing: objects at the start and a PDF ending (MuPDF repairs it)."""
    if not _PDF_OBJECT.search(head):
        return False
    ending = any(marker in tail for marker in (b"startxref", b"trailer", b"%%EOF", b"endobj"))
    return ending and (b"endobj" in head or b"stream" in head or named_pdf)


def pillow_formats() -> tuple[str, ...]:
    """The Pillow formats a file may be opened as (``Image.open(…, formats=…)``)."""
    return _pillow_formats(_heif_plugin())


@lru_cache(maxsize=2)
def _pillow_formats(heif: bool) -> tuple[str, ...]:
    from PIL import Image

    Image.init()  # every plugin registered, so that OPEN says which of ours this Pillow has
    wanted = PILLOW_FORMATS + (PILLOW_HEIF_FORMATS if heif else ())
    return tuple(name for name in wanted if name in Image.OPEN)


def formats_label() -> str:
    """The formats a person can drop, for the drop zone's hint and the file dialog: HEIC only when its
    plugin is here."""
    names = ["PNG", "JPEG", "TIFF", "GIF", "WebP", "BMP"] + (["HEIC"] if _heif_plugin() else []) + ["PDF"]
    return ", ".join(names)


def readable_suffixes() -> frozenset[str]:
    """The file name endings a folder walk and the file dialog offer (HEIC/AVIF only with their plugin)."""
    return frozenset(PDF_SUFFIXES | IMAGE_SUFFIXES | (HEIC_SUFFIXES if _heif_plugin() else set()))


@lru_cache(maxsize=1)
def _heif_plugin() -> bool:
    """Whether pillow-heif is here; looked up (and registered with Pillow) once per process."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        return True
    except Exception:
        return False


def _os_problem(e: OSError) -> str:
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: the file cannot be read"
    if e.errno == errno.ELOOP:
        return "a symbolic link loop"
    if e.errno == errno.ENOENT:
        return "the file no longer exists"
    return e.strerror or str(e)


# --------------------------------------------------------------------------- folders
def expand(paths: Iterable[str | os.PathLike], limit: int | None = None) -> tuple[list[str], list[DocumentError]]:
    """Files to OCR from files and folders, and one error per thing that was left out.

    Folders are walked (sorted, symlink loops and unreadable folders reported, not
    followed twice) and keep only files with a supported extension. A file given by
    name is kept whatever its extension: its content decides later. Duplicates go.
    """
    files: list[str] = []
    problems: list[DocumentError] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        p = os.fspath(raw)
        if os.path.isdir(p):
            before = len(files)
            _walk(p, add, problems, set())
            if len(files) == before:
                problems.append(DocumentError(p, "the folder holds no images or PDFs"))
        elif os.path.lexists(p) and not os.path.exists(p):
            problems.append(DocumentError(p, "a broken link or a symbolic link loop"))
        elif not os.path.lexists(p):
            problems.append(DocumentError(p, "the file does not exist"))
        else:
            add(p)
        if limit is not None and len(files) > limit:
            break
    return files, problems


def _walk(folder: str, add, problems: list[DocumentError], visiting: set[str]) -> None:
    real = os.path.realpath(folder)
    if real in visiting:
        problems.append(DocumentError(folder, "a symbolic link loop; not followed"))
        return
    visiting = visiting | {real}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        problems.append(DocumentError(folder, _os_problem(e)))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
            is_file = entry.is_file()
        except OSError as e:
            problems.append(DocumentError(entry.path, _os_problem(e)))
            continue
        if is_dir:
            _walk(entry.path, add, problems, visiting)
        elif is_file and Path(entry.name).suffix.lower() in readable_suffixes():
            add(entry.path)
        elif not is_file and not is_dir:
            problems.append(DocumentError(entry.path, "a broken link or a symbolic link loop"))
        elif is_file:
            problems.append(DocumentError(entry.path, "not an image or PDF; skipped", skipped=True))


# --------------------------------------------------------------------------- images
def fit(image, max_side: int, max_pixels: int):
    """Downscale to the model's limits; pad tiny or extreme-aspect images onto white."""
    from PIL import Image

    w, h = image.size
    scale = min(1.0, max_side / max(w, h), (max_pixels / (w * h)) ** 0.5)
    if scale < 1.0:
        w, h = max(1, round(w * scale)), max(1, round(h * scale))
        image = image.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    long_side = max(w, h)
    min_side = max(MIN_SIDE, -(-long_side // MAX_ASPECT))
    if w < min_side or h < min_side:
        canvas = Image.new("RGB", (max(w, min_side), max(h, min_side)), "white")
        canvas.paste(image, (0, 0))
        image = canvas
    return image


def to_rgb(image):
    """Any Pillow mode to RGB: 16-bit and float scaled to 8-bit, alpha flattened on white."""
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        import numpy as np

        a = np.asarray(image, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        if mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        image = Image.fromarray(a.clip(0, 255).astype("uint8"), "L")
        mode = "L"
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


class _PageProblem(Exception):
    """One page cannot be read; the rest of the document can."""


class _ImageDocument:
    kind = "image"

    def __init__(self, path: str, max_side: int, max_pixels: int) -> None:
        from PIL import Image, ImageOps

        self._Image, self._ImageOps = Image, ImageOps
        self.path = path
        self.max_side, self.max_pixels = max_side, max_pixels
        self._im: Any = None  # PIL.ImageFile.ImageFile while open
        try:
            self._im = Image.open(path, formats=pillow_formats())
            w, h = self._im.size
        except Image.DecompressionBombError:
            raise DocumentError(path, "the image is too large to decode safely (decompression bomb guard)") from None
        except OSError as e:
            raise DocumentError(path, _os_problem(e) if e.errno else "not an image that can be read") from None
        except Exception:
            raise DocumentError(path, "not an image that can be read") from None
        if w <= 0 or h <= 0:
            self.close()
            raise DocumentError(path, f"the image has no pixels ({w}×{h})")
        if w * h > MAX_IMAGE_PIXELS:
            self.close()
            limit = MAX_IMAGE_PIXELS // 1_000_000
            raise DocumentError(path, f"the image is too large to decode safely ({w}×{h}, over {limit} megapixels)")
        # a multi-page TIFF is a document; an animated GIF/WebP/PNG is one picture
        frames = 1
        if self._im.format == "TIFF":
            try:
                frames = max(1, int(getattr(self._im, "n_frames", 1)))
            except Exception:  # a damaged chain of pages: read the first, which opened
                frames = 1
        self.page_count = frames

    def pages(self, only: Collection[int] | None = None) -> Iterator[PageInput]:
        for number in range(1, self.page_count + 1):
            if only is not None and number not in only:
                continue
            try:
                page = PageInput(number, self.page_count, image=self._frame(number))
            except _PageProblem as e:
                if self.page_count == 1:
                    raise DocumentError(self.path, str(e)) from None
                page = PageInput(number, self.page_count, error=str(DocumentError(self.path, f"page {number}: {e}")))
            yield page
            del page

    def _frame(self, number: int):
        """Page ``number`` as an RGB picture sized for the model. _PageProblem for damaged data."""
        try:
            self._im.seek(number - 1)
            frame = self._im
            if frame.format == "JPEG":
                frame.draft("RGB", (self.max_side, self.max_side))  # decode at a reduced scale
            with warnings.catch_warnings():
                warnings.simplefilter("error", self._Image.DecompressionBombWarning)
                frame.load()
            image = self._ImageOps.exif_transpose(frame.copy() if self.page_count > 1 else frame)
            return fit(to_rgb(image), self.max_side, self.max_pixels)
        except (self._Image.DecompressionBombError, self._Image.DecompressionBombWarning):
            raise _PageProblem("the image is too large to decode safely") from None
        except OSError as e:
            if e.errno:  # the file itself (gone, unreadable), not this page
                raise DocumentError(self.path, _os_problem(e)) from None
            raise _PageProblem(f"the image data is damaged or cut short ({one_line(e)})") from None
        except Exception as e:  # Pillow raises many kinds for damaged data
            raise _PageProblem(f"the image data is damaged ({one_line(e)})") from None

    def close(self) -> None:
        im, self._im = getattr(self, "_im", None), None
        if im is not None:
            im.close()


# --------------------------------------------------------------------------- PDFs
# Text as extracted for the trust check: a glyph whose font maps it to nothing is U+FFFD (not
# MuPDF's fallback of the raw character code, which reads as random letters), and image
# blocks are kept so that one extraction also answers "is this page a scan?".
BAND_ROWS = 300  # a page is drawn at most this many pixel rows per MuPDF call (see render_in_bands)
# An image about the size of the page picture (this share of its pixels, or up to PREDECODE_MAX_SHARE of them)
# is decoded whole before the bands are drawn (see decode_page_images); at most PREDECODE_MAX_IMAGES a page.
PREDECODE_MIN_SHARE = 0.25
PREDECODE_MAX_SHARE = 2.0
PREDECODE_MAX_IMAGES = 4
# In a process with a window (see give_way_to_window), each drawing step is followed by a pause as long as the
# step, at least GIVE_WAY_MIN_S and at most GIVE_WAY_MAX_S.
GIVE_WAY_MIN_S = 0.0005
GIVE_WAY_MAX_S = 0.010
_give_way = False


def give_way_to_window(on: bool = True) -> None:
    """Called by a process whose GUI thread shares Python's lock with page preparation (the desktop app).

    A page is prepared in steps that hold the lock (MuPDF's calls never let it go), and when the window
    thread has work of its own at the same moment (a page finished, a state changed: 10–15 ms of Python and
    Qt calls, each crossing into Python waiting for the lock) the two threads take turns, and the window's
    15 ms became 50–85 ms (figure 4, tests/desktop/test_gui_heartbeat.py). After each step the preparing
    thread now sleeps as long as the step took, so the window gets at least half of the time. Without a
    window (the CLI, the benchmarks of the rasteriser) nothing waits for the lock and there is no pause."""
    global _give_way
    _give_way = on


def _after_step(began: float) -> None:
    if _give_way:
        time.sleep(min(max(time.perf_counter() - began, GIVE_WAY_MIN_S), GIVE_WAY_MAX_S))


def render_in_bands(fitz, page, zoom: float):
    """The page drawn at ``zoom`` as an RGB Pillow image; in a process with a window, in horizontal bands of at
    most ``BAND_ROWS`` rows.

    One MuPDF drawing call holds Python's lock for its whole length: an A4 scan at 144 dpi is 40–50 ms
    in one call on a slow CPU, long enough to stall the window. Drawn band by band from one display list
    (the page's content is interpreted once), with the page's scan decoded once beforehand
    (``decode_page_images``), no call holds it for more than a few milliseconds, and each is followed by a
    pause (``give_way_to_window``). The bands are pixel-aligned, so the picture is the one a single call
    draws, row for row. Bands cost time (the display list, the scan's separate decode, a copy per band:
    3–5 ms an A4 page on a fast CPU, where one call takes 1–4 ms for text and 20 ms for a scan; figure 7),
    so a process without a window (the CLI, a script) draws the page in one call: nothing waits there.

    No image is filled before it is written (Pillow fills a new image unless told not to: 8 MB for an A4
    page, and as much again for the bands), and nothing is copied twice: where the time went in figure 7,
    together with the page faults of every fresh buffer."""
    from PIL import Image

    matrix = fitz.Matrix(zoom, zoom)
    full = page.rect * matrix
    box = fitz.IRect(full.irect)
    bands = max(1, -(-box.height // BAND_ROWS))
    if bands == 1 or not _give_way:
        return _to_pillow(page.get_pixmap(matrix=matrix, colorspace=fitz.csRGB, alpha=False))
    listing = page.get_displaylist()
    decode_page_images(fitz, page, box.width * box.height)
    image = Image.new("RGB", (box.width, box.height), None)  # every row is written by one band (checked)
    rows = -(-box.height // bands)
    next_row = box.y0
    try:
        for top in range(box.y0, box.y1, rows):
            bottom = min(top + rows, box.y1)
            # the band's rows in page space; a hair inside so rounding cannot take a neighbour's row
            clip = fitz.Rect(full.x0, top + 0.01, full.x1, bottom - 0.01) * ~matrix
            began = time.perf_counter()
            pix = listing.get_pixmap(matrix=matrix, colorspace=fitz.csRGB, alpha=False, clip=clip)
            if pix.y != next_row or pix.x != box.x0 or pix.width != box.width:
                break  # the bands do not tile the page here: draw it in one call below
            next_row = pix.y + pix.height
            band = _to_pillow(pix)
            image.paste(band, (0, pix.y - box.y0))
            del pix, band
            _after_step(began)
    finally:
        del listing
    if next_row != box.y1:
        return _to_pillow(page.get_pixmap(matrix=matrix, colorspace=fitz.csRGB, alpha=False))
    return image


def decode_page_images(fitz, page, picture_pixels: int) -> None:
    """Decode a scan's page image once, whole, before the bands are drawn.

    MuPDF decodes only the part of a compressed image that a band needs, and a JPEG or Flate stream can only
    be decoded from its start: every band of a scanned page decoded the picture again from the top, so the
    last band's call was the longest (an A4 scan at 144 dpi: 15, 20 and 23 ms for three bands, while the
    window waited for Python's lock). Decoded whole once (about 11 ms), the picture stays in MuPDF's store
    for this page (``store_shrink`` empties it after the page) and every band is a copy of it (about 3 ms).
    Only images about the size of the page picture qualify: a much larger one is drawn subsampled, a small
    one is cheap anyway. A damaged image is left for the drawing to report."""
    doc = page.parent
    done = 0
    for info in page.get_images(full=True):
        xref, width, height = info[0], info[2], info[3]
        if not xref or not PREDECODE_MIN_SHARE <= width * height / max(picture_pixels, 1) <= PREDECODE_MAX_SHARE:
            continue
        began = time.perf_counter()
        try:
            fitz.Pixmap(doc, xref)  # decoded through MuPDF's image cache, which the bands then find
        except Exception:
            pass
        _after_step(began)
        done += 1
        if done >= PREDECODE_MAX_IMAGES:
            return


def _to_pillow(pix):
    """An RGB pixmap as a Pillow image: read once from a view of the pixmap (``samples_mv``, no copy of it)
    into an image that is not filled first (``Image.frombytes`` fills its new image, then writes it)."""
    from PIL import Image

    image = Image.new("RGB", (pix.width, pix.height), None)
    image.frombytes(pix.samples_mv)
    return image


_AUTO_TEXT_FLAGS = None  # set on first use (pymupdf is imported lazily)
GLYPH_LINES_INSPECTED = 8  # text lines whose drawing is inspected, evenly spread over the page
TEXT_MIN_VISIBLE_PT = 1.0  # a text line less high or wide than this (in points) cannot be seen


class _PdfDocument:
    kind = "pdf"

    def __init__(
        self, path: str, max_side: int, max_pixels: int, dpi: int, text_layer: str, password: str | None
    ) -> None:
        import pymupdf

        # No ICC colour management: OCR needs the shapes, not calibrated colour, and MuPDF's ICC
        # transforms cost about a quarter of the rasterising time (docs/benchmarks.md, figure 7).
        pymupdf.TOOLS.set_icc(False)
        memory.reuse_image_blocks()  # every page is a new picture of the same size: keep its memory
        # MuPDF prints what it repairs in a damaged file to stdout, which would corrupt
        # `ocr-tray ocr --json`; keep its messages and log them instead (see _log_mupdf_messages)
        pymupdf.TOOLS.mupdf_display_errors(False)
        pymupdf.TOOLS.mupdf_display_warnings(False)
        self._fitz = pymupdf
        self.path = path
        self.max_side, self.max_pixels, self.dpi = max_side, max_pixels, dpi
        self.text_layer = text_layer
        # messages left by whatever used MuPDF before belong to no file of ours: start clean
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        self._doc: Any = None  # pymupdf.Document while open
        try:
            self._doc = pymupdf.open(path, filetype="pdf")
        except Exception as e:
            self._log_mupdf_messages(" (opening)")
            raise DocumentError(path, f"not a readable PDF ({one_line(e)})") from None
        try:
            self._unlock(password)
            self.page_count = _page_count(self._doc)
            if self.page_count == 0 or self.page_count > self._doc.xref_length():  # each page is an object
                self.page_count = self._repair_page_tree()
            if self.page_count == 0:
                raise DocumentError(path, "the PDF has no pages")
        except BaseException:
            self._log_mupdf_messages(" (opening)")
            self.close()
            raise
        self._log_mupdf_messages(" (opening)")

    def _unlock(self, password: str | None) -> None:
        doc = self._doc
        if not doc.needs_pass:
            return
        if password and doc.authenticate(password):
            return
        if _only_attachments_encrypted(doc):
            # Only embedded files are encrypted (/EFF); pages, streams and strings are not
            # (/StmF and /StrF are /Identity), so readers open the pages without a password.
            # MuPDF reads them as they are; PyMuPDF only waits for authenticate() to say so.
            doc.is_encrypted = False
            return
        raise PasswordRequired(self.path, wrong=bool(password))

    def _repair_page_tree(self) -> int:
        """Pages for a PDF whose page tree MuPDF finds empty or impossible (a bogus /Count).

        First MuPDF's own repair (rebuild the cross-reference table, find the catalog); then,
        as Poppler and pdf.js do, the pages the damaged tree still reaches, or else every page
        object in the file, under a new page tree (in memory only, never saved)."""
        fitz, doc = self._fitz, self._doc
        if not doc.is_repaired:
            try:
                fitz.mupdf.pdf_repair_xref(fitz.mupdf.pdf_document_from_fz_document(doc.this))
            except Exception:
                pass
            count = _page_count(doc)
            if 0 < count <= doc.xref_length():
                return count
        try:
            kids = _page_objects(doc)
            if not kids:
                return 0
            root = _ref(doc.xref_get_key(-1, "Root"))
            if root is None:
                return 0
            tree = doc.get_new_xref()
            refs = " ".join(f"{kid} 0 R" for kid in kids)
            doc.update_object(tree, f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>")
            for kid in kids:
                _inherit_page_attributes(doc, kid)
                doc.xref_set_key(kid, "Parent", f"{tree} 0 R")
            doc.xref_set_key(root, "Pages", f"{tree} 0 R")
            count = _page_count(doc)
        except Exception:
            return 0
        log.info("%s: the page tree is damaged; rebuilt it from the page objects found (%d)",
                 display_name(self.path), count)
        return count

    def pages(self, only: Collection[int] | None = None) -> Iterator[PageInput]:
        fitz = self._fitz
        for number in range(1, self.page_count + 1):
            if only is not None and number not in only:
                continue
            try:
                result = self._page(number)
            except Exception as e:  # one bad page (a cycle in the page tree, broken objects) costs one page
                problem = f"page {number} cannot be read ({_mupdf_problem(e)})"
                if self.page_count == 1:
                    raise DocumentError(self.path, problem) from None
                result = PageInput(number, self.page_count, error=str(DocumentError(self.path, problem)))
            finally:
                fitz.TOOLS.store_shrink(100)  # MuPDF's object cache would otherwise grow with page count
                self._log_mupdf_messages(f" page {number}")
            yield result
            del result

    def _page(self, number: int) -> PageInput:
        fitz = self._fitz
        page = self._doc.load_page(number - 1)
        text, rejected = None, None
        try:
            if self.text_layer is TextLayer.AUTO:
                text, rejected = self._trusted_text(page)
            elif self.text_layer is TextLayer.ALWAYS:
                text = page.get_text("text", sort=True).strip() or None
        except Exception:  # the text is broken, the drawing may not be: let the model read the page
            text, rejected = None, TEXT_LAYER_FAILED
        if text is not None:
            return PageInput(number, self.page_count, text=text)
        rect = page.rect
        zoom = min(
            self.dpi / 72.0,
            self.max_side / max(rect.width, rect.height, 1.0),
            (self.max_pixels / max(rect.width * rect.height, 1.0)) ** 0.5,
        )
        image = render_in_bands(fitz, page, zoom)
        del page
        return PageInput(number, self.page_count, image=fit(image, self.max_side, self.max_pixels),
                         text_layer_rejected=rejected)

    def _trusted_text(self, page) -> tuple[str | None, str | None]:
        """(text, None) to take the page from its text layer; (None, reason) or (None, None) to render it.

        One text extraction answers everything: whether images cover most of the page (a
        scan, whose OCR layer is not used), the text itself, and how its lines are drawn."""
        from . import text_trust

        # each step is Python work (PyMuPDF's text sorting, the glyph and trust checks) that holds Python's lock:
        # in a process with a window each is followed by a pause as long as itself (give_way_to_window)
        began = time.perf_counter()
        tp = page.get_textpage(flags=_auto_text_flags(self._fitz))
        try:
            area = abs(page.rect) or 1.0
            covered = sum(abs(self._fitz.Rect(info["bbox"]) & page.rect) for info in tp.extractIMGINFO())
            if covered / area > TEXT_LAYER_MAX_IMAGE_COVER:
                return None, None
            _after_step(began)
            began = time.perf_counter()
            text = page.get_text("text", sort=True, textpage=tp).strip()
            if len(text) < TEXT_LAYER_MIN_CHARS:
                return None, None
            _after_step(began)
            began = time.perf_counter()
            glyphs = _glyph_stats(self._fitz, tp, page, text)
            _after_step(began)
        finally:
            del tp
        began = time.perf_counter()
        verdict = text_trust.assess(text, glyphs)
        _after_step(began)
        if not verdict.ok:
            return None, verdict.reason
        return verdict.text.strip(), None

    def _log_mupdf_messages(self, where: str) -> None:
        """MuPDF's messages since the last call, logged as a count and fixed wording (never their text).

        They quote the document ("unknown keyword: 'TOPSECRETPAYROLL'"), so only what kind of
        problem each one is reaches the log, under this file's name."""
        messages = self._fitz.TOOLS.mupdf_warnings(reset=True)
        if messages:
            count, kinds = _mupdf_summary(messages)
            if count:
                log.info("%s%s: MuPDF: %d message%s: %s", display_name(self.path), where, count,
                         "" if count == 1 else "s", kinds)

    def close(self) -> None:
        doc, self._doc = getattr(self, "_doc", None), None
        if doc is not None:
            doc.close()
            self._log_mupdf_messages(" (closing)")


def _page_count(doc) -> int:
    """MuPDF's page count; 0 when the page tree's /Count is not a number it accepts."""
    try:
        return max(0, int(doc.page_count))
    except Exception:
        return 0


def _auto_text_flags(fitz) -> int:
    global _AUTO_TEXT_FLAGS
    if _AUTO_TEXT_FLAGS is None:
        _AUTO_TEXT_FLAGS = (fitz.TEXTFLAGS_TEXT & ~fitz.TEXT_CID_FOR_UNKNOWN_UNICODE) | fitz.TEXT_PRESERVE_IMAGES
    return _AUTO_TEXT_FLAGS


def _glyph_stats(fitz, tp, page, text: str):
    """How the page's text lines are drawn, read from the extraction made anyway.

    A line is invisible when its first character is neither filled nor stroked (render mode
    3), tiny when its box is under TEXT_MIN_VISIBLE_PT high or wide (text no one can see, a
    way to hide words). Lines with no size at all (font size 0, horizontal scaling 0) are
    left out: the sorted text leaves them out too. At most GLYPH_LINES_INSPECTED lines,
    evenly spread, are inspected: the share is what matters, and walking MuPDF's structures
    from Python costs microseconds per line."""
    from . import text_trust

    lines = []
    for block in tp.this:  # MuPDF's structured text: blocks of lines of characters
        if block.m_internal.type != fitz.mupdf.FZ_STEXT_BLOCK_TEXT:
            continue
        raw = block.begin().m_internal  # the block's first line (None when it has none)
        while raw is not None:  # the C list itself: no wrapper object per line
            lines.append(raw)
            raw = raw.next
    shows = fitz.mupdf.FZ_STEXT_FILLED | fitz.mupdf.FZ_STEXT_STROKED
    step = max(1, -(-len(lines) // GLYPH_LINES_INSPECTED))
    inspected = invisible = tiny = 0
    for raw in lines[::step]:
        box = raw.bbox
        width, height = box.x1 - box.x0, box.y1 - box.y0
        if width <= 0 or height <= 0:
            continue
        inspected += 1
        if width < TEXT_MIN_VISIBLE_PT or height < TEXT_MIN_VISIBLE_PT:
            tiny += 1
        char = raw.first_char
        if char is not None and not (char.flags & shows):
            invisible += 1
    non_symbol = _non_symbol_pua(fitz, page) if text_trust.has_symbol_pua(text) else frozenset()
    return text_trust.GlyphStats(lines=inspected, invisible_lines=invisible, tiny_lines=tiny,
                                 non_symbol_pua=non_symbol)


def _non_symbol_pua(fitz, page) -> frozenset[str]:
    """Symbol-range private-use characters drawn in a font that is not a Symbol font (Wingdings…).

    Only for pages that have such characters: a second, image-free extraction with font names."""
    flags = _auto_text_flags(fitz) & ~fitz.TEXT_PRESERVE_IMAGES
    found: set[str] = set()
    for block in page.get_text("dict", flags=flags)["blocks"]:
        for line in block.get("lines", ()):
            for span in line.get("spans", ()):
                if "symbol" not in span.get("font", "").lower():
                    found.update(c for c in span.get("text", "") if "\uf020" <= c <= "\uf0fe")
    return frozenset(found)


def _only_attachments_encrypted(doc) -> bool:
    """Whether the /Encrypt dictionary leaves streams and strings in the clear (/StmF and /StrF /Identity).

    Such a file (typically /EFF: only embedded files encrypted) asks for a password for its
    attachments, not for its pages. Crypt filters exist from /V 4 on; before that everything is encrypted."""
    try:
        kind, value = doc.xref_get_key(-1, "Encrypt/V")
        if kind != "int" or int(value) < 4:
            return False
        for key in ("StmF", "StrF"):
            kind, value = doc.xref_get_key(-1, f"Encrypt/{key}")
            if kind != "null" and (kind, value) != ("name", "/Identity"):  # absent means /Identity
                return False
        return True
    except Exception:
        return False


_REF = re.compile(r"(\d+)\s+\d+\s+R")
MAX_PAGE_TREE_DEPTH = 64


def _ref(value: tuple[str, str]) -> int | None:
    kind, text = value
    m = _REF.fullmatch(text.strip()) if kind == "xref" else None
    return int(m.group(1)) if m else None


def _page_objects(doc) -> list[int]:
    """The page objects of a damaged PDF: those its page tree still reaches, else every /Type /Page."""
    size = doc.xref_length()
    found: list[int] = []
    top = _ref(doc.xref_get_key(-1, "Root/Pages"))
    stack = [(top, 0)] if top else []
    seen: set[int] = set()
    while stack and len(seen) < size:  # bounded: each object is visited once
        xref, depth = stack.pop()
        if xref in seen or depth > MAX_PAGE_TREE_DEPTH or not 0 < xref < size:
            continue
        seen.add(xref)
        try:
            kind = doc.xref_get_key(xref, "Type")[1]
            kids_kind, kids = doc.xref_get_key(xref, "Kids")
            if kids_kind == "xref":
                kids = doc.xref_object(_ref((kids_kind, kids)) or 0, compressed=True)
                kids_kind = "array"
            children = [int(n) for n in _REF.findall(kids)] if kids_kind == "array" else []
            if kind == "/Pages" or (children and kind != "/Page"):
                stack.extend((child, depth + 1) for child in reversed(children))
            elif kind == "/Page" or doc.xref_get_key(xref, "Contents")[0] != "null":
                found.append(xref)
        except Exception:
            continue
    if not found:
        for xref in range(1, size):
            try:
                if doc.xref_get_key(xref, "Type") == ("name", "/Page"):
                    found.append(xref)
            except Exception:
                continue
    return list(dict.fromkeys(found))


def _inherit_page_attributes(doc, page: int) -> None:
    """Copy what a page inherited from its old parents onto it, before it gets a new parent."""
    for key in ("Resources", "MediaBox", "CropBox", "Rotate"):
        if doc.xref_get_key(page, key)[0] != "null":
            continue
        parent, seen = _ref(doc.xref_get_key(page, "Parent")), set[int]()
        while parent and parent not in seen and len(seen) < MAX_PAGE_TREE_DEPTH:
            seen.add(parent)
            kind, value = doc.xref_get_key(parent, key)
            if kind != "null":
                doc.xref_set_key(page, key, value)
                break
            parent = _ref(doc.xref_get_key(parent, "Parent"))


# MuPDF's messages, reduced to what kind of problem each is. The wording here is ours: a
# message's own text quotes the document (keywords, font and object names) and never reaches a log.
_MUPDF_KINDS = tuple(
    (re.compile(pattern), wording)
    for pattern, wording in (
        (r"repair", "the file was damaged and repaired"),
        (r"page tree|cycle|kids", "damaged page tree"),
        (r"keyword|syntax|lexical|content stream|operator|operand|may not be correct|unbalanced|too many",
         "errors in a page's drawing instructions"),
        (r"font|glyph|cmap|cid|encoding|unicode|charstring|type3", "font problems"),
        (r"image|jpe?g|jpx|jbig2|png|tiff|ccitt|flate|zlib|inflate|lzw|decod|filter|truncat|bitmap|pixmap",
         "damaged image or compressed data"),
        (r"xref|startxref|trailer|version marker|object|endobj|endstream|stream|length|offset|generation",
         "damaged file structure"),
        (r"colou?r|icc|separation|devicen|halftone", "colour problems"),
        (r"annot|widget|form|field|link|outline|action|javascript", "annotation or form problems"),
        (r"crypt|password|decrypt|security", "encryption problems"),
    )
)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\([^)]*\)")
_REPEATED = re.compile(r"\.\.\. repeated (\d{1,9}) times")


def _mupdf_kind(message: str) -> str:
    words = _QUOTED.sub(" ", message).lower()
    for pattern, wording in _MUPDF_KINDS:
        if pattern.search(words):
            return wording
    return "other problems"


def _mupdf_summary(messages: str) -> tuple[int, str]:
    """(how many messages, "kind ×n; …") with only our fixed wording in it."""
    kinds: dict[str, int] = {}
    last = None
    for line in messages.splitlines():
        if not line.strip():
            continue
        repeated = _REPEATED.search(line)
        kind = last if repeated and last else _mupdf_kind(line)
        kinds[kind] = kinds.get(kind, 0) + (int(repeated.group(1)) if repeated and last else 1)
        last = kind
    return sum(kinds.values()), "; ".join(f"{kind} ×{n}" for kind, n in kinds.items())


def _mupdf_problem(e: BaseException) -> str:
    """A MuPDF exception for a person: its error code dropped, anything it quotes from the file removed."""
    text = re.sub(r"^code=\d+:\s*", "", " ".join(str(e).split()))
    text = _QUOTED.sub("…", text).strip()
    return (text or type(e).__name__)[:160]


Document = _ImageDocument | _PdfDocument


def open_document(
    path: str | os.PathLike,
    *,
    max_side: int = 1600,
    max_pixels: int = 1600 * 1600,
    dpi: int = DEFAULT_DPI,
    text_layer: TextLayer | str = TextLayer.AUTO,
    password: str | None = None,
) -> Document:
    """Open an image or PDF, sniffed by content. Call ``close()`` when done.

    ``text_layer`` (``engine.jobs.TextLayer``): AUTO (a PDF page's own text when it has some, is not
    a scan and reads as text), ALWAYS (any text it has), NEVER (every page to the model); the older
    "off" means NEVER. Anything else is a ValueError.
    """
    path = os.fspath(path)
    mode = TextLayer.parse(text_layer)
    kind = sniff(path)
    if kind == "pdf":
        return _PdfDocument(path, max_side, max_pixels, dpi, mode, password)
    return _ImageDocument(path, max_side, max_pixels)
