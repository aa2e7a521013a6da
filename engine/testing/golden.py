"""Golden pages: images of known text, drawn at run time, to measure a real model's accuracy.

Six pages cover what people drop on the app: body text at three sizes, a two-column page, a
small ruled table and a receipt photographed on a table. Every page is laid out on a PDF page
with PyMuPDF's built-in Base-14 fonts (Times, Helvetica, Courier live inside PyMuPDF itself, so
the pages look the same on macOS and Linux whatever fonts the system has) and rendered to an
image; the receipt is then made photo-like with Pillow and numpy from a fixed seed (paper tint,
uneven light, a 2° rotation on a dark background, blur, sensor noise, JPEG artefacts).

``write_pages(folder)`` writes each image with its ground truth beside it (``NAME.txt``: the
text as a person reads it, in reading order) and a ``manifest.json``. ``cer`` scores a model's
output against a ground truth: the character error rate, i.e. the Levenshtein distance over
characters divided by the reference's length, after ``normalize`` (Unicode NFKC, markdown and
HTML markup dropped, whitespace collapsed: the models print tables as markdown or HTML and
wrap lines where they like, and neither is an error of reading).

``THRESHOLDS`` holds the overall CER above which ``ocr-tray self-test --golden --model PRESET``
fails, per preset. They are provisional until a run on a real model records its CER (docs/
packaging.md, "Verified on a Mac"): the rule is then twice that run's overall CER, rounded up to
the next 0.01, and never below 0.03.

This module imports only the standard library at import time; PyMuPDF, Pillow and numpy are
imported by the functions that draw.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SEED = 20261201
RENDER_DPI = 144  # the app's default PDF resolution
PAGE_WIDTH = 612.0  # points: US Letter / A4-ish width

# Overall CER limits per preset id (see the module docstring: provisional until a real run).
THRESHOLDS: dict[str, float] = {
    "paddleocr-vl": 0.10,
    "glm-ocr": 0.10,
    "lightonocr-2": 0.10,
    "deepseek-ocr": 0.15,
}
THRESHOLDS_PROVISIONAL = True

# ---------------------------------------------------------------------- the known text
# None of these texts holds | * # _ ` < > or a dollar sign: those are markup in the models'
# markdown/HTML output, which normalize() removes from what a model prints.

BODY_SMALL = (
    "The committee met on Tuesday, 14 March, to review the proposal for the new library wing. "
    "Members agreed that the reading room should face north, away from the traffic on Mill Road, "
    "and that the children's section needs its own entrance. The architect will present revised "
    "drawings at the next meeting; until then, the budget of 2.4 million stays as approved in "
    "January. Questions may be sent to the clerk before 31 March."
)
BODY_MEDIUM = (
    "Thank you for your order of 3 June. The parcel left our warehouse this morning and should "
    "reach you within four working days. If anything is missing or damaged, please reply to this "
    "letter quoting reference 58-2291-K, and we will send a replacement at no cost. Keep this "
    "note for your records."
)
BODY_LARGE = (
    "Quarterly report, second quarter. Sales rose by 7 percent while costs stayed flat, so the "
    "margin improved for the third quarter in a row."
)
COLUMN_LEFT = (
    "Rainfall in the valley was below average for the third year running. Farmers on the eastern "
    "slopes moved their sowing forward by two weeks, hoping to catch the spring showers before "
    "the dry season. Early results suggest the change paid off for barley but not for wheat."
)
COLUMN_RIGHT = (
    "The river authority has asked residents to report any new springs or wet patches on their "
    "land. Such reports help the engineers map how the water table is moving. Forms are "
    "available at the town hall and online, and the survey closes at the end of September."
)
TABLE = [
    ["Item", "Qty", "Unit price", "Total"],
    ["Paper A4", "2", "4.50", "9.00"],
    ["Blue pens", "10", "0.80", "8.00"],
    ["Stapler", "1", "12.99", "12.99"],
    ["Folders", "5", "1.20", "6.00"],
    ["Sum", "", "", "35.99"],
]
RECEIPT = [
    "CORNER BAKERY",
    "12 Station Street",
    "Tel 0161 496 0732",
    "",
    "2x Sourdough loaf   7.60",
    "1x Rye bread        3.95",
    "3x Croissant        5.40",
    "1x Apple tart       4.25",
    "",
    "SUBTOTAL           21.20",
    "VAT 5%              1.06",
    "TOTAL EUR          22.26",
    "",
    "CARD ending 4821",
    "17/05/2024 09:42",
    "Thank you, see you soon",
]


@dataclass(frozen=True)
class Page:
    name: str
    kind: str  # what the page tests
    truth: str  # the ground truth, in reading order
    image: str  # file name of the image in the folder


@dataclass(frozen=True)
class Score:
    name: str
    reference_chars: int
    hypothesis_chars: int
    distance: int

    @property
    def cer(self) -> float:
        return self.distance / self.reference_chars if self.reference_chars else float(self.hypothesis_chars > 0)


# ---------------------------------------------------------------------- scoring
_TABLE_RULE = re.compile(r"^[\s|:+-]*-{3,}[\s|:+-]*$", re.M)  # markdown "|---|:---:|" rows
_BLOCK_TAG = re.compile(r"</?(?:td|th|tr|br|p|div|table|thead|tbody|li|ul|ol|h\d)\b[^>]{0,200}>", re.I)
_TAG = re.compile(r"<[^>]{0,200}>")  # inline HTML tags (<b>, <sup>): they join, they do not separate
_CELL = re.compile(r"\|")  # markdown table cells
_MARKUP = re.compile(r"[*#_`]")  # emphasis, headings, code
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                         "\u2212": "-", "\u00a0": " "})


def normalize(text: str) -> str:
    """Text as compared: NFKC, typographic quotes and dashes made plain, markdown/HTML markup
    removed, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    text = _TABLE_RULE.sub(" ", text)
    text = _MARKUP.sub("", _CELL.sub(" ", text))
    return " ".join(text.split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions; each costs 1) between two strings.

    Myers' bit-parallel algorithm in Hyyrö's formulation, with Python's unbounded integers as
    the bit vectors: one pass over ``b`` with a few big-integer operations per character, so
    pages of thousands of characters take milliseconds, not the seconds of the textbook table.
    """
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    # the shorter string is the pattern (fewer bits per vector)
    m = len(b)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    top = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def score(name: str, hypothesis: str, truth: str) -> Score:
    ref, hyp = normalize(truth), normalize(hypothesis)
    return Score(name, len(ref), len(hyp), levenshtein(hyp, ref))


def cer(hypothesis: str, truth: str) -> float:
    """Character error rate of ``hypothesis`` against ``truth`` (both normalized); 0 is perfect,
    and it can exceed 1 when the hypothesis is much longer than the truth."""
    return score("", hypothesis, truth).cer


def overall(scores: Iterable[Score]) -> float:
    """All pages' edit distances over all pages' reference characters (pages weigh by length)."""
    scores = list(scores)
    chars = sum(s.reference_chars for s in scores)
    return sum(s.distance for s in scores) / chars if chars else 0.0


def threshold(preset_id: str | None) -> float | None:
    """The overall CER limit for a preset; None for anything else (a custom model is only reported)."""
    return THRESHOLDS.get(preset_id or "")


# ---------------------------------------------------------------------- the pages
TOP, BOTTOM, SIDE = 40.0, 40.0, 54.0  # page margins, points
_ROOM = 1000.0  # a page is laid out this tall, then cropped to its text


def _fit(page, used: float) -> None:
    """Crop the page to its margins around ``used`` points of text."""
    import pymupdf

    page.set_cropbox(pymupdf.Rect(0, 0, page.rect.width, TOP + used + BOTTOM))


def _textbox(page, rect, text: str, fontname: str, fontsize: float) -> float:
    """Set ``text`` in ``rect``; the height it took."""
    left = page.insert_textbox(rect, text, fontname=fontname, fontsize=fontsize, lineheight=1.3)
    if left < 0:
        raise RuntimeError(f"golden page text does not fit its box ({left:.0f} points short)")
    return rect.height - left


def _text_page(doc, text: str, fontname: str, fontsize: float) -> None:
    import pymupdf

    page = doc.new_page(width=PAGE_WIDTH, height=_ROOM)
    _fit(page, _textbox(page, pymupdf.Rect(SIDE, TOP, PAGE_WIDTH - SIDE, _ROOM), text, fontname, fontsize))


def _two_columns(doc) -> None:
    import pymupdf

    page = doc.new_page(width=PAGE_WIDTH, height=_ROOM)
    gap = 28.0
    width = (PAGE_WIDTH - 2 * SIDE - gap) / 2
    used = 0.0
    for i, text in enumerate((COLUMN_LEFT, COLUMN_RIGHT)):
        x0 = SIDE + i * (width + gap)
        used = max(used, _textbox(page, pymupdf.Rect(x0, TOP, x0 + width, _ROOM), text, "helv", 10))
    _fit(page, used)


def _table(doc) -> None:
    import pymupdf

    widths = [170.0, 70.0, 110.0, 110.0]
    row_h, x0, y0 = 26.0, 76.0, TOP
    height = y0 + row_h * len(TABLE) + BOTTOM
    page = doc.new_page(width=PAGE_WIDTH, height=height)
    right = x0 + sum(widths)
    for r, row in enumerate(TABLE):
        top = y0 + r * row_h
        x = x0
        for c, cell in enumerate(row):
            font = "hebo" if r == 0 or r == len(TABLE) - 1 else "helv"
            fontsize = 11.0
            if cell:
                tw = pymupdf.get_text_length(cell, fontname=font, fontsize=fontsize)
                tx = x + 8 if c == 0 else x + widths[c] - 8 - tw  # text left, numbers right
                page.insert_text((tx, top + row_h - 8), cell, fontname=font, fontsize=fontsize)
            x += widths[c]
        page.draw_line((x0, top), (right, top), width=0.8 if r else 1.2)
    bottom = y0 + row_h * len(TABLE)
    page.draw_line((x0, bottom), (right, bottom), width=1.2)
    x = x0
    for w in [0.0, *widths]:
        x += w
        page.draw_line((x, y0), (x, bottom), width=0.8)


def _receipt(doc) -> None:
    import pymupdf

    width, line_h = 230.0, 14.0
    height = 40 + line_h * len(RECEIPT) + 30
    page = doc.new_page(width=width, height=height)
    for i, line in enumerate(RECEIPT):
        if not line:
            continue
        font = "cobo" if i in (0, len(RECEIPT) - 5) else "cour"
        tw = pymupdf.get_text_length(line, fontname=font, fontsize=10)
        # the shop's name, address and the greeting are centred, the items set from the left
        centred = i < 3 or i == len(RECEIPT) - 1
        x = (width - tw) / 2 if centred else 18
        page.insert_text((x, 40 + i * line_h), line, fontname=font, fontsize=10)


def _render(page, dpi: int):
    from PIL import Image

    pix = page.get_pixmap(dpi=dpi, alpha=False)
    image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
    del pix
    return image


def _photograph(image, seed: int = SEED):
    """A receipt as a phone sees it: tinted paper, light falling off, a slight turn on a dark
    table, soft focus, sensor noise and JPEG compression."""
    import io

    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    h, w = gray.shape
    paper = np.array([246.0, 241.0, 228.0], dtype=np.float32)
    ink = np.array([38.0, 36.0, 44.0], dtype=np.float32)
    rgb = ink + (paper - ink) * gray[..., None]
    light = np.linspace(1.0, 0.82, w, dtype=np.float32)[None, :] * np.linspace(0.97, 1.0, h, dtype=np.float32)[:, None]
    rgb *= light[..., None]
    photo = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    table = (74, 62, 54)
    margin = 60
    canvas = Image.new("RGB", (w + 2 * margin, h + 2 * margin), table)
    canvas.paste(photo, (margin, margin))
    canvas = canvas.rotate(2.0, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=table)
    canvas = canvas.filter(ImageFilter.GaussianBlur(0.7))
    pixels = np.asarray(canvas, dtype=np.float32)
    pixels = pixels + rng.normal(0.0, 7.0, pixels.shape).astype(np.float32)
    canvas = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=72)
    return Image.open(io.BytesIO(buf.getvalue()))


def pages() -> list[Page]:
    """The golden pages' names, what each tests and its ground truth (no drawing)."""
    return [
        Page("body-8pt", "body text, 8 pt Times", BODY_SMALL, "body-8pt.png"),
        Page("body-11pt", "body text, 11 pt Helvetica", BODY_MEDIUM, "body-11pt.png"),
        Page("body-16pt", "body text, 16 pt Times", BODY_LARGE, "body-16pt.png"),
        Page("two-column", "two columns, read left then right", COLUMN_LEFT + "\n" + COLUMN_RIGHT, "two-column.png"),
        Page("table", "a ruled table, read row by row", "\n".join(" ".join(c for c in row if c) for row in TABLE),
             "table.png"),
        Page("receipt-photo", "a receipt photographed: tinted, rotated 2°, blurred, noisy, JPEG",
             "\n".join(line for line in RECEIPT if line), "receipt-photo.jpg"),
    ]


