"""The window's parts on their own (no engine): drop parsing, queue rows, streaming results, status lines, icons."""

from __future__ import annotations

import time

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

from desktop import icons
from desktop.status_text import model_line
from engine.human import duration
from engine.human import size_text as size
from desktop.views.drop_zone import DropZone, paths_from_mime
from desktop.views.job_queue import JobQueue
from desktop.views.result_view import TEXT_LAYER_LABEL, ResultView
from desktop.views.status_bar import StatusBar
from engine.jobs import EngineStatus, JobInfo, JobResult, JobStatus, PageProgress, PageResult, PageSource, TextDelta
from engine.lifecycle import Mode, State

from .conftest import drop, mime_for


def test_drop_zone_emits_local_paths_and_names_web_links(qtbot, tmp_path):
    zone = DropZone()
    qtbot.addWidget(zone)
    got, rejected = [], []
    zone.pathsDropped.connect(got.append)
    zone.rejected.connect(rejected.append)
    a = tmp_path / "a.png"
    assert drop(zone, [a, tmp_path], ["https://example.com/scan.pdf"])
    assert got == [[str(a), str(tmp_path)]]
    assert len(rejected) == 1 and "https://example.com/scan.pdf" in rejected[0]
    assert "\n" not in rejected[0]


def test_drop_zone_refuses_a_drag_without_urls(qtbot):
    zone = DropZone()
    qtbot.addWidget(zone)
    from PySide6.QtCore import QMimeData

    mime = QMimeData()
    mime.setText("some text")
    assert paths_from_mime(mime) == ([], ["dropped text"])
    assert paths_from_mime(mime_for(["/x/y.pdf"])) == (["/x/y.pdf"], [])


def test_job_queue_rows_progress_and_cancel(qtbot):
    queue = JobQueue()
    qtbot.addWidget(queue)
    cancels = []
    queue.cancelRequested.connect(cancels.append)
    queue.add(JobInfo(1, "/docs/a.pdf"))
    queue.add(JobInfo(2, "/docs/b.png", 1))
    assert queue.status_text(1) == "Waiting" and queue.cancel_all.isEnabled()
    queue.started(JobInfo(1, "/docs/a.pdf"))
    queue.page(PageProgress(1, "/docs/a.pdf", 2, 3))
    assert queue.status_text(1) == "page 2 of 3"
    queue.cancel_button(2).click()
    assert cancels == [2] and queue.status_text(2) == "Cancelling…"
    queue.finished(JobResult(2, "/docs/b.png", JobStatus.CANCELLED))
    assert queue.status_text(2) == "Cancelled" and queue.cancel_button(2) is None
    queue.finished(JobResult(1, "/docs/a.pdf", "failed", error="a.pdf: damaged", error_kind="document"))
    assert queue.status_text(1) == "Failed" and not queue.cancel_all.isEnabled()
    queue.clear_finished()
    assert queue.job_ids() == []


def _page(view, job, path, page, pages, parts, source=PageSource.MODEL):
    view.begin_page(PageProgress(job, path, page, pages))
    for part in parts:
        view.append(TextDelta(job, page, part))
    view.finish_page(PageResult(job, path, page, pages, "".join(parts), source))


def test_result_view_sections_headings_and_export(qtbot):
    view = ResultView()
    qtbot.addWidget(view)
    _page(view, 1, "/d/scan.pdf", 1, 2, ["Hello ", "world"])
    _page(view, 1, "/d/scan.pdf", 2, 2, ["Layer text"], source="text-layer")
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
    view.end_job(JobResult(3, "/d/long.pdf", "cancelled"))
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


def test_status_lines():
    status = EngineStatus(State.READY, Mode.IDLE_TIMEOUT, 300, "PaddleOCR-VL 1.5", model_bytes=1_900_000_000)
    assert model_line(status) == "PaddleOCR-VL 1.5 · ready · 1.9 GB"
    assert model_line(EngineStatus(State.UNLOADED, Mode.IDLE_TIMEOUT, 300, "PaddleOCR-VL 1.5")) == "PaddleOCR-VL 1.5 · not loaded"
    busy = EngineStatus(State.BUSY, Mode.KEEP_RESIDENT, 300, "M", model_bytes=5_000_000, unload_pending=True)
    assert model_line(busy) == "M · working · unloads after this job · 5.0 MB"
    assert duration(272) == "4:32" and duration(3723) == "1:02:03"
    assert size(812_400_000) == "812 MB" and size(999) == "999 bytes"


def test_status_bar_counts_down_and_shows_loading_time(qtbot):
    now = [1000.0]
    bar = StatusBar(clock=lambda: now[0])
    qtbot.addWidget(bar)
    bar.set_status(EngineStatus(State.LOADING, Mode.IDLE_TIMEOUT, 300, "Tiny"))
    assert bar.model_label.text().startswith("Loading Tiny… 0:0")
    bar.set_status(EngineStatus(State.READY, Mode.IDLE_TIMEOUT, 300, "Tiny", model_bytes=10_000_000,
                                active_memory=12_000_000, deadline=1272.0))
    assert bar.model_label.text() == "Tiny · ready · 10.0 MB"
    assert bar.idle_label.text() == "Unloads in 4:32"
    assert "MLX 12.0 MB" in bar.memory_label.text() and bar.memory_label.text().startswith("Memory ")
    now[0] = 1271.0
    bar._render_clock()
    assert bar.idle_label.text() == "Unloads in 0:01"
    assert bar._tick.isActive()
    bar.set_status(EngineStatus(State.UNLOADED, Mode.IDLE_TIMEOUT, 300, "Tiny"))
    assert not bar._tick.isActive() and bar.idle_label.text() == ""


def test_tray_icons_exist_for_every_state_even_without_resource_files(qapp, monkeypatch, tmp_path):
    monkeypatch.setattr(icons, "resources_dir", lambda: tmp_path)  # no files: drawn fallbacks
    icons._template.cache_clear()
    try:
        images = {}
        for kind in (icons.IDLE, icons.LOADING, icons.BUSY):
            icon = icons.tray_icon(kind)
            assert isinstance(icon, QIcon) and not icon.isNull() and icon.isMask()
            images[kind] = icon.pixmap(QSize(36, 36)).toImage()
        assert images[icons.IDLE] != images[icons.BUSY] != images[icons.LOADING]
        tinted = icons.tray_icon(icons.IDLE, icons.palette_text_color())
        assert not tinted.isNull()
    finally:
        icons._template.cache_clear()


def test_tray_icons_come_from_resources_at_1x_and_2x(qapp):
    icons._template.cache_clear()
    for kind, names in icons.TRAY_FILES.items():
        path = icons.resources_dir() / names[0]
        assert path.is_file(), f"resources/{names[0]} is missing"
        sizes = {(s.width(), s.height()) for s in icons._template(kind).availableSizes()}
        assert {(18, 18), (36, 36)} <= sizes, (kind, sizes)
        from_file = QIcon(str(path)).pixmap(QSize(18, 18)).toImage()
        assert icons._template(kind).pixmap(QSize(18, 18)).toImage() == from_file  # not the drawn fallback
    assert not icons.app_icon().isNull()
