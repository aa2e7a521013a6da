"""A priority job (a screen capture) jumps the queue: it runs right after the page being read, then the
running document goes on with its next page; one job at a time, the engine BUSY throughout (ADR 0001)."""

from __future__ import annotations

import pytest

from engine.engine_thread import Engine
from engine.jobs import JobStatus, OcrOptions
from engine.lifecycle import Mode, State
from engine.models.presets import ModelSpec
from engine.testing import samples

pytestmark = pytest.mark.slow

WAIT_MS = 90_000
PAGES = 6


class Events:
    def __init__(self, engine: Engine) -> None:
        self.log: list[tuple] = []
        self.done = []
        engine.jobStarted.connect(lambda i: self.log.append(("start", i.job_id)))
        engine.pageStarted.connect(lambda p: self.log.append(("page", p.job_id, p.page)))
        engine.pageFinished.connect(lambda p: self.log.append(("page-done", p.job_id, p.page)))
        engine.jobFinished.connect(self._done)
        engine.jobFailed.connect(self._done)
        engine.stateChanged.connect(lambda s: self.log.append(("state", s.state)))

    def _done(self, result) -> None:
        self.log.append(("end", result.job_id))
        self.done.append(result)

    def of(self, job_id: int) -> list[tuple]:
        return [e for e in self.log if e[1] == job_id]

    def index(self, event: tuple) -> int:
        return self.log.index(event)


@pytest.fixture
def engine(qtbot, tiny_model_dir):
    made = Engine(ModelSpec.resolve(str(tiny_model_dir)), Mode.KEEP_RESIDENT, 300.0)
    yield made
    assert made.shutdown(10)


@pytest.fixture
def docs(tmp_path):
    pdf = samples.write_pdf(tmp_path / "long.pdf", pages=PAGES, text_pages=set())  # every page through the model
    pngs = [samples.write_png(tmp_path / f"capture-{i}.png") for i in range(3)]
    return pdf, pngs


def test_a_capture_runs_after_the_current_page_and_the_pdf_then_finishes(qtbot, engine, docs):
    pdf, (png, *_) = docs
    ev = Events(engine)
    (pdf_id,) = engine.submit([pdf], OcrOptions(max_tokens=3))
    qtbot.waitUntil(lambda: ("page", pdf_id, 2) in ev.log, timeout=WAIT_MS)  # reading page 2 now
    (cap_id,) = engine.submit([png], OcrOptions(max_tokens=3), first=True)
    qtbot.waitUntil(lambda: len(ev.done) == 2, timeout=WAIT_MS)

    assert [r.job_id for r in ev.done] == [cap_id, pdf_id]  # the capture ended first
    capture, document = ev.done
    assert capture.status is JobStatus.DONE and len(capture.pages) == 1
    assert document.status is JobStatus.DONE
    assert [p.page for p in document.pages] == list(range(1, PAGES + 1))  # every page, in order
    # the capture started after the page being read when it arrived, and before the next one
    started = ev.index(("start", cap_id))
    finished_at = [e for e in ev.log[:started] if e[0] == "page-done" and e[1] == pdf_id]
    assert finished_at, "the capture ran before the page in progress was finished"
    k = finished_at[-1][2]
    assert k >= 2 and k < PAGES
    assert ev.index(("end", cap_id)) < ev.index(("page", pdf_id, k + 1))
    # one job at a time: nothing of the PDF happened between the capture's start and end
    inside = ev.log[started:ev.index(("end", cap_id))]
    assert all(e[1] == cap_id for e in inside if e[0] != "state")
    # the engine stayed busy from the PDF's start to its end: never ready (nor loading) in between
    during = ev.log[ev.index(("start", pdf_id)):ev.index(("end", pdf_id))]
    assert {e[1] for e in during if e[0] == "state"} <= {State.BUSY}
    qtbot.waitUntil(lambda: engine.status.state is State.READY and engine.status.queued == 0, timeout=WAIT_MS)


