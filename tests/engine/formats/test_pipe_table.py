"""Chart answers read as a table (PaddleOCR-VL "Chart Recognition:")."""

from engine.formats import pipe_table
from engine.formats.document import Cell, Paragraph, Table
from tests.engine.formats import samples


def test_paddle_chart_rows_with_the_first_line_as_header():
    (table,) = pipe_table.convert(samples.PADDLE_CHART).blocks
    assert table.rows[0] == (Cell("Month", header=True), Cell("Sales", header=True), Cell("Cost", header=True))
    assert [[c.text for c in row] for row in table.rows[1:]] == [["Jan", "120", "80"], ["Feb", "135", "90"],
                                                                  ["Mar", "150", "95"]]


def test_markdown_style_rows_and_a_title_line():
    blocks = pipe_table.convert("Sales by month\n| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |").blocks
    assert blocks == (Paragraph("Sales by month"),
                      Table(((Cell("a", header=True), Cell("b", header=True)),
                             (Cell("1"), Cell("2")), (Cell("3"), Cell("4")))))


def test_no_pipe_is_read_as_markdown():
    assert pipe_table.convert("The chart shows growth.").blocks == (Paragraph("The chart shows growth."),)


def test_every_cut_keeps_every_finished_row():
    text = samples.PADDLE_CHART
    for cut in range(len(text) + 1):
        rows = [r for b in pipe_table.convert(text[:cut]).blocks if isinstance(b, Table) for r in b.rows]
        finished = text[:cut].count("\n")
        assert [[c.text for c in r] for r in rows[:finished]] == [
            [c.strip() for c in line.split("|")] for line in text.split("\n")[:finished]], cut
