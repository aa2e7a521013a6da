"""Turning files into pages: images through Pillow, PDFs through PyMuPDF.

A document yields its pages one at a time, so at most one rendered page is in
memory whatever the page count. Each page is either an RGB image sized for the
model, or, for a born-digital PDF page, the text of its text layer (no model call).

Every problem is a ``DocumentError`` whose message is one line naming the file.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

log = logging.getLogger(__name__)

PDF_SUFFIXES = {".pdf"}
IMAGE_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".bmp", ".gif", ".webp",
    ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".j2k", ".tga", ".ico",
}
HEIC_SUFFIXES = {".heic", ".heif", ".avif"}
SUPPORTED_SUFFIXES = PDF_SUFFIXES | IMAGE_SUFFIXES | HEIC_SUFFIXES

DEFAULT_DPI = 144
MAX_IMAGE_PIXELS = 150_000_000  # refuse to decode beyond this: a decompression bomb, or a poster
MIN_SIDE = 32  # the vision towers need a few patches; smaller images are padded with white
MAX_ASPECT = 50  # thinner strips are padded with white (processors reject extreme ratios)
TEXT_LAYER_MIN_CHARS = 16
TEXT_LAYER_MAX_IMAGE_COVER = 0.5  # a page mostly covered by images is a scan: OCR it


class DocumentError(Exception):
    """A file that cannot be OCR'd. ``str()`` is one line: "name: what is wrong"."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = " ".join(str(problem).split())  # always one line
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
    """One page, ready for the model (``image``) or already read from the text layer (``text``)."""

    number: int  # 1-based
    count: int
    image: object | None = None  # PIL.Image.Image in RGB
    text: str | None = None

    @property
    def source(self) -> str:
        return "text-layer" if self.text is not None else "model"


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
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as e:
        raise DocumentError(path, _os_problem(e)) from None
    if b"%PDF-" in head:
        return "pdf"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"heif", b"avif"):
        if not _heif_plugin():
            raise DocumentError(path, "HEIC/AVIF images are not supported without the pillow-heif plugin")
        return "image"
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - header parsed
        return "image"
    except Image.DecompressionBombError:
        raise DocumentError(path, "the image is too large to decode safely") from None
    except Exception:
        raise DocumentError(path, "not an image or PDF that can be read") from None


def formats_label() -> str:
    """The formats a person can drop, for the drop zone's hint: HEIC only when its plugin is here."""
    names = ["PNG", "JPEG", "TIFF"] + (["HEIC"] if _heif_plugin() else []) + ["PDF"]
    return ", ".join(names)


@lru_cache(maxsize=1)
def _heif_plugin() -> bool:
    """Whether pillow-heif is here; looked up (and registered with Pillow) once per process."""
    try:
        import pillow_heif  # type: ignore

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
        elif is_file and Path(entry.name).suffix.lower() in SUPPORTED_SUFFIXES:
            add(entry.path)
        elif not is_file and not is_dir:
            problems.append(DocumentError(entry.path, "a broken link or a symbolic link loop"))
        elif is_file:
            problems.append(DocumentError(entry.path, "not an image or PDF; skipped"))


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


class _ImageDocument:
    kind = "image"

    def __init__(self, path: str, max_side: int, max_pixels: int) -> None:
        from PIL import Image, ImageOps

        self._Image, self._ImageOps = Image, ImageOps
        self.path = path
        self.max_side, self.max_pixels = max_side, max_pixels
        try:
            self._im = Image.open(path)
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
            raise DocumentError(
                path, f"the image is too large to decode safely ({w}×{h}, over {MAX_IMAGE_PIXELS // 1_000_000} megapixels)"
            )
        frames = getattr(self._im, "n_frames", 1)
        # a multi-page TIFF is a document; an animated GIF/WebP/PNG is one picture
        self.page_count = frames if self._im.format == "TIFF" else 1

    def pages(self, only: set[int] | None = None) -> Iterator[PageInput]:
        for number in range(1, self.page_count + 1):
            if only is not None and number not in only:
                continue
            try:
                self._im.seek(number - 1)
                frame = self._im
                if frame.format == "JPEG":
                    frame.draft("RGB", (self.max_side, self.max_side))  # decode at a reduced scale
                with warnings.catch_warnings():
                    warnings.simplefilter("error", self._Image.DecompressionBombWarning)
                    frame.load()
                image = self._ImageOps.exif_transpose(frame.copy() if self.page_count > 1 else frame)
                image = fit(to_rgb(image), self.max_side, self.max_pixels)
            except DocumentError:
                raise
            except (self._Image.DecompressionBombError, self._Image.DecompressionBombWarning):
                raise DocumentError(self.path, "the image is too large to decode safely") from None
            except OSError as e:
                if e.errno:
                    raise DocumentError(self.path, _os_problem(e)) from None
                raise DocumentError(self.path, f"the image data is damaged or cut short ({_short(e)})") from None
            except Exception as e:  # Pillow raises many kinds for damaged data
                raise DocumentError(self.path, f"the image data is damaged ({_short(e)})") from None
            page = PageInput(number, self.page_count, image=image)
            del image
            yield page
            del page

    def close(self) -> None:
        im, self._im = getattr(self, "_im", None), None
        if im is not None:
            im.close()


