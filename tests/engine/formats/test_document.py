"""The document model: a table's grid follows HTML's table model (spans, holes, clipped row spans)."""

from engine.formats.document import Cell, Table


def _texts(table: Table) -> list[list[str | None]]:
    return [[cell.text if cell else None for cell in row] for row in table.grid()]


def test_grid_places_spanned_cells_at_their_top_left_and_covers_the_rest():
    table = Table((
        (Cell("Region", rowspan=2), Cell("2023", colspan=2)),
        (Cell("H1"), Cell("H2")),
        (Cell("North"), Cell("10"), Cell("12")),
    ))
    assert _texts(table) == [["Region", "2023", None], [None, "H1", "H2"], ["North", "10", "12"]]
    assert (table.n_rows, table.n_cols, table.has_spans) == (3, 3, True)


def test_short_rows_leave_holes_and_row_spans_stop_at_the_last_row():
    table = Table(((Cell("a"), Cell("b"), Cell("c")), (Cell("d", rowspan=5),)))
    assert _texts(table) == [["a", "b", "c"], ["d", None, None]]
    assert not Table(((Cell("a"),),)).has_spans


def test_an_empty_table_has_no_columns():
    assert Table(()).grid() == [] and Table(()).n_cols == 0
    assert Table(((),)).n_cols == 0