def build_pdf(path: str | os.PathLike) -> Path:
    """The golden pages as one PDF, in the order of ``pages()`` (before any photo treatment)."""
    import pymupdf

    doc = pymupdf.open()
    try:
        _text_page(doc, BODY_SMALL, "tiro", 8)
        _text_page(doc, BODY_MEDIUM, "helv", 11)
        _text_page(doc, BODY_LARGE, "tiro", 16)
        _two_columns(doc)
        _table(doc)
        _receipt(doc)
        doc.save(os.fspath(path))
    finally:
        doc.close()
    return Path(path)


def write_pages(folder: str | os.PathLike, dpi: int = RENDER_DPI) -> list[Page]:
    """Draw every golden page into ``folder``: the images, ``NAME.txt`` ground truths beside them
    and ``manifest.json``. Returns the pages in order."""
    import pymupdf

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    listed = pages()
    pdf = build_pdf(out / "golden-pages.pdf")
    doc = pymupdf.open(os.fspath(pdf))
    try:
        for page, spec in zip(doc, listed):
            image = _render(page, 200 if spec.name == "receipt-photo" else dpi)
            if spec.name == "receipt-photo":
                image = _photograph(image)
                image.save(out / spec.image, "JPEG", quality=72)
            else:
                image.save(out / spec.image, "PNG")
            (out / f"{spec.name}.txt").write_text(spec.truth + "\n", encoding="utf-8")
    finally:
        doc.close()
    pdf.unlink()
    manifest = [{"name": p.name, "kind": p.kind, "image": p.image, "truth": f"{p.name}.txt"} for p in listed]
    (out / "manifest.json").write_text(json.dumps({"seed": SEED, "dpi": dpi, "pages": manifest}, indent=2) + "\n",
                                       encoding="utf-8")
    return listed
