"""OTSL tables (PaddleOCR-VL "Table Recognition:"), read with PaddleX's semantics."""

import re

from engine.formats import otsl
from engine.formats.document import Cell, Paragraph, Table
from tests.engine.formats import samples


def _table(text: str) -> Table:
    (table,) = otsl.convert(text).blocks
    assert isinstance(table, Table)
    return table


def _grid(table: Table) -> list[list[str | None]]:
    return [[cell.text if cell else None for cell in row] for row in table.grid()]


def test_simple_table():
    table = _table(samples.OTSL_SIMPLE)
    assert _grid(table) == [["Name", "Qty", "Price"], ["Apple", "3", "1.20"], ["Pear", "5", "0.90"]]
    assert not table.has_spans


def test_lcel_and_ucel_make_column_and_row_spans():
    table = _table(samples.OTSL_SPANNED)
    assert table.rows[0] == (Cell("Region", rowspan=2), Cell("2023", colspan=2), Cell("2024", colspan=2))
    assert _grid(table) == [
        ["Region", "2023", None, "2024", None],
        [None, "H1", "H2", "H1", "H2"],
        ["North", "10", "12", "11", "13"],
        ["South", "7", "8", "", "9"],
    ]


def test_xcel_extends_both_ways():
    table = _table(samples.OTSL_BLOCK)
    assert table.rows[0][0] == Cell("Total", rowspan=3, colspan=2)
    assert _grid(table) == [["Total", None, "x"], [None, None, "y"], [None, None, "z"]]


def test_rows_are_evened_out_like_paddlex():
    # lengths 3, 2, 4: PaddleX picks width 3 (the least total change);
    # the short row gets an <ecel>, the long one loses its tail
    table = _table("<fcel>a<fcel>b<fcel>c<nl><fcel>d<fcel>e<nl><fcel>f<fcel>g<fcel>h<ecel><nl>")
    assert _grid(table) == [["a", "b", "c"], ["d", "e", ""], ["f", "g", "h"]]


def test_width_never_cuts_a_text_cell():
    table = _table("<fcel>a<nl><fcel>b<nl><fcel>c<fcel>d<fcel>e<nl>")
    assert _grid(table) == [["a", "", ""], ["b", "", ""], ["c", "d", "e"]]


def test_orphan_merge_tags_are_empty_cells_and_text_before_a_row_is_dropped():
    table = _table("caption<lcel><fcel>a<nl><ucel><fcel>b<nl>")
    assert _grid(table) == [["", "a"], ["", "b"]]


def test_overlapping_spans_stop_before_another_cell():
    table = _table("<fcel>a<lcel><nl><ucel><fcel>b<nl>")
    assert table.rows[0][0] == Cell("a", colspan=2)
    assert _grid(table) == [["a", None], ["", "b"]]


def test_an_answer_without_cell_tags_is_read_as_markdown():
    assert otsl.convert("no table here").blocks == (Paragraph("no table here"),)
    assert otsl.convert("").blocks == ()
    assert otsl.convert("<nl><lcel>").blocks == ()


def test_every_cut_keeps_every_finished_cell():
    for sample in (samples.OTSL_SIMPLE, samples.OTSL_SPANNED, samples.OTSL_BLOCK):
        for cut in range(len(sample) + 1):
            page = otsl.convert(sample[:cut])
            texts = [c.text for b in page.blocks if isinstance(b, Table) for row in b.rows for c in row if c.text]
            finished = [t for t in re.findall(r"<fcel>([^<]*)(?=<)", sample[:cut]) if t]
            assert texts[:len(finished)] == finished, cut
            assert not any("<" in t for t in texts), cut
