"""Plain text → ``Page``: blank lines separate paragraphs, line breaks inside a paragraph are kept.

A paragraph that is wholly one display formula (``$$ … $$`` or ``\\[ … \\]``, as PaddleOCR-VL's
and DeepSeek-OCR's text answers write them) becomes a ``Formula``; inline math stays in the text.
"""

from __future__ import annotations

from engine.formats._text import paragraphs, unwrap_display_math
from engine.formats.document import Block, Formula, Page, Paragraph


def convert(raw: str) -> Page:
    return Page(tuple(_block(chunk) for chunk in paragraphs(raw)))


def _block(chunk: str) -> Block:
    latex = unwrap_display_math(chunk)
    return Formula(latex) if latex else Paragraph(chunk)
