"""The result view renders each finished page from its answer format: tables as QTextTables with their spans,
headings, lists, code and formulas; raw text on request; a table copied alone; boxes drawn over the page."""

from __future__ import annotations

import csv
import io

from PySide6.QtGui import QGuiApplication, QTextCursor, QTextFrame, QTextTable

from desktop.views.result_view import ResultView
from engine.jobs import JobResult, JobStatus, PageProgress, PageResult, PageSource, TextDelta
from tests.engine.formats import samples


def _view(qtbot) -> ResultView:
    view = ResultView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    return view


def _stream(view, job, page, raw, output, pages=1, parts=7, path="/d/scan.png", finish=True):
    view.begin_page(PageProgress(job, path, page, pages))
    for i in range(0, len(raw), parts):
        view.append(TextDelta(job, page, raw[i:i + parts]))
    if finish:
        view.finish_page(PageResult(job, path, page, pages, raw, PageSource.MODEL, output=output))


def _settled(qtbot, view) -> None:
    qtbot.waitUntil(lambda: not view.rendering(), timeout=3000)


def _frames(view, kind=QTextFrame) -> list:
    out, todo = [], list(view.document().rootFrame().childFrames())
    while todo:
        frame = todo.pop(0)
        if isinstance(frame, kind):
            out.append(frame)
        todo += frame.childFrames()
    return out


def _tables(view) -> list[QTextTable]:
    return [f for f in view.document().rootFrame().childFrames() if isinstance(f, QTextTable)]


def _cell(table: QTextTable, r: int, c: int) -> str:
    cell = table.cellAt(r, c)
    cur = cell.firstCursorPosition()
    cur.setPosition(cell.lastCursorPosition().position(), QTextCursor.MoveMode.KeepAnchor)
    return cur.selectedText()


def test_an_otsl_table_page_becomes_a_qtexttable_with_its_rows_columns_and_spans(qtbot):
    view = _view(qtbot)
    _stream(view, 1, 1, samples.OTSL_SPANNED, "otsl")
    assert "<fcel>" in view.toPlainText()  # while it streamed, and until it is rendered: the raw answer
    _settled(qtbot, view)
    assert "<fcel>" not in view.toPlainText()
    [table] = _tables(view)
    assert (table.rows(), table.columns()) == (4, 5)
    region, y2023, y2024 = table.cellAt(0, 0), table.cellAt(0, 1), table.cellAt(0, 3)
    assert (region.rowSpan(), region.columnSpan()) == (2, 1)
    assert (y2023.rowSpan(), y2023.columnSpan()) == (1, 2) and (y2024.rowSpan(), y2024.columnSpan()) == (1, 2)
    assert table.cellAt(1, 0).row() == 0  # covered by "Region"
    assert [_cell(table, 0, c) for c in (0, 1, 3)] == ["Region", "2023", "2024"]
    assert [_cell(table, 1, c) for c in range(1, 5)] == ["H1", "H2", "H1", "H2"]
    assert [_cell(table, 3, c) for c in range(5)] == ["South", "7", "8", "", "9"]
    assert view.toPlainText().startswith("scan.png · page 1 of 1")  # the heading stays as it was


def test_an_html_table_keeps_its_spans_and_header_cells_are_bold(qtbot):
    view = _view(qtbot)
    _stream(view, 1, 1, samples.GLM_TABLE, "html")
    _settled(qtbot, view)
    [table] = _tables(view)
    assert (table.rows(), table.columns()) == (4, 3)
    assert (table.cellAt(0, 0).rowSpan(), table.cellAt(0, 1).columnSpan()) == (2, 2)
    assert _cell(table, 2, 0) == "Grants & subsidies"  # the entity decoded, the text shown as text
    view.clear_results()
    _stream(view, 2, 1, samples.LIGHTON_PAGE, "markdown")
    _settled(qtbot, view)
    [table] = _tables(view)
    header = table.cellAt(0, 0).firstCursorPosition().charFormat()
    body = table.cellAt(1, 0).firstCursorPosition().charFormat()
    assert _cell(table, 0, 0) == "Split" and header.fontWeight() > body.fontWeight()


