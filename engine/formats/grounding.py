"""DeepSeek-OCR's grounded Markdown → ``Page`` with blocks and boxes.

With ``<|grounding|>Convert the document to markdown.`` DeepSeek-OCR writes each layout
block as ``<|ref|>label<|/ref|><|det|>[[x1, y1, x2, y2]]<|/det|>`` followed by the block's
Markdown. Coordinates are integers on a 0–999 grid over the image (DeepSeek's own
``draw_bounding_boxes`` maps them with ``x / 999 * width``); here they become ``Box``\\ es in
0–1. Like DeepSeek's ``run_dpsk_ocr_image.py`` the tags are removed and the rest is
Markdown; ``image`` blocks have no text (DeepSeek puts a link to its crop there), so they
leave only their box. Labels seen in its answers: ``title``, ``sub_title``, ``text``,
``equation``, ``table``, ``image``, ``image_caption``, ``table_caption``; a one-line
``title`` or ``sub_title`` written without a ``#`` becomes a level-1 or level-2 heading.

A cut answer loses only the unfinished tag at its end (``<|det|>[[12, 3``): the text before
it is kept, the unfinished box is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.formats import markdown
from engine.formats.document import Block, Box, Heading, Page, Paragraph

COORDINATE_MAX = 999
_NUMBER = r"\s*(-?\d+(?:\.\d+)?)\s*"
_QUAD = re.compile(r"\[" + ",".join([_NUMBER] * 4) + r"\]")
_SPECIAL = re.compile(r"<\|/?(?:ref|det|grounding)\|>")
_REF, _REF_END, _DET, _DET_END = "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>"
_TAGS = (_REF, _REF_END, _DET, _DET_END, "<|grounding|>")
_HEADING_LEVELS = {"title": 1, "sub_title": 2}


def convert(raw: str) -> Page:
    blocks: list[Block] = []
    boxes: list[Box] = []
    label, start = "", 0
    for group_start, group_end, group_label, det in _groups(raw):
        blocks.extend(_segment(label, raw[start:group_start]))
        label = group_label.strip()
        boxes.extend(_boxes(label, det))
        start = group_end
    blocks.extend(_segment(label, _drop_unfinished(raw[start:])))
    return Page(tuple(blocks), tuple(boxes))


def _groups(text: str) -> Iterator[tuple[int, int, str, str]]:
    """Each complete ``<|ref|>label<|/ref|><|det|>…<|/det|>``: its start, end, label and box text.

    A scan with ``str.find`` rather than a lazy regex, so an answer stuck repeating an unclosed
    ``<|ref|>`` costs linear time.
    """
    pos = 0
    while (start := text.find(_REF, pos)) >= 0:
        label_end = text.find(_REF_END, start + len(_REF))
        if label_end < 0:
            return
        det = label_end + len(_REF_END)
        while det < len(text) and text[det].isspace():
            det += 1
        if not text.startswith(_DET, det):
            pos = label_end
            continue
        det_end = text.find(_DET_END, det + len(_DET))
        if det_end < 0:
            return
        yield start, det_end + len(_DET_END), text[start + len(_REF):label_end], text[det + len(_DET):det_end]
        pos = det_end + len(_DET_END)


def _drop_unfinished(tail: str) -> str:
    """Cut an unfinished ``<|ref|>…`` group or a partial tag off the end of the text after the last group."""
    opened = tail.find(_REF)
    if opened >= 0:
        return tail[:opened]
    cut = tail.rfind("<")
    if cut >= 0 and any(tag.startswith(tail[cut:]) for tag in _TAGS):
        return tail[:cut]
    return tail


def _segment(label: str, content: str) -> list[Block]:
    blocks = markdown.parse(_SPECIAL.sub("", content))
    level = _HEADING_LEVELS.get(label)
    if level and len(blocks) == 1 and isinstance(blocks[0], Paragraph) and "\n" not in blocks[0].text:
        return [Heading(level, blocks[0].text)]
    return blocks


def _boxes(label: str, det: str) -> list[Box]:
    out = []
    for quad in _QUAD.finditer(det):
        x1, y1, x2, y2 = (min(max(float(v) / COORDINATE_MAX, 0.0), 1.0) for v in quad.groups())
        out.append(Box(label, min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    return out
