"""The queue on its own: rows, page progress, cancel."""

from __future__ import annotations

from desktop.views.job_queue import JobQueue
from engine.jobs import ErrorKind, JobInfo, JobResult, JobStatus, PageProgress


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
    queue.finished(JobResult(1, "/docs/a.pdf", JobStatus.FAILED, error="a.pdf: damaged", error_kind=ErrorKind.DOCUMENT))
    assert queue.status_text(1) == "Failed" and not queue.cancel_all.isEnabled()
    queue.clear_finished()
    assert queue.job_ids() == []
