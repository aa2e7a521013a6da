"""The result view on its own: sections, headings, streaming in batches, export."""

from __future__ import annotations

import time

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


def test_result_view_append_cost_does_not_grow_with_the_document(qtbot):
    """Appending a token to a long document costs about what it costs to a short one."""
    view = ResultView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()

    def cost(page):
        view.begin_page(PageProgress(9, "/d/big.pdf", page, 400))
        start = time.perf_counter()
        for i in range(200):
            view.append(TextDelta(9, page, "word "))
            view.flush()
        return (time.perf_counter() - start) / 200

    first = cost(1)
    for page in range(2, 300):
        view.begin_page(PageProgress(9, "/d/big.pdf", page, 400))
        view.append(TextDelta(9, page, "lorem ipsum dolor sit amet " * 40 + "\n"))
    last = cost(300)
    assert last < max(first * 4, 0.002), f"append cost grew from {first * 1e3:.3f} ms to {last * 1e3:.3f} ms"
