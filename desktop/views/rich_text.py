"""A converted page (``engine.formats.Page``) written into a ``QTextDocument`` at a cursor, with the cursor API.

Tables become ``QTextTable``\\ s (spans merged, header cells bold on a tint, each table tagged
with ``TABLE_KEY`` so the view finds the ``Table`` it came from), headings carry their level
(``QTextBlockFormat.headingLevel``: a selection copied as Markdown keeps them), lists are
``QTextList``\\ s, code is monospace on a tint, a formula is its LaTeX source in the formula
style (monospace, tinted, indented; no typesetting: docs/adr/0013). Text is inserted as text,
never parsed as HTML, so whatever a model writes shows as written.

``RichStyle`` holds the formats, made once from the view's palette and font.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QUrl
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontDatabase,
    QImage,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextFrameFormat,
    QTextImageFormat,
    QTextListFormat,
    QTextTableCellFormat,
    QTextTableFormat,
)

from engine.formats import Block, Cell, Code, Formula, Heading, ListItem, Page, Table, to_text
from engine.formats.document import MAX_COLSPAN, MAX_ROWSPAN

TABLE_KEY = QTextFormat.Property.UserProperty + 1  # on a QTextTableFormat: "<section key>:<table index>"
LINE_BREAK = "\u2028"  # a line break inside a block (Qt's QChar::LineSeparator)
HEADING_SCALE = {1: 1.45, 2: 1.25, 3: 1.12}


@dataclass
class RichStyle:
    body: QTextCharFormat
    body_block: QTextBlockFormat  # a paragraph (a little space below it)
    item_block: QTextBlockFormat  # a list item
    headings: dict[int, QTextCharFormat]
    heading_block: QTextBlockFormat
    code: QTextCharFormat
    code_block: QTextFrameFormat  # code and formulas sit in a padded, tinted frame
    formula: QTextCharFormat
    formula_block: QTextFrameFormat
    header_cell: QTextCharFormat
    table: QTextTableFormat
    header_fill: QBrush
    line_block: QTextBlockFormat  # a line of raw text, as it streamed in
    collapsed: QTextBlockFormat  # an empty block of no height

    @classmethod
    def of(cls, palette: QPalette, font: QFont, body_block: QTextBlockFormat) -> RichStyle:
        text = palette.color(QPalette.ColorRole.Text)
        base = palette.color(QPalette.ColorRole.Base)
        dark = base.lightness() < 128
        tint = QColor("#2a2f38") if dark else QColor("#f3f4f7")
        grid = QColor("#5a606b") if dark else QColor("#c4c7ce")
        formula_ink = QColor("#8cc4ff") if dark else QColor("#1f5a8a")
        formula_fill = QColor("#1f2a38") if dark else QColor("#f2f6fb")

        body = QTextCharFormat()
        body.setFont(font)
        body.setForeground(text)
        headings = {}
        for level in range(1, 7):
            fmt = QTextCharFormat(body)
            fmt.setFontWeight(QFont.Weight.DemiBold)
            if font.pointSizeF() > 0:
                fmt.setFontPointSize(font.pointSizeF() * HEADING_SCALE.get(level, 1.0))
            headings[level] = fmt
        paragraph = QTextBlockFormat(body_block)
        paragraph.setBottomMargin(6)
        item = QTextBlockFormat(body_block)
        item.setBottomMargin(2)
        heading_block = QTextBlockFormat(body_block)
        heading_block.setTopMargin(10)
        heading_block.setBottomMargin(4)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        if font.pointSizeF() > 0:
            mono.setPointSizeF(font.pointSizeF() * 0.92)
        code = QTextCharFormat()
        code.setFont(mono)
        code.setForeground(text)
        code_block = QTextFrameFormat()
        code_block.setBackground(tint)
        code_block.setBorder(0)
        code_block.setPadding(6)
        code_block.setTopMargin(2)
        code_block.setBottomMargin(8)

        formula = QTextCharFormat(code)
        formula.setForeground(formula_ink)
        if font.pointSizeF() > 0:
            formula.setFontPointSize(font.pointSizeF())
        formula_block = QTextFrameFormat()
        formula_block.setBackground(formula_fill)
        formula_block.setBorder(0)
        formula_block.setPadding(8)
        formula_block.setLeftMargin(14)
        formula_block.setTopMargin(2)
        formula_block.setBottomMargin(8)

        header_cell = QTextCharFormat(body)
        header_cell.setFontWeight(QFont.Weight.DemiBold)
        table = QTextTableFormat()
        table.setBorder(1)
        table.setBorderBrush(QBrush(grid))
        table.setBorderStyle(QTextFrameFormat.BorderStyle.BorderStyle_Solid)
        table.setBorderCollapse(True)
        table.setCellPadding(4)
        table.setCellSpacing(0)
        table.setTopMargin(4)
        table.setBottomMargin(6)
        return cls(body, paragraph, item, headings, heading_block, code, code_block, formula, formula_block,
                   header_cell, table, QBrush(tint), QTextBlockFormat(body_block), _collapsed())


class PageWriter:
    """Writes blocks at a cursor. The cursor must start at the beginning of an empty block; it ends after
    the last thing written (in an empty block after a table that came last)."""

    def __init__(self, cursor: QTextCursor, style: RichStyle, table_tag: Callable[[int], str] | None = None,
                 max_cells: int = 20_000) -> None:
        self.cur = cursor
        self.style = style
        self.table_tag = table_tag
        self.max_cells = max_cells  # a larger table is written as its text (tab-separated rows)
        self._fresh = True  # the cursor's block is empty and not used yet
        self._tables = 0
        self._lists: dict[int, tuple[bool, object]] = {}  # depth -> (ordered, QTextList)

    def page(self, page: Page) -> None:
        for block in page.blocks:
            self.block(block)

    def block(self, block: Block) -> None:
        if not isinstance(block, ListItem):
            self._lists.clear()
        s = self.style
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            fmt = QTextBlockFormat(s.heading_block)
            fmt.setHeadingLevel(level)
            self.text(_one_line(block.text), s.headings[level], fmt)
        elif isinstance(block, ListItem):
            self._item(block)
        elif isinstance(block, Table):
            self.table(block)
        elif isinstance(block, Formula):
            self.boxed(block.latex if block.display else f"${block.latex}$", s.formula, s.formula_block)
        elif isinstance(block, Code):
            self.boxed(block.text, s.code, s.code_block)
        else:
            self.text(block.text, s.body, s.body_block)

    def text(self, text: str, char: QTextCharFormat, fmt: QTextBlockFormat) -> None:
        self._new_block(fmt, char)
        self.cur.insertText(text.replace("\r\n", "\n").replace("\n", LINE_BREAK), char)

    def boxed(self, text: str, char: QTextCharFormat, frame: QTextFrameFormat) -> None:
        """Text in a frame of its own (padding and a tint a block's background cannot give)."""
        self._collapse()
        qframe = self.cur.insertFrame(frame)
        self.cur.setBlockFormat(self.style.line_block)
        self.cur.insertText(text.replace("\r\n", "\n").replace("\n", LINE_BREAK), char)
        self._after(qframe.lastPosition())

    def _collapse(self) -> None:
        """An empty block left before a table or a frame (Qt keeps one there) takes no room."""
        if self._fresh:
            self.cur.setBlockFormat(self.style.collapsed)

    def _after(self, last: int) -> None:
        """Go on in the empty block Qt keeps after a table or a frame; it takes no room unless it is used."""
        self.cur.setPosition(last + 1)
        self.cur.setBlockFormat(self.style.collapsed)
        self._fresh = True

    def note(self, text: str, char: QTextCharFormat) -> None:
        self.text(text, char, self.style.body_block)

    def raw(self, text: str, char: QTextCharFormat) -> None:
        """Text as it came, one block a line (as it streamed in)."""
        self._new_block(self.style.line_block, char)
        self.cur.insertText(text, char)

    def image(self, name: str, image: QImage, longest: float) -> None:
        """``image`` in a block of its own, its longest side ``longest`` points."""
        self.cur.document().addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
        scale = longest / max(image.width(), image.height(), 1)
        fmt = QTextImageFormat()
        fmt.setName(name)
        fmt.setWidth(image.width() * scale)
        fmt.setHeight(image.height() * scale)
        self._new_block(self.style.body_block, self.style.body)
        self.cur.insertImage(fmt)

    def _new_block(self, fmt: QTextBlockFormat, char: QTextCharFormat) -> None:
        if self._fresh:
            self.cur.setBlockFormat(fmt)
            self.cur.setBlockCharFormat(char)
            self._fresh = False
        else:
            self.cur.insertBlock(fmt, char)

    def _item(self, item: ListItem) -> None:
        self._new_block(QTextBlockFormat(self.style.item_block), self.style.body)
        for depth in [d for d in self._lists if d > item.depth]:
            del self._lists[depth]
        current = self._lists.get(item.depth)
        if current is not None and current[0] == item.ordered:
            current[1].add(self.cur.block())  # type: ignore[attr-defined]
        else:
            lf = QTextListFormat()
            lf.setStyle(QTextListFormat.Style.ListDecimal if item.ordered else
                        (QTextListFormat.Style.ListDisc, QTextListFormat.Style.ListCircle,
                         QTextListFormat.Style.ListSquare)[item.depth % 3])
            lf.setIndent(item.depth + 1)
            if item.ordered and item.number is not None and hasattr(lf, "setStart"):
                lf.setStart(item.number)
            self._lists[item.depth] = (item.ordered, self.cur.createList(lf))
        self.cur.insertText(item.text.replace("\n", LINE_BREAK), self.style.body)

    def table(self, table: Table) -> None:
        placed = _placements(table)
        rows = len(table.rows)
        cols = max((c + cs for _, c, _, cs, _ in placed), default=0)
        if not rows or not cols:
            return
        s = self.style
        if rows * cols > self.max_cells:
            self.text(to_text(Page((table,))), s.code, s.code_block)
            return
        fmt = QTextTableFormat(s.table)
        header_rows = {r for r, _, _, _, cell in placed if cell.header}
        plain_rows = {r for r, _, _, _, cell in placed if not cell.header}
        headers = 0
        while headers < rows and headers in header_rows and headers not in plain_rows:
            headers += 1
        if headers < rows:
            fmt.setHeaderRowCount(headers)
        if self.table_tag is not None:
            fmt.setProperty(TABLE_KEY, self.table_tag(self._tables))
        self._tables += 1
        self._collapse()
        qtable = self.cur.insertTable(rows, cols, fmt)
        for r, c, rowspan, colspan, cell in placed:
            qcell = qtable.cellAt(r, c)
            if cell.header:
                cell_fmt = QTextTableCellFormat()
                cell_fmt.setBackground(s.header_fill)
                qcell.setFormat(cell_fmt)
            if cell.text:
                char = s.header_cell if cell.header else s.body
                qcell.firstCursorPosition().insertText(cell.text.replace("\n", LINE_BREAK), char)
        for r, c, rowspan, colspan, _ in placed:
            if rowspan > 1 or colspan > 1:
                qtable.mergeCells(r, c, rowspan, colspan)
        self._after(qtable.lastPosition())


def _collapsed() -> QTextBlockFormat:
    fmt = QTextBlockFormat()
    fmt.setLineHeight(0, QTextBlockFormat.LineHeightTypes.FixedHeight.value)
    return fmt


def _placements(table: Table) -> list[tuple[int, int, int, int, Cell]]:
    """Where each cell goes: (row, column, rowspan, colspan, cell), as ``Table.grid`` lays them out."""
    height = len(table.rows)
    taken: set[tuple[int, int]] = set()
    out = []
    for r, row in enumerate(table.rows):
        c = 0
        for cell in row:
            while (r, c) in taken:
                c += 1
            rowspan = min(max(cell.rowspan, 1), MAX_ROWSPAN, height - r)
            colspan = min(max(cell.colspan, 1), MAX_COLSPAN)
            taken.update((r + dr, c + dc) for dr in range(rowspan) for dc in range(colspan))
            out.append((r, c, rowspan, colspan, cell))
            c += colspan
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())
