"""The first job with a missing model: the app asks once, downloads from the (loopback) hub with progress,
then runs the jobs."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from engine.jobs import ErrorKind, JobStatus
from engine.testing import samples
from tests.engine.hub_server import hub  # noqa: F401  (the pytest fixture)

from .conftest import WAIT_MS, Jobs, download_bar, job_queue, message_bar

pytestmark = pytest.mark.slow

REPO = "test-org/tiny-ocr"


def question(app):
    boxes = [b for b in app.window.findChildren(QMessageBox, "downloadQuestion") if b.isVisible()]
    return boxes[0] if len(boxes) == 1 else None


def test_missing_model_asks_once_downloads_with_progress_then_runs(qtbot, hub, tiny_model_dir,
                                                                   make_app, make_settings, tmp_path):
    hub.add_repo(REPO, tiny_model_dir)
    hub.chunk_delay_s = 0.002  # slow enough that progress is seen moving
    settings = make_settings(model__preset="custom", model__custom_source=REPO, ocr__max_tokens=4)
    app = make_app(settings)
    jobs = Jobs(app.engine)
    bar = download_bar(app).bar
    values, tooltips = [], []
    app.flow.progress.connect(lambda p: (values.append(bar.value()), tooltips.append(app.tray.tooltip)))

    app.submit([samples.write_png(tmp_path / "a.png"), samples.write_pdf(tmp_path / "b.pdf", pages=2)])
    failed = jobs.wait(qtbot, 2)
    assert [r.error_kind for r in failed] == [ErrorKind.MODEL_MISSING, ErrorKind.MODEL_MISSING]
    qtbot.waitUntil(lambda: question(app) is not None, timeout=5000)
    box = question(app)
    assert box.windowModality() == Qt.WindowModality.WindowModal  # open(), a sheet: no nested event loop
    assert len(app.window.findChildren(QMessageBox, "downloadQuestion")) == 1  # asked once for both
    assert job_queue(app).status_text(failed[0].job_id) == "Needs model"
    box.findChild(QPushButton, "downloadAccept").click()

    qtbot.waitUntil(lambda: download_bar(app).isVisibleTo(app.window), timeout=5000)
    results = jobs.wait(qtbot, 4, timeout=WAIT_MS * 2)
    assert [r.status for r in results[2:]] == [JobStatus.DONE, JobStatus.DONE]
    assert sorted(r.path for r in results[2:]) == sorted(r.path for r in failed)
    assert not download_bar(app).isVisibleTo(app.window)
    assert len(values) >= 3 and values[-1] > values[0] and values == sorted(values), values
    assert any(t.count("Downloading") == 1 and "%" in t for t in tooltips), tooltips
    assert "Downloading" not in app.tray.tooltip
    assert hub.file_requests()  # it really came from the hub


def test_declining_the_download_leaves_the_jobs_failed_with_a_message(qtbot, hub, make_app, make_settings,
                                                                      tiny_model_dir, tmp_path):
    hub.add_repo(REPO, tiny_model_dir)
    app = make_app(make_settings(model__preset="custom", model__custom_source=REPO))
    jobs = Jobs(app.engine)
    app.submit([samples.write_png(tmp_path / "a.png")])
    jobs.wait(qtbot, 1)
    qtbot.waitUntil(lambda: question(app) is not None, timeout=5000)
    question(app).findChild(QPushButton, "downloadDecline").click()
    qtbot.waitUntil(lambda: "not downloaded" in message_bar(app).text(), timeout=5000)
    assert hub.file_requests() == [] and not app.flow.busy