def test_headings_lists_code_and_formulas_are_rendered_with_their_own_formats(qtbot):
    view = _view(qtbot)
    _stream(view, 1, 1, samples.LIGHTON_PAGE, "markdown")
    _stream(view, 1, 2, samples.GLM_TEXT, "markdown", pages=2)
    _settled(qtbot, view)
    doc = view.document()
    blocks = {}
    block = doc.begin()
    while block.isValid():
        blocks.setdefault(block.text(), block)
        block = block.next()
    assert blocks["Results"].blockFormat().headingLevel() == 1
    assert blocks["2. Installation"].blockFormat().headingLevel() == 2
    numbered = blocks["Lower is better."]
    assert numbered.textList() is not None and numbered.textList().count() == 2
    assert blocks["create a virtual environment"].textList() is not None
    code = blocks["pip install -e ."]
    formula = blocks["\\mathrm{MAE} = \\frac{1}{n} \\sum_{i} |y_i - \\hat{y}_i|"]  # LaTeX source, no $$
    body = blocks["Install the package and run the parser:"]
    for boxed in (code, formula):
        char = QTextCursor(boxed).charFormat()
        assert char.fontFixedPitch() or char.font().fixedPitch() or "mono" in char.font().family().lower()
        assert QTextCursor(boxed).currentFrame() is not doc.rootFrame()  # in a tinted frame of its own
    assert QTextCursor(body).currentFrame() is doc.rootFrame()
    assert QTextCursor(formula).charFormat().foreground() != QTextCursor(body).charFormat().foreground()
    assert "$$" not in view.toPlainText() and "```" not in view.toPlainText()


def test_a_formula_of_several_lines_stays_one_formula_with_its_lines(qtbot):
    view = _view(qtbot)
    _stream(view, 1, 1, samples.GLM_FORMULA_ALIGNED, "latex")
    _settled(qtbot, view)
    [frame] = [f for f in _frames(view) if not isinstance(f, QTextTable)]
    block = frame.firstCursorPosition().block()
    assert block.text().split("\u2028") == ["\\begin{aligned}", "f(x) &= (x + 1)^{2} \\\\", "&= x^{2} + 2x + 1",
                                            "\\end{aligned}"]
    assert "$$" not in view.toPlainText()


def test_a_stream_cut_mid_table_still_renders(qtbot):
    view = _view(qtbot)
    cut = samples.OTSL_SIMPLE[: samples.OTSL_SIMPLE.index("0.90") - 4]  # "…<fcel>Pear<fcel>5<fc"
    _stream(view, 1, 1, cut, "otsl")  # the token limit ended it there
    _settled(qtbot, view)
    [table] = _tables(view)
    assert (table.rows(), table.columns()) == (3, 3)
    assert [_cell(table, 2, c) for c in range(3)] == ["Pear", "5", ""]
    # cancelled while streaming: what came is rendered, and the page says it was cut
    view.set_job_output(2, "otsl")
    _stream(view, 2, 1, samples.OTSL_SPANNED[:70], "otsl", finish=False)
    view.end_job(JobResult(2, "/d/scan.png", JobStatus.CANCELLED))
    assert len(_tables(view)) == 2
    assert view.toPlainText().rstrip().endswith("— cancelled —")
    assert view.sections[-1].text == samples.OTSL_SPANNED[:70]  # the raw answer is kept as it came


def test_many_stored_pages_show_at_once_and_render_over_the_next_turns(qtbot):
    """A long document from the history: its text is there at once, its tables come a slice at a time."""
    view = _view(qtbot)
    view.show_pages([PageResult(-1, "/d/big.pdf", n, 40, samples.GLM_TABLE, PageSource.MODEL, output="html")
                     for n in range(1, 41)])
    assert view.rendering() and len(_tables(view)) < 40  # not all in the one call
    assert "big.pdf · page 40 of 40" in view.toPlainText()
    _settled(qtbot, view)
    assert len(_tables(view)) == 40 and "<table" not in view.toPlainText()
    assert [s.page for s in view.sections] == list(range(1, 41))
    assert view.section_at(len(view.toPlainText()) - 1) is view.sections[-1]