# --------------------------------------------------------------------------- PDFs
class _PdfDocument:
    kind = "pdf"

    def __init__(
        self, path: str, max_side: int, max_pixels: int, dpi: int, text_layer: str, password: str | None
    ) -> None:
        import pymupdf

        # No ICC colour management: OCR needs the shapes, not calibrated colour, and MuPDF's ICC
        # transforms cost about a quarter of the rasterising time (docs/benchmarks.md, figure 7).
        pymupdf.TOOLS.set_icc(False)
        # MuPDF prints what it repairs in a damaged file to stdout, which would corrupt
        # `ocr-tray ocr --json`; keep its messages and log them instead (see _log_mupdf_messages)
        pymupdf.TOOLS.mupdf_display_errors(False)
        pymupdf.TOOLS.mupdf_display_warnings(False)
        self._fitz = pymupdf
        self.path = path
        self.max_side, self.max_pixels, self.dpi = max_side, max_pixels, dpi
        self.text_layer = text_layer
        try:
            self._doc = pymupdf.open(path, filetype="pdf")
        except Exception as e:
            raise DocumentError(path, f"not a readable PDF ({_short(e)})") from None
        if self._doc.needs_pass:
            if not password:
                self.close()
                raise PasswordRequired(path)
            if not self._doc.authenticate(password):
                self.close()
                raise PasswordRequired(path, wrong=True)
        self.page_count = self._doc.page_count
        if self.page_count == 0:
            self.close()
            raise DocumentError(path, "the PDF has no pages")

    def pages(self, only: set[int] | None = None) -> Iterator[PageInput]:
        fitz = self._fitz
        for number in range(1, self.page_count + 1):
            if only is not None and number not in only:
                continue
            try:
                page = self._doc.load_page(number - 1)
                text = self._text_layer(page) if self.text_layer == "auto" else None
                if text is not None:
                    result = PageInput(number, self.page_count, text=text)
                else:
                    rect = page.rect
                    zoom = min(
                        self.dpi / 72.0,
                        self.max_side / max(rect.width, rect.height, 1.0),
                        (self.max_pixels / max(rect.width * rect.height, 1.0)) ** 0.5,
                    )
                    pix = page.get_pixmap(matrix=fitz.Matrix(zoom, zoom), colorspace=fitz.csRGB, alpha=False)
                    from PIL import Image

                    # samples_mv: a view of the pixmap, so Pillow's copy is the only one
                    image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples_mv)
                    del pix
                    result = PageInput(number, self.page_count, image=fit(image, self.max_side, self.max_pixels))
                    del image
                del page
            except Exception as e:
                raise DocumentError(self.path, f"page {number} cannot be read ({_short(e)})") from None
            finally:
                fitz.TOOLS.store_shrink(100)  # MuPDF's object cache would otherwise grow with page count
                self._log_mupdf_messages(number)
            yield result
            del result

    def _log_mupdf_messages(self, number: int) -> None:
        messages = self._fitz.TOOLS.mupdf_warnings(reset=True)
        if messages:
            # what MuPDF repaired or skipped; the file name only, never the page's text
            log.info("%s page %d: MuPDF: %s", os.path.basename(self.path), number, messages.replace("\n", "; ")[:500])

    def _text_layer(self, page) -> str | None:
        """The page's own text, when it has enough and is not mostly a scanned picture."""
        text = page.get_text("text", sort=True).strip()
        if len(text) < TEXT_LAYER_MIN_CHARS:
            return None
        area = abs(page.rect) or 1.0
        covered = 0.0
        for info in page.get_image_info():
            covered += abs(self._fitz.Rect(info["bbox"]) & page.rect)
        if covered / area > TEXT_LAYER_MAX_IMAGE_COVER:
            return None
        return text

    def close(self) -> None:
        doc, self._doc = getattr(self, "_doc", None), None
        if doc is not None:
            doc.close()


Document = _ImageDocument | _PdfDocument


def open_document(
    path: str | os.PathLike,
    *,
    max_side: int = 1600,
    max_pixels: int = 1600 * 1600,
    dpi: int = DEFAULT_DPI,
    text_layer: str = "auto",
    password: str | None = None,
) -> Document:
    """Open an image or PDF, sniffed by content. Call ``close()`` when done."""
    path = os.fspath(path)
    kind = sniff(path)
    if kind == "pdf":
        return _PdfDocument(path, max_side, max_pixels, dpi, text_layer, password)
    return _ImageDocument(path, max_side, max_pixels)


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:160]
