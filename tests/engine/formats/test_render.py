"""Rendering pages as text, Markdown, HTML, CSV/TSV and JSON."""

import csv
import io
import json

from engine.formats import html_table, markdown, otsl
from engine.formats.document import Box, Cell, Code, Formula, Heading, ListItem, Page, Paragraph, Table
from engine.formats.render import (
    document_to_html,
    document_to_json,
    document_to_markdown,
    document_to_text,
    table_to_csv,
    to_html,
    to_json,
    to_markdown,
    to_text,
)
from tests.engine.formats import samples

SIMPLE = Table((
    (Cell("Name", header=True), Cell("Note", header=True)),
    (Cell("pipe"), Cell("a | b")),
    (Cell("x"), Cell("y")),
))
SPANNED = otsl.convert(samples.OTSL_SPANNED).blocks[0]
PAGE = Page((
    Heading(1, "Report"),
    Paragraph("First line\nsecond line with $x^2$."),
    ListItem("one", True, 0, 1),
    ListItem("nested", False, 1),
    ListItem("two", True, 0, 2),
    SIMPLE,
    Formula("E = mc^2"),
    Code("print('```')", "python"),
), (Box("title", 0.1, 0.2, 0.3, 0.4),))


def _csv(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_text_has_tab_separated_table_rows_list_markers_and_formula_source():
    text = to_text(PAGE)
    assert "Name\tNote\npipe\ta | b\nx\ty" in text
    assert "1. one\n  - nested\n2. two" in text
    assert "E = mc^2" in text and text.startswith("Report\n\nFirst line\nsecond line")


def test_text_of_a_spanned_table_puts_the_text_in_its_top_left_position():
    assert to_text(Page((SPANNED,))).split("\n")[:2] == ["Region\t2023\t\t2024\t", "\tH1\tH2\tH1\tH2"]


def test_markdown_round_trips_through_the_markdown_converter():
    assert markdown.convert(to_markdown(PAGE)).blocks == PAGE.blocks


def test_markdown_escapes_pipes_and_writes_a_longer_fence():
    md = to_markdown(PAGE)
    assert "| pipe | a \\| b |" in md
    assert "````python\nprint('```')\n````" in md
    assert "$$\nE = mc^2\n$$" in md


def test_markdown_writes_a_spanned_table_as_html_that_reads_back_with_its_spans():
    md = to_markdown(Page((SPANNED,)))
    assert md.startswith("<table>") and 'rowspan="2"' in md and 'colspan="2"' in md
    assert markdown.convert(md).blocks == (SPANNED,)


def test_html_escapes_every_text():
    page = Page((Heading(2, "<b>x</b>"), Paragraph("<script>alert(1)</script>"),
                 Table(((Cell("<script>alert(2)</script>", header=True),),)), Formula("a < b & c"), Code("<i>")))
    html = to_html(page)
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<th>&lt;script&gt;alert(2)&lt;/script&gt;</th>" in html
    assert '<div class="formula">a &lt; b &amp; c</div>' in html


def test_html_tables_keep_their_spans_and_read_back_the_same():
    html = to_html(Page((SPANNED,)))
    assert '<td rowspan="2">Region</td><td colspan="2">2023</td>' in html
    assert html_table.parse_table(html) == SPANNED


def test_html_lists_nest_and_inline_formulas_are_spans():
    html = to_html(Page((ListItem("a", True, 0, 3), ListItem("b", False, 1), ListItem("c", True, 0, 4),
                         Formula("x", display=False))))
    assert html == ('<ol start="3"><li>a<ul><li>b</li></ul></li><li>c</li></ol>\n'
                    '<span class="formula">x</span>')


def test_csv_of_a_spanned_table_keeps_the_grid():
    assert _csv(table_to_csv(SPANNED)) == [
        ["Region", "2023", "", "2024", ""],
        ["", "H1", "H2", "H1", "H2"],
        ["North", "10", "12", "11", "13"],
        ["South", "7", "8", "", "9"],
    ]


def test_tsv_quotes_cells_holding_the_delimiter_or_a_line_break():
    table = Table(((Cell("a\tb"), Cell("line\nbreak"), Cell('say "hi"')),))
    assert _csv(table_to_csv(table, delimiter="\t"), "\t") == [["a\tb", "line\nbreak", 'say "hi"']]


def test_json_lists_typed_blocks_and_boxes():
    data = json.loads(json.dumps(to_json(PAGE)))
    assert [b["type"] for b in data["blocks"]] == [
        "heading", "paragraph", "list_item", "list_item", "list_item", "table", "formula", "code"]
    assert data["blocks"][5]["rows"][1][1] == {"text": "a | b", "rowspan": 1, "colspan": 1, "header": False}
    assert data["blocks"][6] == {"type": "formula", "latex": "E = mc^2", "display": True}
    assert data["boxes"] == [{"label": "title", "x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.4}]


def test_documents_put_each_heading_above_its_page():
    pages = [("Page 1", Page((Paragraph("one"),))), ("", Page((Paragraph("two"),))), ("Page 3", Page())]
    assert document_to_text(pages) == "Page 1\n\none\n\ntwo\n\nPage 3\n\n"
    assert document_to_markdown(pages).startswith("## Page 1\n\none\n\ntwo")
    html = document_to_html(pages)
    assert html.count("<section>") == 3 and "<h2>Page 1</h2>" in html and "<h2>Page 3</h2>" in html
    data = document_to_json(pages)
    assert [p["heading"] for p in data["pages"]] == ["Page 1", "", "Page 3"]
    assert data["pages"][0]["blocks"] == [{"type": "paragraph", "text": "one"}]
