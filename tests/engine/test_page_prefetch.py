"""Pages prepared ahead (ADR 0018): on a helper thread that touches no MLX, one page ahead of the reader, at
most two prepared pages at a time; the first page while the model loads, page n+1 while page n is generated.

The overlap is shown by the order of events, never by time: the engine is held inside a step (the load, a
token) until the helper has prepared the page it should be preparing meanwhile; a pipeline that prepared
pages only when asked would never get there, and the bounded wait would fail the test."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import weakref
from types import SimpleNamespace

import pytest

from engine import documents, page_prefetch
from engine.jobs import JobStatus, OcrOptions, PageSource, TextLayer
from engine.page_prefetch import PagePrefetch
from engine.testing import samples
from tests.processes import ROOT, child_env

WAIT_MS = 90_000
HOLD_S = 30.0  # the longest a hook holds the engine thread waiting for the helper (a hang fails, never a time)
PAGES = 5


class Prepared:
    """Every page the documents module prepares, counted, and the ones still alive (weakly held)."""

    def __init__(self, monkeypatch) -> None:
        self.refs: list[weakref.ref] = []  # (pages are dataclasses: unhashable, so no WeakSet)
        self.made = 0
        self.threads: set[str] = set()
        self.cond = threading.Condition()
        owner = self

        class CountedPage(documents.PageInput):
            def __init__(self, *args, **kwargs) -> None:  # (a dataclass calls no __post_init__ its base lacks)
                super().__init__(*args, **kwargs)
                with owner.cond:
                    owner.refs.append(weakref.ref(self))
                    owner.made += 1
                    owner.threads.add(threading.current_thread().name)
                    owner.cond.notify_all()

        monkeypatch.setattr(documents, "PageInput", CountedPage)

    @property
    def live(self) -> list:
        return [page for ref in self.refs if (page := ref()) is not None]

    def wait_made(self, n: int) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.made >= n, HOLD_S)


@pytest.fixture
def scanned(tmp_path):
    return samples.write_pdf(tmp_path / "scan.pdf", pages=PAGES, text_pages=set())


def prefetch_of(path, **kw) -> PagePrefetch:
    args = dict(max_side=1600, max_pixels=1600 * 1600, dpi=144, text_layer=TextLayer.AUTO, password=None)
    return PagePrefetch(str(path), **{**args, **kw})


def test_prefetched_pages_are_the_pages_the_document_gives(tmp_path):
    pdf = samples.write_pdf(tmp_path / "mixed.pdf", pages=4, text_pages={2})
    direct = documents.open_document(pdf, max_side=1600, max_pixels=1600 * 1600, dpi=144)
    expected = [(p.number, p.count, p.text, p.image.tobytes() if p.image is not None else None)
                for p in direct.pages()]
    direct.close()
    prefetch = prefetch_of(pdf)
    try:
        assert prefetch.open() == 4
        got = []
        while (page := prefetch.next_page()) is not None:
            got.append((page.number, page.count, page.text, page.image.tobytes() if page.image is not None else None))
        assert got == expected
        assert prefetch.next_page() is None
    finally:
        prefetch.close()
    assert not prefetch.alive


def test_at_most_two_prepared_pages_exist_and_the_next_waits_for_the_reader(monkeypatch, scanned):
    """Each time the helper has to wait for a credit, it has made exactly one page more than the reader took:
    the page in the reader's hands and the next one (recorded when it parks, so no race decides it). The next
    page is made only once the reader says the model has this one's inputs (``prepare_next``): not beside the
    model's processor, a third Python thread beside the window's (figure 4)."""
    prepared = Prepared(monkeypatch)
    parks: list[int] = []  # how many pages were made each time the helper had to wait for the reader
    real_semaphore = threading.Semaphore

    class Watched:
        def __init__(self, value: int) -> None:
            self._sem = real_semaphore(value)

        def acquire(self) -> bool:
            if self._sem.acquire(blocking=False):
                return True
            with prepared.cond:
                parks.append(prepared.made)
                prepared.cond.notify_all()
            return self._sem.acquire()

        def release(self) -> None:
            self._sem.release()

    monkeypatch.setattr(page_prefetch, "threading", SimpleNamespace(
        Semaphore=Watched, Event=threading.Event, Thread=threading.Thread, Lock=threading.Lock))

    def parked(times: int) -> list[int]:
        with prepared.cond:
            assert prepared.cond.wait_for(lambda: len(parks) >= times, HOLD_S)
            return list(parks)

    prefetch = prefetch_of(scanned)
    try:
        assert prefetch.open() == PAGES
        assert parked(1) == [1]  # the first page is prepared before anyone asks, and not the second
        held = None
        for number in range(1, PAGES + 1):
            del held  # the reader is done with the page before it asks for the next
            held = prefetch.next_page()
            assert held is not None and held.number == number
            if number < PAGES:
                time.sleep(0.2)  # time enough for the helper to make the next page, were it allowed to
                assert prepared.made == number
                prefetch.prepare_next()  # the model has this page's inputs
                # with page `number` in hand, the helper made the next one and waits
                assert parked(number + 1)[number] == number + 1
                assert len(prepared.live) <= 2, f"{len(prepared.live)} prepared pages alive at page {number}"
        assert prefetch.next_page() is None
        assert prepared.made == PAGES
    finally:
        prefetch.close()
    assert prepared.threads == {"ocr-page-prefetch"}  # prepared on the helper thread, not the reader's


def test_after_a_text_layer_page_the_next_is_prepared_only_when_the_reader_asks(monkeypatch, tmp_path):
    """A page read from its text layer is handed on at once: preparing its successor meanwhile would only put
    a second Python thread beside the window's (a run of text pages stalled the GUI, figure 4)."""
    prepared = Prepared(monkeypatch)
    pdf = samples.write_pdf(tmp_path / "text.pdf", pages=3, text_pages={1, 2, 3})
    prefetch = prefetch_of(pdf)
    try:
        assert prefetch.open() == 3
        assert prepared.wait_made(1)
        first = prefetch.next_page()
        assert first is not None and first.text is not None
        time.sleep(0.3)  # time enough for the helper to make page 2, were it allowed to
        assert prepared.made == 1
        second = prefetch.next_page()  # asking for it is what lets the helper make it
        assert second is not None and second.number == 2 and prepared.made == 2
    finally:
        prefetch.close()


