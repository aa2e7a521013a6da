"""Load and concurrency: drops during a job queue FIFO and run one at a time; the queue has a bound;
50 files dropped at once all finish, in order, once each."""

from __future__ import annotations

import pytest

from engine.engine_thread import DEFAULT_QUEUE_LIMIT
from engine.jobs import JobStatus, OcrOptions

from . import bad_files
from .conftest import TOKENS, wait_until

pytestmark = pytest.mark.slow

OPTS = OcrOptions(max_tokens=TOKENS)


def _one_at_a_time(events) -> None:
    """Between a job's start and its end no other job starts or runs a page."""
    running = None
    for name, payload in events:
        if name == "jobStarted":
            assert running is None, f"job {payload.job_id} started while job {running} was running"
            running = payload.job_id
        elif name in ("pageStarted", "pageFinished", "textDelta"):
            assert payload.job_id == running, f"{name} of job {payload.job_id} while job {running} ran"
        elif name in ("jobFinished", "jobFailed") and payload.job_id == running:
            running = None


def test_fifty_files_dropped_at_once(recorder, tmp_path):
    files = []
    for i in range(50):  # every fifth one goes through the model, the rest are born-digital PDFs
        path = tmp_path / f"drop-{i:02d}"
        make = bad_files.png if i % 5 == 0 else bad_files.text_pdf
        files.append(make(path.with_suffix(".png" if i % 5 == 0 else ".pdf")))
    ids = recorder.engine.submit(files, OPTS)
    assert len(ids) == 50 and len(set(ids)) == 50
    results = recorder.wait_results(50, 180)
    assert [r.job_id for r in results] == ids  # finished in the order dropped
    assert [r.path for r in results] == [str(f) for f in files]
    assert all(r.status == JobStatus.DONE and len(r.pages) == 1 for r in results)
    assert [i.job_id for i in recorder.of("jobStarted")] == ids  # each started exactly once, in order
    assert [i.position for i in recorder.of("jobQueued")] == list(range(50))
    pages = [(p.job_id, p.page) for p in recorder.of("pageFinished")]
    assert len(pages) == len(set(pages)) == 50  # no page twice
    _one_at_a_time(recorder.events)


def test_drops_during_a_job_queue_behind_it(recorder, tmp_path):
    first = bad_files.scan_pdf(tmp_path / "first.pdf", pages=3)
    [a] = recorder.engine.submit([first], OPTS)
    wait_until(lambda: recorder.of("pageStarted"), 60, "the first job to start")
    later = [bad_files.png(tmp_path / f"later-{i}.png") for i in range(3)]
    b = recorder.engine.submit(later[:2], OPTS)
    c = recorder.engine.submit(later[2:], OPTS)
    results = recorder.wait_results(4, 120)
    assert [r.job_id for r in results] == [a, *b, *c]
    assert all(r.status == JobStatus.DONE for r in results)
    _one_at_a_time(recorder.events)


def test_queue_bound_rejects_with_a_message(make_engine, tmp_path):
    engine, rec = make_engine(queue_limit=5)
    assert engine.queue_limit == 5
    files = [bad_files.text_pdf(tmp_path / f"q{i}.pdf") for i in range(8)]
    ids = engine.submit(files, OPTS)
    assert len(ids) == 5
    full = [n for n in rec.notices() if "the queue is full" in n]
    assert full == [f"q{i}.pdf: not queued — the queue is full (5 documents)" for i in range(5, 8)]
    rec.wait_results(5, 60)
    assert len(engine.submit(files[5:], OPTS)) == 3  # room again once the queue drained
    rec.wait_results(8, 60)


def test_default_queue_bound_is_a_thousand(make_engine, tmp_path):
    engine, rec = make_engine()
    assert engine.queue_limit == DEFAULT_QUEUE_LIMIT == 1000
    pdf = bad_files.text_pdf(tmp_path / "one.pdf")
    aliases = []
    for i in range(1001):  # 1,001 distinct paths to one small file (the queue dedupes by real path)
        link = tmp_path / f"link-{i:04d}.pdf"
        link.hardlink_to(pdf)
        aliases.append(link)
    ids = engine.submit(aliases, OPTS)
    assert len(ids) == 1000
    assert [n for n in rec.notices() if "queue is full" in n] == [
        "link-1000.pdf: not queued — the queue is full (1000 documents)"]
    engine.cancel_all()
    results = rec.wait_results(1000, 120)
    assert {r.status for r in results} <= {JobStatus.DONE, JobStatus.CANCELLED}
