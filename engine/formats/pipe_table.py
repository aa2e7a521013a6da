"""A chart read as a table → ``Page`` (PaddleOCR-VL's ``Chart Recognition:`` answer).

PaddleX shows this answer with ``format_chart2table_func``
(``paddlex/inference/pipelines/paddleocr_vl/result.py``): one table row a line, cells split
at ``|``, the first line the header. Here a leading and trailing ``|`` and Markdown
separator lines (``|---|---|``) are tolerated as well, ``\\|`` is a literal pipe, and lines
without a ``|`` (a title, a note) become paragraphs. An answer with no ``|`` at all is read
as Markdown.
"""

from __future__ import annotations

import re

from engine.formats import markdown
from engine.formats._text import decode_entities, normalise_newlines
from engine.formats.document import Block, Cell, Page, Paragraph, Table

_SEPARATOR = re.compile(r"[\s|:\-]*")


def convert(raw: str) -> Page:
    if "|" not in raw:
        return markdown.convert(raw)
    blocks: list[Block] = []
    rows: list[tuple[Cell, ...]] = []
    for line in normalise_newlines(raw).split("\n"):
        if not line.strip():
            continue
        if "|" in line:
            if not (_SEPARATOR.fullmatch(line) and "-" in line):
                header = not rows
                rows.append(tuple(Cell(decode_entities(text), header=header) for text in markdown.split_row(line)))
            continue
        if rows:
            blocks.append(Table(tuple(rows)))
            rows = []
        blocks.append(Paragraph(decode_entities(line.strip())))
    if rows:
        blocks.append(Table(tuple(rows)))
    return Page(tuple(blocks))
