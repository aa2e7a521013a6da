"""Copy and Save As of rendered results: text, HTML and Markdown on the clipboard (a table pasted into a
spreadsheet keeps its cells), and .md, .txt, .html, .json and (one table) .csv files."""

from __future__ import annotations

import csv
import io
import json
import os
from html.parser import HTMLParser

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from desktop.export import CSV_FILTER, clipboard_texts, kind_for
from desktop.views.main_window import MainWindow
from engine.jobs import JobStatus, PageResult, PageSource
from engine.settings import Settings
from engine.testing import samples as documents
from tests.engine.formats import samples

from .conftest import Jobs, action, checkbox


class Cells(HTMLParser):
    """The rows of every <table> in an HTML text: each cell's text with its rowspan and colspan."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, int, int]]]] = []
        self._cell: list[str] | None = None
        self._spans = (1, 1)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell, self._spans = [], (int(attrs.get("rowspan", 1)), int(attrs.get("colspan", 1)))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(("".join(self._cell).strip(), *self._spans))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _cells(html: str):
    parser = Cells()
    parser.feed(html)
    return parser.tables


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(w)
    return w


def _pages(*specs, record: int = 1):
    """(raw answer, format) -> stored pages of one document, as the history gives them back."""
    return [PageResult(-record, "/d/report.pdf", n, len(specs), raw, PageSource.MODEL, output=fmt)
            for n, (raw, fmt) in enumerate(specs, 1)]


def test_copy_puts_text_html_and_markdown_and_the_html_table_has_the_tables_cells(window):
    window.show_pages(_pages((samples.GLM_TABLE, "html"), ("Totals are in euros.", "plain")))
    QGuiApplication.clipboard().clear()
    copied = window.copy_text()
    data = QGuiApplication.clipboard().mimeData()
    assert {"text/plain", "text/html", "text/markdown"} <= set(data.formats())
    assert data.text() == copied
    rows = [line.split("\t") for line in copied.splitlines()]
    assert rows[:4] == [["Item", "Amount", ""], ["", "This period", "Last period"],
                        ["Grants & subsidies", "10,102,396.61", "6,417,015.44"], ["Disposal gains", "-342,273.79", ""]]
    assert copied.rstrip().endswith("Totals are in euros.") and "report.pdf · page" not in copied  # no headings
    [table] = _cells(data.html())  # what a spreadsheet or a word processor reads from the paste
    assert table == [[("Item", 2, 1), ("Amount", 1, 2)], [("This period", 1, 1), ("Last period", 1, 1)],
                     [("Grants & subsidies", 1, 1), ("10,102,396.61", 1, 1), ("6,417,015.44", 1, 1)],
                     [("Disposal gains", 1, 1), ("-342,273.79", 1, 1), ("", 1, 1)]]
    assert 'border="1"' in data.html()  # the table's lines survive a paste without a style sheet
    markdown = bytes(data.data("text/markdown")).decode()
    assert "<table>" in markdown and 'rowspan="2"' in markdown and "Totals are in euros." in markdown


def test_copy_of_a_selection_keeps_the_table_in_it(window, qtbot):
    from PySide6.QtGui import QTextCursor

    window.show_pages(_pages(("Before the table.", "plain"), (samples.GLM_TABLE, "html")))
    view = window.result_view
    qtbot.waitUntil(lambda: not view.rendering(), timeout=3000)
    cursor = QTextCursor(view.document())
    cursor.setPosition(view.toPlainText().index("Before"))
    cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
    view.setTextCursor(cursor)
    QGuiApplication.clipboard().clear()
    copied = window.copy_text()
    assert copied.startswith("Before the table.") and "Grants & subsidies" in copied
    data = QGuiApplication.clipboard().mimeData()
    assert {"text/plain", "text/html", "text/markdown"} <= set(data.formats())
    [table] = _cells(data.html())
    assert table[0][0] == ("Item", 2, 1) and table[2][0][0] == "Grants & subsidies"
    assert "Grants & subsidies" in bytes(data.data("text/markdown")).decode()


def test_copy_with_raw_text_shown_copies_the_answer_as_written(window):
    window.show_pages(_pages((samples.OTSL_SIMPLE, "otsl")))
    window.show_raw_action.setChecked(True)
    QGuiApplication.clipboard().clear()
    assert window.copy_text() == samples.OTSL_SIMPLE + "\n"
    assert "text/html" not in QGuiApplication.clipboard().mimeData().formats()


def test_a_large_document_is_prepared_off_the_gui_thread(window, qtbot, monkeypatch):
    from desktop import export

    monkeypatch.setattr(export, "INLINE_CHARS", 10)
    window.show_pages(_pages((samples.OTSL_SIMPLE, "otsl"), (samples.GLM_TEXT, "markdown")))
    QGuiApplication.clipboard().clear()
    assert window.copy_text() == ""  # not yet: it is being prepared
    qtbot.waitUntil(lambda: "text/html" in _formats(), timeout=5000)
    assert QGuiApplication.clipboard().text().startswith("Name\tQty\tPrice\n")


def _formats() -> list[str]:
    data = QGuiApplication.clipboard().mimeData()
    return data.formats() if data is not None else []


def _save(window, qtbot, path) -> str:
    assert window.write_text_file(str(path))
    qtbot.waitUntil(lambda: os.path.exists(path), timeout=5000)
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def test_save_as_writes_each_kind_and_offers_csv_only_for_one_table(window, qtbot, tmp_path):
    window.show_pages(_pages((samples.OTSL_SPANNED, "otsl")))
    assert CSV_FILTER[0] in window.save_filters()
    table = list(csv.reader(io.StringIO(_save(window, qtbot, tmp_path / "sales.csv"))))
    assert table[0] == ["Region", "2023", "", "2024", ""] and table[3] == ["South", "7", "8", "", "9"]
    md = _save(window, qtbot, tmp_path / "sales.md")
    assert md.startswith("<table>") and 'colspan="2"' in md  # one page: no heading; spans kept as HTML
    html = _save(window, qtbot, tmp_path / "sales.html")
    assert html.startswith("<!DOCTYPE html>") and "<h2>report.pdf · page 1 of 1</h2>" in html
    assert _cells(html)[0][0] == [("Region", 2, 1), ("2023", 1, 2), ("2024", 1, 2)]
    txt = _save(window, qtbot, tmp_path / "sales.txt")
    assert txt.splitlines()[0] == "Region\t2023\t\t2024\t"
    assert not list(tmp_path.glob("*.partial"))
    window.show_pages(_pages((samples.GLM_TABLE, "html"), record=2))  # two tables now: no CSV
    assert CSV_FILTER[0] not in window.save_filters()
    assert not window.write_text_file(str(tmp_path / "two.csv"))
    assert "a CSV file holds one table" in window.messages.text()
    window.save_as()
    dialog = window.findChild(QFileDialog, "saveDialog")
    assert dialog.nameFilters() == list(window.save_filters())
    dialog.reject()
    assert (kind_for("a.JSON"), kind_for("a.htm"), kind_for("a.markdown"), kind_for("a")) == ("json", "html", "md",
                                                                                            "txt")


def test_clipboard_texts_are_pure_and_follow_the_pages():
    from engine.page_formats import convert_page

    pages = _pages((samples.PADDLE_FORMULA, "latex"))
    texts = clipboard_texts(pages, [convert_page(p) for p in pages])
    assert texts["text/plain"] == "\\frac{a}{b}=\\sum_{i=1}^{n} x_{i}^{2}\n"
    assert '<div class="formula">' in texts["text/html"] and texts["text/markdown"].startswith("$$\n\\frac")


def test_a_mixed_pdf_round_trips_through_the_json_export(qtbot, make_app, tmp_path):
    """Text-layer and model pages saved as .json and read back: pages, sources, raw and converted text."""
    app = make_app()
    jobs = Jobs(app.engine)
    pdf = documents.write_pdf(tmp_path / "mixed.pdf", pages=3, text_pages={2})
    app.submit([pdf])
    [result] = jobs.wait(qtbot, 1)
    assert result.status == JobStatus.DONE
    view = app.window.result_view
    qtbot.waitUntil(lambda: not view.rendering(), timeout=5000)
    saved = json.loads(_save(app.window, qtbot, tmp_path / "mixed.json"))
    assert saved["version"] == 1
    pages = saved["pages"]
    assert [(p["page"], p["pages"], p["source"]) for p in pages] == [
        (1, 3, "model"), (2, 3, "text-layer"), (3, 3, "model")]
    assert [p["raw"] for p in pages] == [jobs.streamed(result.job_id, n) for n in (1, 2, 3)]  # as the engine gave it
    assert [p["format"] for p in pages] == ["markdown", "plain", "markdown"]  # a custom model's; a text layer's
    assert pages[1]["heading"] == "mixed.pdf · page 2 of 3 (text layer)"
    assert "Page 2" in pages[1]["text"] and pages[1]["blocks"][0]["type"] == "paragraph"
    for page in pages:
        assert page["path"] == str(pdf) and isinstance(page["boxes"], list)
        assert "\n".join(b["text"] for b in page["blocks"] if "text" in b).split() == page["text"].split()
    model = pages[0]
    assert model["generation_tokens"] > 0 and model["seconds"] > 0 and model["model"].startswith("tiny-model")


def test_copy_when_done_puts_the_same_three_kinds(qtbot, make_app, tmp_path):
    app = make_app()
    jobs = Jobs(app.engine)
    checkbox(app, "autoCopy").setChecked(True)
    QGuiApplication.clipboard().clear()
    app.submit([documents.write_pdf(tmp_path / "auto.pdf", pages=1, text_pages={1})])
    jobs.wait(qtbot, 1)
    data = QGuiApplication.clipboard().mimeData()
    assert {"text/plain", "text/html", "text/markdown"} <= set(data.formats())
    assert "Page 1" in data.text() and "<p>Page 1" in data.html()
    assert action(app, "copyText").isEnabled()
