"""The model download strip: what, how far, how fast, and Cancel."""

from __future__ import annotations

from desktop.views.download_bar import SCALE, DownloadBar
from engine.human import duration, size_text


def test_start_progress_cancel_and_finish(qtbot):
    bar = DownloadBar()
    qtbot.addWidget(bar)
    assert bar.isHidden()
    bar.start("PaddleOCR-VL 1.5")
    assert bar.isVisibleTo(bar.parentWidget() or bar) and bar.title.text() == "Downloading PaddleOCR-VL 1.5…"
    assert (bar.bar.minimum(), bar.bar.maximum()) == (0, 0)  # busy until the first report
    bar.progress(500_000_000, 2_000_000_000, 10_000_000, 150.0)
    assert bar.bar.value() == SCALE // 4
    assert bar.detail.text() == f"{size_text(5e8)} of {size_text(2e9)} · {size_text(1e7)}/s · {duration(150)} left"
    with qtbot.waitSignal(bar.cancelRequested, timeout=1000):
        bar.cancel.click()
    bar.finish()
    assert bar.isHidden()