def test_show_raw_text_shows_the_answer_as_written_and_back(qtbot):
    view = _view(qtbot)
    _stream(view, 1, 1, samples.OTSL_SIMPLE, "otsl", pages=2)
    _stream(view, 1, 2, "Layer text", "", pages=2)
    _settled(qtbot, view)
    view.set_show_raw(True)
    qtbot.waitUntil(lambda: samples.OTSL_SIMPLE in view.toPlainText(), timeout=3000)
    assert _tables(view) == []
    assert "page 1 of 2" in view.toPlainText() and "Layer text" in view.toPlainText()
    view.set_show_raw(False)
    qtbot.waitUntil(lambda: len(_tables(view)) == 1, timeout=3000)
    assert "<fcel>" not in view.toPlainText()
    assert view.section_at(len(view.toPlainText()) - 1) is view.sections[1]  # sections still find their pages


def test_copy_a_table_alone_as_tsv_or_csv_from_its_context_menu(qtbot):
    view = _view(qtbot)
    _stream(view, 1, 1, "Intro line.", "markdown", pages=2)
    _stream(view, 1, 2, samples.GLM_TABLE, "html", pages=2)
    _settled(qtbot, view)
    outside = view.context_menu(view.cursorRect(QTextCursor(view.document())).center())
    assert outside.findChild(type(outside.actions()[0]), "copyTableTsv") is None
    [table] = _tables(view)
    inside = QTextCursor(table.cellAt(2, 1).firstCursorPosition())
    menu = view.context_menu(view.cursorRect(inside).center())
    names = [a.objectName() for a in menu.actions()]
    assert "copyTableTsv" in names and "copyTableCsv" in names
    QGuiApplication.clipboard().clear()
    next(a for a in menu.actions() if a.objectName() == "copyTableTsv").trigger()
    rows = list(csv.reader(io.StringIO(QGuiApplication.clipboard().text()), delimiter="\t"))
    assert rows == [["Item", "Amount", ""], ["", "This period", "Last period"],
                    ["Grants & subsidies", "10,102,396.61", "6,417,015.44"], ["Disposal gains", "-342,273.79", ""]]
    next(a for a in menu.actions() if a.objectName() == "copyTableCsv").trigger()
    assert list(csv.reader(io.StringIO(QGuiApplication.clipboard().text()))) == rows


def test_show_boxes_draws_the_grounded_page_under_its_heading(qtbot, tmp_path):
    from PIL import Image

    page = tmp_path / "sheet.png"
    Image.new("RGB", (500, 700), "white").save(page)
    view = _view(qtbot)
    _stream(view, 1, 1, samples.DEEPSEEK_GROUNDED, "grounded-markdown", path=str(page))
    _settled(qtbot, view)
    assert "<|ref|>" not in view.toPlainText() and "Exercise sheet 3" in view.toPlainText()
    section = view.sections[0]
    assert len(section.document().boxes) == 7
    view.set_show_boxes(True)
    qtbot.waitUntil(lambda: section.preview_state == "ready", timeout=10_000)
    _settled(qtbot, view)
    picture = section.preview
    x1, y1 = [round(v * s) for v, s in zip((0.5 * (115 + 488) / 999, 166 / 999), (picture.width(), picture.height()))]
    red = picture.pixelColor(x1, y1)  # the top edge of the "title" box
    assert red.red() > 150 and red.green() < 120
    assert picture.pixelColor(picture.width() // 2, picture.height() - 5).lightness() > 240  # white page elsewhere
    images = [fmt for fmt in _char_formats(view) if fmt.isImageFormat()]
    assert len(images) == 1
    heading_end = view.toPlainText().index("page 1 of 1") + len("page 1 of 1")
    assert view.toPlainText()[heading_end + 1] == "\ufffc"  # the picture comes right under the heading
    view.set_show_boxes(False)
    qtbot.waitUntil(lambda: not [f for f in _char_formats(view) if f.isImageFormat()], timeout=3000)


def test_show_boxes_on_a_file_that_is_gone_leaves_the_page_as_it_is(qtbot, tmp_path):
    view = _view(qtbot)
    _stream(view, 1, 1, samples.DEEPSEEK_GROUNDED, "grounded-markdown", path=str(tmp_path / "gone.png"))
    _settled(qtbot, view)
    before = view.toPlainText()
    view.set_show_boxes(True)
    qtbot.waitUntil(lambda: view.sections[0].preview_state == "failed", timeout=10_000)
    assert view.toPlainText() == before


def _char_formats(view):
    block = view.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            yield it.fragment().charFormat()
            it += 1
        block = block.next()