def test_priority_jobs_go_before_waiting_jobs_in_their_own_order(qtbot, engine, docs, tmp_path):
    pdf, (a, b, c) = docs
    other = samples.write_png(tmp_path / "waiting.png")
    ev = Events(engine)
    (pdf_id,) = engine.submit([pdf], OcrOptions(max_tokens=2))
    (waiting_id,) = engine.submit([other], OcrOptions(max_tokens=2))
    qtbot.waitUntil(lambda: ("page", pdf_id, 1) in ev.log, timeout=WAIT_MS)
    first = engine.submit([a], OcrOptions(max_tokens=2), first=True)
    second = engine.submit([b], OcrOptions(max_tokens=2), first=True)
    qtbot.waitUntil(lambda: len(ev.done) == 4, timeout=WAIT_MS)
    order = [r.job_id for r in ev.done]
    assert order == [*first, *second, pdf_id, waiting_id]
    assert all(r.status is JobStatus.DONE for r in ev.done)
    assert len(ev.done[2].pages) == PAGES


def test_a_capture_into_an_idle_engine_is_an_ordinary_job(qtbot, engine, docs):
    _, (png, *_) = docs
    ev = Events(engine)
    ids = engine.submit([png], OcrOptions(max_tokens=2), first=True)
    qtbot.waitUntil(lambda: len(ev.done) == 1, timeout=WAIT_MS)
    assert [r.job_id for r in ev.done] == ids and ev.done[0].status is JobStatus.DONE


def test_cancelling_the_paused_document_during_the_capture_stops_it_after(qtbot, engine, docs):
    pdf, (png, *_) = docs
    ev = Events(engine)
    (pdf_id,) = engine.submit([pdf], OcrOptions(max_tokens=2))
    qtbot.waitUntil(lambda: ("page", pdf_id, 1) in ev.log, timeout=WAIT_MS)
    (cap_id,) = engine.submit([png], OcrOptions(max_tokens=4), first=True)
    qtbot.waitUntil(lambda: ("start", cap_id) in ev.log, timeout=WAIT_MS)
    engine.cancel(pdf_id)  # the PDF is paused, not current: it must still hear it
    qtbot.waitUntil(lambda: len(ev.done) == 2, timeout=WAIT_MS)
    by_id = {r.job_id: r for r in ev.done}
    assert by_id[cap_id].status is JobStatus.DONE
    assert by_id[pdf_id].status is JobStatus.CANCELLED and len(by_id[pdf_id].pages) < PAGES
    qtbot.waitUntil(lambda: engine.status.state is State.READY, timeout=WAIT_MS)


def test_cancelling_the_capture_lets_the_document_go_on(qtbot, engine, docs):
    pdf, (png, *_) = docs
    ev = Events(engine)
    (pdf_id,) = engine.submit([pdf], OcrOptions(max_tokens=2))
    qtbot.waitUntil(lambda: ("page", pdf_id, 1) in ev.log, timeout=WAIT_MS)
    (cap_id,) = engine.submit([png], OcrOptions(max_tokens=64), first=True)
    qtbot.waitUntil(lambda: ("start", cap_id) in ev.log, timeout=WAIT_MS)
    engine.cancel(cap_id)
    qtbot.waitUntil(lambda: len(ev.done) == 2, timeout=WAIT_MS)
    by_id = {r.job_id: r for r in ev.done}
    assert by_id[cap_id].status is JobStatus.CANCELLED
    assert by_id[pdf_id].status is JobStatus.DONE and len(by_id[pdf_id].pages) == PAGES


def test_shutdown_during_a_capture_stops_both(qtbot, tiny_model_dir, docs):
    pdf, (png, *_) = docs
    engine = Engine(ModelSpec.resolve(str(tiny_model_dir)), Mode.KEEP_RESIDENT, 300.0)
    ev = Events(engine)
    (pdf_id,) = engine.submit([pdf], OcrOptions(max_tokens=2))
    qtbot.waitUntil(lambda: ("page", pdf_id, 1) in ev.log, timeout=WAIT_MS)
    (cap_id,) = engine.submit([png], OcrOptions(max_tokens=256), first=True)
    qtbot.waitUntil(lambda: ("start", cap_id) in ev.log, timeout=WAIT_MS)
    assert engine.shutdown(10)
    assert {r.job_id: r.status for r in ev.done} == {cap_id: JobStatus.CANCELLED, pdf_id: JobStatus.CANCELLED}
