"""The result view on its own: sections, headings, streaming in batches, export."""

from __future__ import annotations

from desktop.views.result_view import TEXT_LAYER_LABEL, ResultView
from engine.jobs import JobResult, JobStatus, PageProgress, PageResult, PageSource, TextDelta


def _page(view, job, path, page, pages, parts, source=PageSource.MODEL):
    view.begin_page(PageProgress(job, path, page, pages))
    for part in parts:
        view.append(TextDelta(job, page, part))
    view.finish_page(PageResult(job, path, page, pages, "".join(parts), source))


def test_result_view_sections_headings_and_export(qtbot):
    view = ResultView()
    qtbot.addWidget(view)
    _page(view, 1, "/d/scan.pdf", 1, 2, ["Hello ", "world"])
    _page(view, 1, "/d/scan.pdf", 2, 2, ["Layer text"], source=PageSource.TEXT_LAYER)
    shown = view.toPlainText()
    assert "scan.pdf · page 1 of 2" in shown
    assert f"scan.pdf · page 2 of 2 {TEXT_LAYER_LABEL}" in shown
    assert shown.index("Hello world") < shown.index("page 2 of 2") < shown.index("Layer text")
    assert TEXT_LAYER_LABEL not in shown.split("page 2 of 2")[0]
    md = view.export("md")
    assert md.startswith("## scan.pdf · page 1 of 2\n\nHello world\n")
    assert f"## scan.pdf · page 2 of 2 {TEXT_LAYER_LABEL}\n\nLayer text\n" in md
    assert "--- scan.pdf · page 1 of 2 ---" in view.export("txt")
    view.clear_results()
    assert view.toPlainText() == "" and view.export() == "" and not view.has_text()
    _page(view, 2, "/d/one.png", 1, 1, ["only ", "text"])
    assert view.export() == "only text\n"  # one page: just its text


def test_result_view_streams_in_batches_and_marks_cancelled_page(qtbot):
    view = ResultView()
    qtbot.addWidget(view)
    view.begin_page(PageProgress(3, "/d/long.pdf", 1, 5))
    for i in range(50):
        view.append(TextDelta(3, 1, f"t{i} "))
    qtbot.waitUntil(lambda: "t49" in view.toPlainText(), timeout=1000)  # flushed within a frame
    view.end_job(JobResult(3, "/d/long.pdf", JobStatus.CANCELLED))
    assert view.toPlainText().rstrip().endswith("— cancelled —")
    assert view.sections[0].note == JobStatus.CANCELLED
    assert view.sections[0].text == "".join(f"t{i} " for i in range(50))


def test_a_page_says_why_its_text_layer_was_not_used_and_a_failed_page_says_why(qtbot):
    view = ResultView()
    qtbot.addWidget(view)
    view.begin_page(PageProgress(1, "/d/a.pdf", 1, 2))
    view.append(TextDelta(1, 1, "read by the model"))
    view.finish_page(PageResult(1, "/d/a.pdf", 1, 2, "read by the model", PageSource.MODEL,
                                text_layer_rejected="text layer unreadable: mojibake"))
    view.begin_page(PageProgress(1, "/d/a.pdf", 2, 2))
    view.finish_page(PageResult(1, "/d/a.pdf", 2, 2, "", PageSource.FAILED, error="a.pdf: page 2 cannot be read"))
    shown = view.toPlainText()
    assert "a.pdf · page 1 of 2 (read by the model — text layer unreadable: mojibake)" in shown
    assert "a.pdf · page 2 of 2 (not read: a.pdf: page 2 cannot be read)" in shown
    first, second = view.sections
    assert first.rejected == "text layer unreadable: mojibake" and second.error
    assert view.section_at(0) is first and view.section_at(len(shown) - 1) is second


def test_following_new_text_survives_a_click_in_the_pane(qtbot):
    from PySide6.QtCore import QPoint, Qt

    view = ResultView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    view.begin_page(PageProgress(1, "/d/long.pdf", 1, 1))
    for i in range(80):
        view.append(TextDelta(1, 1, f"line {i}\n"))
        view.flush()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(40, 280))
    for i in range(80, 160):
        view.append(TextDelta(1, 1, f"line {i}\n"))
        view.flush()
    bar = view.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0
