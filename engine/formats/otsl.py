"""OTSL → ``Page`` with one ``Table`` (PaddleOCR-VL's ``Table Recognition:`` answer).

OTSL writes a table as a grid of tags, one per position: ``<fcel>text`` a cell with text,
``<ecel>`` an empty cell, ``<lcel>`` "same cell as the one to my left", ``<ucel>`` "same as
above", ``<xcel>`` both, and ``<nl>`` ends a row. This follows PaddleX's conversion
(``paddlex/inference/pipelines/paddleocr_vl/uilts.py``: ``otsl_pad_to_sqr_v2``,
``otsl_parse_texts``, ``export_to_html``):

- rows are first evened out to the width that differs least from all row lengths (never
  narrower than the last ``<fcel>`` of any row): longer rows lose trailing tags, shorter
  rows get ``<ecel>`` padding; text before a row's first tag is dropped;
- a cell's column span is 1 + the ``<lcel>``/``<xcel>`` run to its right, its row span
  1 + the ``<ucel>``/``<xcel>`` run below it in its column;
- a ``<lcel>``/``<ucel>``/``<xcel>`` that no span covers is an empty cell.

Two deviations, both only for malformed input: a span stops before a position another cell
already holds (PaddleX would emit overlapping cells), and an ``<fcel>`` with no text is an
empty cell (PaddleX would take the next tag as its text). A cut answer loses only a partial
tag at its end; the last row is padded. An answer with no cell tag is read as Markdown.
"""

from __future__ import annotations

import re

from engine.formats import markdown
from engine.formats.document import Cell, Page, Table

_TAGS = ("<fcel>", "<ecel>", "<lcel>", "<ucel>", "<xcel>", "<nl>")
_CELL = re.compile(r"<(fcel|ecel|lcel|ucel|xcel)>((?:(?!<(?:fcel|ecel|lcel|ucel|xcel)>).)*)", re.DOTALL)
_ANY_TAG = re.compile(r"<(?:fcel|ecel|lcel|ucel|xcel|nl)>")
_ORIGINS = ("fcel", "ecel")
_RIGHT = ("lcel", "xcel")
_DOWN = ("ucel", "xcel")

Token = tuple[str, str]  # (tag name, text after it)


def convert(raw: str) -> Page:
    rows = _square(_tokens(_drop_partial_tag(raw.strip())))
    if not any(tag in _ORIGINS for row in rows for tag, _ in row):
        return markdown.convert(_ANY_TAG.sub(" ", raw))
    return Page((_table(rows),))


def _drop_partial_tag(text: str) -> str:
    cut = text.rfind("<")
    if cut >= 0 and any(tag.startswith(text[cut:]) and tag != text[cut:] for tag in _TAGS):
        return text[:cut]
    return text


def _tokens(text: str) -> list[list[Token]]:
    rows = [[(m.group(1), m.group(2)) for m in _CELL.finditer(line)] for line in text.split("<nl>")]
    return [row for row in rows if row]


def _square(rows: list[list[Token]]) -> list[list[Token]]:
    """PaddleX's ``otsl_pad_to_sqr_v2``: the width minimising the total length change, at least the widest
    last ``<fcel>``; that is the lower median of the row lengths, raised to that floor."""
    if len(rows) < 2:
        return rows
    floor = max(max((i + 1 for i, (tag, _) in enumerate(row) if tag == "fcel"), default=0) for row in rows)
    lengths = sorted(len(row) for row in rows)
    width = max(floor, lengths[(len(lengths) - 1) // 2])
    return [row[:width] + [("ecel", "")] * (width - len(row)) for row in rows]


def _table(rows: list[list[Token]]) -> Table:
    covered: set[tuple[int, int]] = set()
    placed: dict[int, list[tuple[int, Cell]]] = {}
    for r, row in enumerate(rows):
        for c, (tag, text) in enumerate(row):
            if (r, c) in covered:
                continue
            if tag in _ORIGINS:
                rowspan, colspan = _spans(rows, r, c, covered)
                for dr in range(rowspan):
                    covered.update((r + dr, c + dc) for dc in range(colspan))
                placed.setdefault(r, []).append((c, Cell(text.strip() if tag == "fcel" else "", rowspan, colspan)))
            else:
                covered.add((r, c))
                placed.setdefault(r, []).append((c, Cell("")))
    return Table(tuple(tuple(cell for _, cell in sorted(placed.get(r, []), key=lambda p: p[0]))
                       for r in range(len(rows))))


def _spans(rows: list[list[Token]], r: int, c: int, covered: set[tuple[int, int]]) -> tuple[int, int]:
    colspan = 1
    while c + colspan < len(rows[r]) and rows[r][c + colspan][0] in _RIGHT and (r, c + colspan) not in covered:
        colspan += 1
    rowspan = 1
    while r + rowspan < len(rows) and _extends_down(rows[r + rowspan], r + rowspan, c, colspan, covered):
        rowspan += 1
    return rowspan, colspan


def _extends_down(row: list[Token], r: int, c: int, colspan: int, covered: set[tuple[int, int]]) -> bool:
    if c >= len(row) or row[c][0] not in _DOWN:
        return False
    return all(c + dc < len(row) and row[c + dc][0] not in _ORIGINS and (r, c + dc) not in covered
               for dc in range(colspan))
