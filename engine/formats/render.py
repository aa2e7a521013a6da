"""Render a ``Page`` (or a document of pages) as plain text, Markdown, an HTML fragment, CSV/TSV or JSON.

- ``to_text``: what a user pastes into a plain editor. Tables are tab-separated rows (a
  spanned cell's text in its top-left position), formulas their LaTeX source.
- ``to_markdown``: tables without spans as pipe tables, tables with spans as HTML (which
  Markdown allows), display formulas in ``$$`` blocks.
- ``to_html``: a fragment, every text escaped; tables keep ``rowspan``/``colspan``; a formula
  is its LaTeX source in ``<div class="formula">`` (``<span>`` when inline).
- ``table_to_csv``: one table with its spans expanded to a grid, so a spreadsheet keeps the
  columns: the text in the top-left cell of a span, empty cells elsewhere.
- ``to_json``: a JSON-ready dict, ``{"blocks": [{"type": …, …}], "boxes": […]}``.

A document is a sequence of ``(heading, page)`` pairs, e.g. ``("Page 3", page)`` or
``("scan.png", page)``; ``document_to_*`` put each heading above its page (none when empty).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from html import escape

from engine.formats.document import Block, Box, Cell, Code, Formula, Heading, ListItem, Page, Paragraph, Table

Section = tuple[str, Page]
JSON_VERSION = 1

_TYPES = {Paragraph: "paragraph", Heading: "heading", ListItem: "list_item", Table: "table", Formula: "formula",
          Code: "code"}
_BACKTICKS = re.compile(r"`+")


def to_text(page: Page) -> str:
    return _join(page.blocks, _text_block)


def to_markdown(page: Page) -> str:
    return _join(page.blocks, _markdown_block)


def to_html(page: Page) -> str:
    out: list[str] = []
    items: list[ListItem] = []
    for block in page.blocks:
        if isinstance(block, ListItem):
            items.append(block)
            continue
        if items:
            out.append(_html_list(items))
            items = []
        out.append(_html_block(block))
    if items:
        out.append(_html_list(items))
    return "\n".join(out)


def table_to_csv(table: Table, delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row in table.grid():
        writer.writerow([cell.text if cell else "" for cell in row])
    return buffer.getvalue()


def to_json(page: Page) -> dict:
    return {"version": JSON_VERSION, **_json_page(page)}


def document_to_text(sections: Iterable[Section]) -> str:
    return "\n\n".join(_titled(heading, to_text(page), heading) for heading, page in sections)


def document_to_markdown(sections: Iterable[Section]) -> str:
    return "\n\n".join(_titled(heading, to_markdown(page), f"## {_one_line(heading)}") for heading, page in sections)


def document_to_html(sections: Iterable[Section]) -> str:
    parts = []
    for heading, page in sections:
        title = f"<h2>{escape(heading)}</h2>\n" if heading else ""
        parts.append(f"<section>\n{title}{to_html(page)}\n</section>")
    return "\n".join(parts)


def document_to_json(sections: Iterable[Section]) -> dict:
    return {"version": JSON_VERSION, "pages": [{"heading": heading, **_json_page(page)} for heading, page in sections]}


def _titled(heading: str, body: str, title: str) -> str:
    return f"{title}\n\n{body}" if heading else body


def _join(blocks: Sequence[Block], render: Callable[..., str]) -> str:
    out: list[str] = []
    numbers: dict[int, int] = {}
    indents: list[int] = []
    previous: Block | None = None
    for block in blocks:
        if isinstance(block, ListItem):
            text = render(block, _marker(block, numbers), indents)
        else:
            numbers.clear()
            indents.clear()
            text = render(block)
        if text == "":
            continue
        if out:
            out.append("\n" if isinstance(block, ListItem) and isinstance(previous, ListItem) else "\n\n")
        out.append(text)
        previous = block
    return "".join(out)


def _marker(item: ListItem, numbers: dict[int, int]) -> str:
    for depth in [d for d in numbers if d > item.depth]:
        del numbers[depth]
    if not item.ordered:
        numbers.pop(item.depth, None)
        return "-"
    number = item.number if item.number is not None else numbers.get(item.depth, 0) + 1
    numbers[item.depth] = number
    return f"{number}."


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _text_block(block: Block, marker: str = "", indents: list[int] | None = None) -> str:
    if isinstance(block, ListItem):
        pad = "  " * block.depth
        return pad + f"{marker} " + block.text.replace("\n", "\n" + pad + " " * (len(marker) + 1))
    if isinstance(block, Table):
        return "\n".join("\t".join(_flat(cell) for cell in row) for row in block.grid())
    if isinstance(block, Formula):
        return block.latex
    return block.text


def _flat(cell: Cell | None) -> str:
    return " ".join(cell.text.split()) if cell else ""


def _markdown_block(block: Block, marker: str = "", indents: list[int] | None = None) -> str:
    if isinstance(block, Heading):
        return "#" * min(max(block.level, 1), 6) + " " + _one_line(block.text)
    if isinstance(block, ListItem):
        return _markdown_item(block, marker, indents if indents is not None else [])
    if isinstance(block, Table):
        return _pipe_table(block) if not block.has_spans else _html_table(block)
    if isinstance(block, Formula):
        return f"$$\n{block.latex}\n$$" if block.display else f"${block.latex}$"
    if isinstance(block, Code):
        longest = max((len(run) for run in _BACKTICKS.findall(block.text)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}{_one_line(block.language)}\n{block.text}\n{fence}"
    return block.text


def _markdown_item(item: ListItem, marker: str, indents: list[int]) -> str:
    depth = min(item.depth, len(indents))
    del indents[depth:]
    pad = " " * sum(indents)
    indents.append(len(marker) + 1)
    return pad + f"{marker} " + item.text.replace("\n", "\n" + pad + " " * (len(marker) + 1))


def _pipe_table(table: Table) -> str:
    grid = table.grid()
    if not grid or not grid[0]:
        return ""
    lines = ["| " + " | ".join(_pipe_cell(cell) for cell in row) + " |" for row in grid]
    lines.insert(1, "|" + "|".join(" --- " for _ in grid[0]) + "|")
    return "\n".join(lines)


def _pipe_cell(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return cell.text.replace("|", "\\|").replace("\n", "<br>")


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        level = min(max(block.level, 1), 6)
        return f"<h{level}>{escape(block.text)}</h{level}>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Formula):
        tag = "div" if block.display else "span"
        return f'<{tag} class="formula">{escape(block.latex)}</{tag}>'
    if isinstance(block, Code):
        language = f' class="language-{escape(_one_line(block.language))}"' if block.language.strip() else ""
        return f"<pre><code{language}>{escape(block.text)}</code></pre>"
    return f"<p>{_html_text(block.text)}</p>"


def _html_text(text: str) -> str:
    return escape(text).replace("\n", "<br>\n")


def _html_table(table: Table) -> str:
    rows = []
    for r, row in enumerate(table.rows):
        cells = []
        for cell in row:
            tag = "th" if cell.header else "td"
            rowspan = min(cell.rowspan, len(table.rows) - r)
            spans = f' rowspan="{rowspan}"' if rowspan > 1 else ""
            spans += f' colspan="{cell.colspan}"' if cell.colspan > 1 else ""
            cells.append(f"<{tag}{spans}>{_html_text(cell.text)}</{tag}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _html_list(items: list[ListItem]) -> str:
    out: list[str] = []
    stack: list[str] = []
    for item in items:
        tag = "ol" if item.ordered else "ul"
        depth = min(item.depth, len(stack))
        while len(stack) > depth + 1 or (len(stack) == depth + 1 and stack[-1] != tag):
            out.append(f"</li></{stack.pop()}>")
        if len(stack) == depth + 1:
            out.append("</li>")
        else:
            start = f' start="{item.number}"' if item.ordered and item.number not in (None, 1) else ""
            out.append(f"<{tag}{start}>")
            stack.append(tag)
        out.append(f"<li>{_html_text(item.text)}")
    while stack:
        out.append(f"</li></{stack.pop()}>")
    return "".join(out)


def _json_page(page: Page) -> dict:
    return {"blocks": [_json_block(b) for b in page.blocks], "boxes": [_json_box(b) for b in page.boxes]}


def _json_block(block: Block) -> dict:
    data: dict = {"type": _TYPES[type(block)]}
    if isinstance(block, Table):
        data["rows"] = [[{"text": c.text, "rowspan": c.rowspan, "colspan": c.colspan, "header": c.header} for c in row]
                        for row in block.rows]
        return data
    data.update(vars(block))
    return data


def _json_box(box: Box) -> dict:
    return {"label": box.label, "x1": box.x1, "y1": box.y1, "x2": box.x2, "y2": box.y2}
