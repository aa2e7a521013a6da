"""HTML tables (GLM-OCR "Table Recognition:", the tables inside Markdown and DeepSeek-OCR answers)."""

import re

import pytest

from engine.formats import html_table
from engine.formats.document import Cell, Paragraph, Table
from tests.engine.formats import samples


def _table(text: str) -> Table:
    tables = [b for b in html_table.convert(text).blocks if isinstance(b, Table)]
    assert len(tables) == 1
    return tables[0]


def test_glm_table_keeps_row_and_column_spans_and_decodes_entities():
    table = _table(samples.GLM_TABLE)
    assert table.rows[0] == (Cell("Item", rowspan=2), Cell("Amount", colspan=2))
    assert table.rows[2][0].text == "Grants & subsidies"
    assert (table.n_rows, table.n_cols) == (4, 3)
    assert [[c.text if c else None for c in row] for row in table.grid()][:2] == [
        ["Item", "Amount", None], [None, "This period", "Last period"]]


def test_th_and_thead_cells_are_headers():
    table = _table("<table><thead><tr><td>a</td></tr></thead><tbody><tr><th>b</th><td>c</td></tr></tbody></table>")
    assert [[c.header for c in row] for row in table.rows] == [[True], [True, False]]


def test_nested_tags_are_stripped_white_space_folded_and_br_kept():
    cell = "<b>bold</b>\n   and <i>it</i><br/>next <span class='x'>line</span>"
    table = _table(f"<table><tr><td>{cell}</td></tr></table>")
    assert table.rows[0][0].text == "bold and it\nnext line"


def test_a_nested_table_joins_the_text_of_its_cell():
    table = _table("<table><tr><td>outer <table><tr><td>in1</td><td>in2</td></tr></table></td><td>b</td></tr></table>")
    assert [" ".join(c.text.split()) for c in table.rows[0]] == ["outer in1 in2", "b"]


def test_cells_without_tr_and_text_outside_cells():
    page = html_table.convert("Title<table>stray<td>a</td><td>b</td></table><p>after</p>")
    assert page.blocks == (Paragraph("Title"), Paragraph("stray"), Table(((Cell("a"), Cell("b")),)), Paragraph("after"))


@pytest.mark.parametrize("value, span", [
    ("3", 3), (" 2 ", 2), ("2.5", 2), ("abc", 1), ("", 1), ("0", 1), ("99999", 1000),
])
def test_odd_colspan_values(value, span):
    assert _table(f'<table><tr><td colspan="{value}">a</td></tr></table>').rows[0][0].colspan == span


def test_malformed_markup_keeps_what_was_read():
    page = html_table.convert("<table><tr><td>a</td><td>b<![foo")
    assert page.blocks[0].rows[0][0] == Cell("a")


def test_an_answer_without_an_html_table_is_read_as_markdown():
    assert html_table.convert("just text\n\nmore").blocks == (Paragraph("just text"), Paragraph("more"))
    table = html_table.convert("| a | b |\n|---|---|\n| 1 | 2 |").blocks[0]
    assert table == Table(((Cell("a", header=True), Cell("b", header=True)), (Cell("1"), Cell("2"))))


def test_every_cut_keeps_every_closed_cell_and_no_tag_text():
    text = samples.GLM_TABLE
    for cut in range(len(text) + 1):
        page = html_table.convert(text[:cut])
        cells = [c.text for b in page.blocks if isinstance(b, Table) for row in b.rows for c in row]
        closed = re.findall(r"<td[^>]*>([^<]*)</td>", text[:cut])
        assert cells[:len(closed)] == [c.replace("&amp;", "&") for c in closed], cut
        assert not any("<" in b.text for b in page.blocks if isinstance(b, Paragraph)), cut
