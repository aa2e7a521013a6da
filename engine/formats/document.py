"""The document model every model answer is converted to: a page of blocks and grounding boxes.

Small frozen dataclasses, no behaviour beyond laying out a table's grid. A ``Table`` lists its
rows the way HTML does: each row holds the cells that *start* in it, and a cell's row and
column spans cover grid positions in later rows and columns. ``Table.grid()`` places the
cells (HTML's table-forming algorithm: each cell goes to the first free column of its row).

Coordinates of a ``Box`` are normalised to 0–1 floats relative to the image the model was
shown, origin at the top-left corner, x to the right and y down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_COLSPAN = 1000  # the HTML standard's limits; larger values are clamped to these
MAX_ROWSPAN = 65534


@dataclass(frozen=True)
class Paragraph:
    """Running text; inline math stays in the text as ``$…$`` or ``\\(…\\)``; ``\\n`` is a line break."""

    text: str


@dataclass(frozen=True)
class Heading:
    level: int  # 1–6
    text: str


@dataclass(frozen=True)
class ListItem:
    text: str
    ordered: bool = False
    depth: int = 0  # 0 for a top-level item
    number: int | None = None  # the number the source gave an ordered item


@dataclass(frozen=True)
class Cell:
    text: str
    rowspan: int = 1
    colspan: int = 1
    header: bool = False


@dataclass(frozen=True)
class Table:
    rows: tuple[tuple[Cell, ...], ...]

    def grid(self) -> list[list[Cell | None]]:
        """The table as a full rectangle: a cell at its top-left position, ``None`` where a span covers
        or where a short row left a hole. Row spans are clipped at the last row."""
        height = len(self.rows)
        taken: dict[tuple[int, int], Cell | None] = {}
        width = 0
        for r, row in enumerate(self.rows):
            c = 0
            for cell in row:
                while (r, c) in taken:
                    c += 1
                rowspan = min(max(cell.rowspan, 1), MAX_ROWSPAN, height - r)
                colspan = min(max(cell.colspan, 1), MAX_COLSPAN)
                for dr in range(rowspan):
                    for dc in range(colspan):
                        taken[(r + dr, c + dc)] = None
                taken[(r, c)] = cell
                c += colspan
                width = max(width, c)
        return [[taken.get((r, c)) for c in range(width)] for r in range(height)]

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        grid = self.grid()
        return len(grid[0]) if grid else 0

    @property
    def has_spans(self) -> bool:
        return any(cell.rowspan > 1 or cell.colspan > 1 for row in self.rows for cell in row)


@dataclass(frozen=True)
class Formula:
    latex: str  # the LaTeX source, without ``$$`` / ``\\[ \\]`` wrappers
    display: bool = True


@dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


Block = Paragraph | Heading | ListItem | Table | Formula | Code


@dataclass(frozen=True)
class Box:
    """A region the model grounded, e.g. DeepSeek-OCR's ``<|ref|>title<|/ref|><|det|>[[…]]<|/det|>``."""

    label: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Page:
    blocks: tuple[Block, ...] = ()
    boxes: tuple[Box, ...] = field(default=())