def test_errors_arrive_where_the_reader_would_have_met_them(tmp_path):
    import pymupdf

    doc = pymupdf.open(samples.write_pdf(tmp_path / "open.pdf", pages=2, text_pages=set()))
    locked = tmp_path / "locked.pdf"
    doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="s3cret", owner_pw="owner")
    doc.close()
    prefetch = prefetch_of(locked)
    with pytest.raises(documents.PasswordRequired):
        prefetch.open()
    prefetch.close()
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\nnot really a pdf")
    prefetch = prefetch_of(junk)
    with pytest.raises(documents.DocumentError):
        prefetch.open()
    prefetch.close()
    assert not prefetch.alive


def test_the_helper_imports_no_mlx():
    """The prefetch runs in a process where MLX was never imported, and leaves it so."""
    code = (
        "import sys; from pathlib import Path; from engine.testing import samples;"
        "from engine.page_prefetch import PagePrefetch; from engine.jobs import TextLayer;"
        "import tempfile; d = Path(tempfile.mkdtemp());"
        "pdf = samples.write_pdf(d / 'a.pdf', pages=3, text_pages=set());"
        "p = PagePrefetch(str(pdf), max_side=800, max_pixels=640000, dpi=96, text_layer=TextLayer.AUTO,"
        " password=None);"
        "n = p.open(); pages = [x.number for x in iter(p.next_page, None)]; p.close();"
        "print(n, pages, any(m == 'mlx' or m.startswith('mlx.') for m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=child_env(),
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["3", "[1,", "2,", "3]", "False"]


# ------------------------------------------------------------------ in the engine
@pytest.mark.slow
def test_the_first_page_is_prepared_while_the_model_loads(qtbot, engines, monkeypatch, scanned):
    prepared = Prepared(monkeypatch)
    engine = engines()
    seen_during_load = []

    def hook(where: str) -> None:
        if where == "load":  # inside the load, before the model is built: hold it until page 1 is ready
            seen_during_load.append(prepared.wait_made(1))

    engine._worker.fault_hook = hook
    done = []
    engine.jobFinished.connect(done.append)
    engine.submit([scanned], OcrOptions(max_tokens=2))
    qtbot.waitUntil(lambda: len(done) == 1, timeout=WAIT_MS)
    assert seen_during_load == [True]
    assert done[0].status is JobStatus.DONE and len(done[0].pages) == PAGES


@pytest.mark.slow
def test_page_n_plus_one_is_prepared_while_page_n_is_generated_and_two_at_most(qtbot, engines, monkeypatch,
                                                                                 scanned):
    from PySide6.QtCore import Qt

    prepared = Prepared(monkeypatch)
    engine = engines()
    worker = engine._worker
    ready_next = {}  # page being generated -> whether the next page got prepared during its generation
    alive = []
    current = [0]
    worker.pageStarted.connect(lambda p: current.__setitem__(0, p.page), Qt.ConnectionType.DirectConnection)

    def hook(where: str) -> None:
        if where != "token":
            return
        page = current[0]
        if page not in ready_next:
            ready_next[page] = prepared.wait_made(min(page + 1, PAGES))  # hold this token until n+1 is made
            alive.append(len(prepared.live))

    worker.fault_hook = hook
    from mlx_vlm.generate import dispatch

    made_at_inputs = []  # pages made when the processor turns page n into the model's inputs
    real_inputs = dispatch._prepare_generation_inputs

    def inputs(model, processor, prompt, image, audio, video, kwargs):
        if kwargs.get("input_ids") is None:  # made here, not handed in already made
            made_at_inputs.append(prepared.made)
        return real_inputs(model, processor, prompt, image, audio, video, kwargs)
    monkeypatch.setattr(dispatch, "_prepare_generation_inputs", inputs)
    events = []  # (what, page): the prefill's start and end, and the next page's go-ahead
    real_step, real_next = dispatch.generate_step, PagePrefetch.prepare_next

    def step(*args, **kwargs):
        events.append(("prefill", current[0]))
        for i, item in enumerate(real_step(*args, **kwargs)):
            if i == 0:
                events.append(("first token", current[0]))
            yield item

    def prepare_next(self):
        events.append(("next", current[0]))
        return real_next(self)
    monkeypatch.setattr(dispatch, "generate_step", step)
    monkeypatch.setattr(PagePrefetch, "prepare_next", prepare_next)
    done = []
    engine.jobFinished.connect(done.append)
    engine.submit([scanned], OcrOptions(max_tokens=2))
    qtbot.waitUntil(lambda: len(done) == 1, timeout=WAIT_MS)
    assert done[0].status is JobStatus.DONE
    assert [p.source for p in done[0].pages] == [PageSource.MODEL] * PAGES
    assert ready_next == dict.fromkeys(range(1, PAGES + 1), True)
    # while the processor ran on page n, page n+1 was not being made beside it (a third Python thread)
    assert made_at_inputs == list(range(1, PAGES + 1))
    # nor while the model ran on page n's prompt (the prefill): it is prepared from page n's first token on
    for page in range(1, PAGES + 1):
        mine = [what for what, p in events if p == page]
        assert mine[:3] == ["prefill", "first token", "next"], (page, mine)
    assert max(alive) <= 2  # the page being generated and the next one, never more
    assert prepared.threads == {"ocr-page-prefetch"}


@pytest.mark.slow
def test_a_cancel_while_a_page_is_prepared_ends_the_job_and_its_helper(qtbot, engines, monkeypatch, scanned):
    started = threading.Event()
    release = threading.Event()
    timed_out = []  # whether page 2's preparation had to give up waiting (the job did not end without it)
    real = documents.fit

    def slow_fit(image, max_side, max_pixels):  # page 2 is still being prepared when page 1 ends
        if started.is_set():
            timed_out.append(not release.wait(HOLD_S))
        started.set()
        return real(image, max_side, max_pixels)

    monkeypatch.setattr(documents, "fit", slow_fit)
    engine = engines()
    done, first = [], []
    engine.jobFinished.connect(done.append)
    engine.pageFinished.connect(first.append)
    (job,) = engine.submit([scanned], OcrOptions(max_tokens=2))
    qtbot.waitUntil(lambda: len(first) == 1, timeout=WAIT_MS)  # page 1 read; page 2 stuck in preparation
    engine.cancel(job)
    qtbot.waitUntil(lambda: len(done) == 1, timeout=WAIT_MS)  # the wait for page 2 saw the cancel
    assert done[0].status is JobStatus.CANCELLED and [p.page for p in done[0].pages] == [1]
    release.set()
    qtbot.waitUntil(lambda: not any(t.name == "ocr-page-prefetch" for t in threading.enumerate()), timeout=WAIT_MS)
    assert timed_out == [False]  # the job ended while page 2 was still stuck, not after it came unstuck


# ------------------------------------------------------------------ a drag's file, prepared before its drop
@pytest.mark.slow
def test_a_file_a_drag_brought_in_is_prepared_before_the_drop_and_its_job_takes_it(qtbot, engines, monkeypatch,
                                                                                  scanned, tmp_path):
    """``Engine.prepare_ahead`` (a drag entered with this file): page 1 is prepared at once, and the job the drop
    then makes for the same file and preparation reads that page, not a second one. Another file, or the same
    file with other preparation, gets its own; the prepared one is let go. Nothing is left open after."""
    from engine.engine_thread import AHEAD_KEEP_S

    assert AHEAD_KEEP_S > 1  # a drag takes a moment between entering and dropping
    prepared = Prepared(monkeypatch)
    made = []
    real_init = PagePrefetch.__init__

    def counted(self, path, **kw):
        made.append(path)
        real_init(self, path, **kw)
    monkeypatch.setattr(PagePrefetch, "__init__", counted)
    engine = engines()
    engine.prepare_ahead(scanned, OcrOptions(max_tokens=2))
    assert prepared.wait_made(1)  # before any drop: the first page is there
    ahead = engine._ahead
    assert ahead is not None and made == [str(scanned)]
    done = []
    engine.jobFinished.connect(done.append)
    engine.submit([scanned], OcrOptions(max_tokens=2))
    assert engine._ahead is None
    qtbot.waitUntil(lambda: len(done) == 1, timeout=WAIT_MS)
    assert done[0].status is JobStatus.DONE and len(done[0].pages) == PAGES
    assert made == [str(scanned)]  # the job took the drag's preparation: no second one
    assert prepared.made == PAGES  # each page prepared once
    assert not ahead.alive

    other = samples.write_pdf(tmp_path / "other.pdf", pages=1, text_pages=set())
    for dropped, options in ((other, OcrOptions(max_tokens=2)), (scanned, OcrOptions(max_tokens=2, dpi=96))):
        made.clear()
        engine.prepare_ahead(scanned, OcrOptions(max_tokens=2))
        ahead = engine._ahead
        engine.submit([dropped], options)
        qtbot.waitUntil(lambda: len(done) == 2, timeout=WAIT_MS)
        done.pop()
        assert made == [str(scanned), str(dropped)]  # a preparation of its own
        qtbot.waitUntil(lambda ahead=ahead: not ahead.alive, timeout=5000)  # and the drag's is let go


def test_a_drag_that_never_drops_lets_its_page_go_and_one_drag_is_prepared_at_a_time(qtbot, engines,
                                                                                        monkeypatch, scanned):
    from engine import engine_thread

    monkeypatch.setattr(engine_thread, "AHEAD_KEEP_S", 0.2)
    engine = engines()
    engine.prepare_ahead(scanned, OcrOptions())
    ahead = engine._ahead
    assert ahead is not None
    qtbot.waitUntil(lambda: engine._ahead is None and not ahead.alive, timeout=5000)  # kept AHEAD_KEEP_S, no more

    engine.prepare_ahead(scanned, OcrOptions())
    first, second = engine._ahead, None
    engine.prepare_ahead(scanned, OcrOptions())  # the same drag back again: the same preparation goes on
    assert engine._ahead is first and first.alive
    engine.prepare_ahead(scanned, OcrOptions(dpi=96))  # one at a time: a new drag lets the last one go
    second = engine._ahead
    assert second is not first
    qtbot.waitUntil(lambda: not first.alive, timeout=5000)
    engine.shutdown(10)  # and shutting down lets it go too
    assert engine._ahead is None
    qtbot.waitUntil(lambda: not second.alive, timeout=5000)


@pytest.mark.slow
def test_behind_a_queued_document_a_drag_prepares_nothing(qtbot, engines, scanned, tmp_path):
    engine = engines()
    done = []
    engine.jobFinished.connect(done.append)
    engine.submit([scanned], OcrOptions(max_tokens=2))
    engine.prepare_ahead(samples.write_pdf(tmp_path / "next.pdf", pages=1, text_pages=set()), OcrOptions())
    assert engine._ahead is None  # its page would only wait behind the queue
    qtbot.waitUntil(lambda: len(done) == 1, timeout=WAIT_MS)
