"""HTML tables → ``Page`` (GLM-OCR's ``Table Recognition:`` answer; the tables inside Markdown answers).

Uses the standard library's ``html.parser``: ``<tr>`` rows, ``<td>``/``<th>`` cells with
``rowspan``/``colspan``, ``<th>`` and cells inside ``<thead>`` as headers, ``<br>`` as a line
break, every other tag dropped (its text kept), entities decoded, runs of white space folded.
A nested table's text joins the cell it sits in. Text outside the tables becomes paragraphs.
A cut answer (an open ``<td``, no ``</table>``) keeps every cell read so far. An answer with
no ``<table>`` (a model that wrote a Markdown table instead) is read as Markdown.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from engine.formats._text import paragraphs
from engine.formats.document import MAX_COLSPAN, MAX_ROWSPAN, Block, Cell, Page, Paragraph, Table

_TRAILING_PARTIAL_TAG = re.compile(r"<$|<[A-Za-z/!?][^<>]*$")
_TABLE_OPEN = re.compile(r"<table(?=[\s>/]|$)", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_RUNS_OF_SPACES = re.compile(r" {2,}")
_AROUND_BREAK = re.compile(r" ?\n ?")
_BLOCK_TAGS = frozenset({"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section"})


def convert(raw: str) -> Page:
    text = _TRAILING_PARTIAL_TAG.sub("", raw)
    if not _TABLE_OPEN.search(text):
        from engine.formats import markdown  # imported here: markdown reads its <table> blocks with this module

        return markdown.convert(text)
    return Page(tuple(parse(text)))


def parse(fragment: str) -> list[Block]:
    """The tables (and paragraphs of the text around them) in an HTML fragment, in order."""
    builder = _Builder()
    try:
        builder.feed(_TRAILING_PARTIAL_TAG.sub("", fragment))
        builder.close()
    except Exception:  # html.parser can assert on malformed markup such as "<![foo"; keep what was read
        pass
    return builder.finish()


def parse_table(fragment: str) -> Table | None:
    """The first table in ``fragment``, or None when it holds no cell."""
    return next((b for b in parse(fragment) if isinstance(b, Table)), None)


def _span(value: str | None, limit: int) -> int:
    digits = re.match(r"\s*\"?\s*(\d{1,6})", value or "")
    return min(max(int(digits.group(1)), 1), limit) if digits else 1


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._outside: list[str] = []
        self._depth = 0
        self._rows: list[list[Cell]] = []
        self._row: list[Cell] | None = None
        self._cell: list[str] | None = None
        self._cell_attrs: tuple[int, int, bool] = (1, 1, False)
        self._stray: list[str] = []
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            if self._depth == 0:
                self._flush_outside()
                self._start_table()
            else:
                self._cell_text(" ")
            self._depth += 1
        elif self._depth == 0:
            if tag in _BLOCK_TAGS:
                self._outside.append("\n\n" if tag != "br" else "\n")
        elif self._depth > 1:
            self._cell_text("\n" if tag == "br" else " " if tag in ("td", "th", "tr") else "")
        elif tag == "tr":
            self._end_row()
            self._row = []
        elif tag in ("td", "th"):
            self._end_cell()
            if self._row is None:
                self._row = []
            named = dict(attrs)
            header = tag == "th" or self._in_head
            rowspan, colspan = _span(named.get("rowspan"), MAX_ROWSPAN), _span(named.get("colspan"), MAX_COLSPAN)
            self._cell_attrs = (rowspan, colspan, header)
            self._cell = []
        elif tag == "thead":
            self._in_head = True
        elif tag in ("tbody", "tfoot"):
            self._in_head = False
        elif tag == "br":
            self._cell_text("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._depth > 0:
            self._depth -= 1
            if self._depth == 0:
                self._end_table()
        elif self._depth == 0:
            if tag in _BLOCK_TAGS:
                self._outside.append("\n\n")
        elif self._depth == 1:
            if tag in ("td", "th"):
                self._end_cell()
            elif tag == "tr":
                self._end_row()
            elif tag == "thead":
                self._in_head = False

    def handle_data(self, data: str) -> None:
        if self._depth == 0:
            self._outside.append(data)
        elif self._cell is not None:
            self._cell.append(_SPACES.sub(" ", data))
        else:
            self._stray.append(data)

    def finish(self) -> list[Block]:
        if self._depth > 0:
            self._end_table()
            self._depth = 0
        self._flush_outside()
        return self.blocks

    def _cell_text(self, text: str) -> None:
        if self._cell is not None:
            self._cell.append(text)

    def _start_table(self) -> None:
        self._rows, self._row, self._cell, self._stray, self._in_head = [], None, None, [], False

    def _end_cell(self) -> None:
        if self._cell is None:
            return
        text = _AROUND_BREAK.sub("\n", _RUNS_OF_SPACES.sub(" ", "".join(self._cell))).strip()
        rowspan, colspan, header = self._cell_attrs
        if self._row is None:
            self._row = []
        self._row.append(Cell(text, rowspan, colspan, header))
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self._row is not None:
            self._rows.append(self._row)
            self._row = None

    def _end_table(self) -> None:
        self._end_row()
        stray = " ".join("".join(self._stray).split())
        if stray:
            self.blocks.append(Paragraph(stray))
        rows = [row for row in self._rows if row]
        if rows:
            self.blocks.append(Table(tuple(tuple(row) for row in rows)))
        self._start_table()

    def _flush_outside(self) -> None:
        text = "".join(self._outside)
        self._outside = []
        self.blocks.extend(Paragraph(chunk) for chunk in paragraphs(text))
