"""Markdown → ``Page`` (GLM-OCR's text, LightOnOCR-2's and DeepSeek-OCR's answers).

A line-based reader of the Markdown these models write, not a full CommonMark parser:
ATX headings, bullet and numbered lists (nesting from indentation), fenced code, GFM pipe
tables (a ``|`` inside a code span or escaped as ``\\|`` stays in its cell), HTML ``<table>``
blocks, display math (``$$ … $$`` and ``\\[ … \\]``, on one line or several) and paragraphs.
Inline markup (emphasis, links, ``$…$`` and ``\\(…\\)`` math) stays in the text as written;
complete HTML entities are decoded. Thematic breaks and lines of bare HTML wrapper tags
(``<div align="center">``) are dropped.

Cut answers: an unclosed fence or ``<table>`` runs to the end of the text, and unclosed
display math to the next blank line, so everything read so far is kept.
"""

from __future__ import annotations

import re
from functools import lru_cache

from engine.formats import html_table
from engine.formats._text import decode_entities, normalise_newlines
from engine.formats.document import Block, Cell, Code, Formula, Heading, ListItem, Page, Paragraph, Table

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t](.*))?$")
_LIST = re.compile(r"^( *)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_TABLE_TAG = re.compile(r"<(/?)table(?=[\s>/]|$)", re.IGNORECASE)
_WRAPPER_TAGS = re.compile(r"^(?:[ \t]*</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>)+[ \t]*$")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_DISPLAY = {"$$": "$$", "\\[": "\\]"}


def convert(raw: str) -> Page:
    return Page(tuple(parse(raw)))


def parse(raw: str) -> list[Block]:
    return _Reader(normalise_newlines(raw).split("\n")).run()


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = [line.expandtabs(4) for line in lines]
        self.blocks: list[Block] = []
        self._paragraph: list[str] = []
        self._item: ListItem | None = None  # the last list item, while lazy continuation lines may join it
        self._item_lines: list[str] = []
        self._item_open = False
        self._indents: list[int] = []

    def run(self) -> list[Block]:
        i = 0
        while i < len(self.lines):
            i = self._step(i)
        self._flush()
        self._close_item()
        return self.blocks

    def _emit(self, *blocks: Block) -> None:
        self._close_item()
        self.blocks.extend(blocks)

    def _close_item(self) -> None:
        if self._item is not None:
            item, lines = self._item, self._item_lines
            text = "\n".join([item.text, *lines]) if lines else item.text
            self.blocks.append(ListItem(text, item.ordered, item.depth, item.number))
            self._item, self._item_lines = None, []

    def _step(self, i: int) -> int:
        line = self.lines[i]
        stripped = line.strip()
        if not stripped:
            self._flush()
            self._item_open = False
            return i + 1
        if (fence := _FENCE.match(line)) and not (fence.group(2)[0] == "`" and "`" in fence.group(3)):
            self._break()
            return self._code(i, fence)
        if heading := _HEADING.match(line):
            self._break()
            if text := decode_entities(_heading_text(heading.group(2) or "")):
                self._emit(Heading(len(heading.group(1)), text))
            return i + 1
        if stripped.startswith(("$$", "\\[")):
            self._break()
            return self._display_math(i, stripped)
        if (start := _table_start(line)) is not None:
            return self._html_table(i, start)
        if self._is_table_start(i):
            self._break()
            return self._pipe_table(i)
        if _THEMATIC.match(line):
            self._break()
            return i + 1
        if item := _LIST.match(line):
            self._flush()
            self._list_item(item)
            return i + 1
        if _WRAPPER_TAGS.match(line):
            return i + 1
        self._text_line(stripped)
        return i + 1

    def _flush(self) -> None:
        if self._paragraph:
            self._emit(Paragraph(decode_entities("\n".join(self._paragraph))))
            self._paragraph = []

    def _break(self) -> None:
        """A block other than a list item starts: the paragraph and the list end."""
        self._flush()
        self._item_open = False
        self._indents = []

    def _text_line(self, text: str) -> None:
        if self._item_open and self._item is not None and not self._paragraph:
            self._item_lines.append(decode_entities(text))
            return
        self._paragraph.append(text)

    def _code(self, i: int, fence: re.Match[str]) -> int:
        indent, marker, info = len(fence.group(1)), fence.group(2), fence.group(3).split()
        language = info[0] if info else ""
        body: list[str] = []
        j = i + 1
        while j < len(self.lines):
            line = self.lines[j]
            if line.strip().startswith(marker[0] * len(marker)) and not line.strip().strip(marker[0]):
                j += 1
                break
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            j += 1
        self._emit(Code("\n".join(body), language))
        return j

    def _display_math(self, i: int, stripped: str) -> int:
        opener = "$$" if stripped.startswith("$$") else "\\["
        closer = _DISPLAY[opener]
        rest = stripped[len(opener):]
        parts: list[str] = []
        j = i
        while True:
            end = rest.find(closer)
            if end >= 0:
                parts.append(rest[:end])
                after = rest[end + len(closer):]
                self._add_formula(parts)
                if after.strip():
                    self.lines[j] = after
                    return j
                return j + 1
            parts.append(rest)
            j += 1
            if j >= len(self.lines) or not self.lines[j].strip():
                self._add_formula(parts)
                return j
            rest = self.lines[j]

    def _add_formula(self, parts: list[str]) -> None:
        latex = "\n".join(part.rstrip() for part in parts).strip()
        if latex:
            self._emit(Formula(latex))

    def _html_table(self, i: int, start: int) -> int:
        before = self.lines[i][:start]
        if before.strip():
            self._text_line(before.strip())
        self._break()
        chunk: list[str] = []
        depth = 0
        rest = self.lines[i][start:]
        j = i
        while True:
            for tag in _TABLE_TAG.finditer(rest):
                depth += -1 if tag.group(1) else 1
                if depth == 0:
                    close = rest.find(">", tag.end())
                    cut = len(rest) if close < 0 else close + 1
                    chunk.append(rest[:cut])
                    self._emit(*html_table.parse("\n".join(chunk)))
                    if rest[cut:].strip():
                        self.lines[j] = rest[cut:]
                        return j
                    return j + 1
            chunk.append(rest)
            j += 1
            if j >= len(self.lines):
                self._emit(*html_table.parse("\n".join(chunk)))
                return j
            rest = self.lines[j]

    def _is_table_start(self, i: int) -> bool:
        if i + 1 >= len(self.lines) or "|" not in self.lines[i]:
            return False
        delimiter = self.lines[i + 1]
        if "|" not in delimiter or not _DELIMITER.match(delimiter):
            return False
        header, cells = len(split_row(self.lines[i])), len(split_row(delimiter))
        last = i + 2 >= len(self.lines)
        return cells == header or (last and cells <= header)

    def _pipe_table(self, i: int) -> int:
        rows = [tuple(Cell(text, header=True) for text in _cells(self.lines[i]))]
        j = i + 2
        while j < len(self.lines) and self.lines[j].strip() and "|" in self.lines[j]:
            rows.append(tuple(Cell(text) for text in _cells(self.lines[j])))
            j += 1
        self._emit(Table(tuple(rows)))
        return j

    def _list_item(self, item: re.Match[str]) -> None:
        indent, marker, text = len(item.group(1)), item.group(2), (item.group(3) or "").strip()
        while self._indents and indent < self._indents[-1]:
            self._indents.pop()
        if not self._indents or indent > self._indents[-1]:
            self._indents.append(indent)
        ordered = marker[0].isdigit()
        number = int(marker[:-1]) if ordered else None
        self._close_item()
        self._item = ListItem(decode_entities(text), ordered, len(self._indents) - 1, number)
        self._item_open = True


def _table_start(line: str) -> int | None:
    """Where an HTML table opens on the line, unless only inside a code span (`` `<table>` ``)."""
    for tag in _TABLE_TAG.finditer(line):
        if not tag.group(1) and line.count("`", 0, tag.start()) % 2 == 0:
            return tag.start()
    return None


def _heading_text(text: str) -> str:
    """The heading's text without a closing run of ``#`` (kept when it is glued to a word, as in ``C#``)."""
    text = text.strip()
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        text = bare.rstrip()
    return text


def _cells(line: str) -> list[str]:
    return [decode_entities(_BR.sub("\n", cell)) for cell in split_row(line)]


def split_row(line: str) -> list[str]:
    """A pipe-table row's cells: ``\\|`` is a literal pipe, and so is a ``|`` inside a code span."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells: list[str] = []
    buf: list[str] = []
    unclosed: set[int] = set()
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and s.startswith("|", i + 1):
            buf.append("|")
            i += 2
        elif ch == "`":
            run = _tick_run(s, i)
            close = None if run in unclosed else _closing_ticks(run).search(s, i + run)
            if close is None:
                unclosed.add(run)
            end = close.end() if close else i + run
            buf.append(s[i:end].replace("\\|", "|"))
            i = end
        elif ch == "|":
            cells.append("".join(buf).strip())
            buf = []
            i += 1
        else:
            buf.append(ch)
            i += 1
    cells.append("".join(buf).strip())
    return cells


def _tick_run(s: str, i: int) -> int:
    j = i
    while j < len(s) and s[j] == "`":
        j += 1
    return j - i


@lru_cache(maxsize=16)
def _closing_ticks(run: int) -> re.Pattern[str]:
    return re.compile(rf"(?<!`)`{{{run}}}(?!`)")
