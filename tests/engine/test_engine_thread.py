"""The engine thread end to end with a real tiny model: signals, streaming, cancel, unload, modes, shutdown."""

import time

import psutil
import pytest

from engine.engine_thread import Engine
from engine.jobs import ErrorKind, JobStatus, OcrOptions, PageSource
from engine.lifecycle import Mode, State
from engine.models.presets import ModelSpec
from engine.testing import samples

pytestmark = pytest.mark.slow

WAIT_MS = 60_000


class Recorder:
    """Every engine signal, in arrival order, as (name, payload)."""

    NAMES = ("stateChanged", "jobQueued", "jobStarted", "pageStarted", "textDelta", "pageFinished",
             "jobFinished", "jobFailed", "notice")

    def __init__(self, engine):
        self.events = []
        for name in self.NAMES:
            getattr(engine, name).connect(lambda payload, n=name: self.events.append((n, payload)))

    def names(self, exclude=("stateChanged", "notice")):
        return [n for n, _ in self.events if n not in exclude]

    def of(self, name):
        return [p for n, p in self.events if n == name]

    def states(self):
        """The state transitions (repeated reports of the same state folded)."""
        out = []
        for p in self.of("stateChanged"):
            if not out or out[-1] is not p.state:
                out.append(p.state)
        return out


@pytest.fixture
def make_engine(qtbot, tiny_model_dir):
    engines = []

    def make(mode=Mode.KEEP_RESIDENT, idle=300.0, model=None, **kw):
        spec = ModelSpec.resolve(str(model or tiny_model_dir))
        engine = Engine(spec, mode, idle, **kw)
        engines.append(engine)
        return engine, Recorder(engine)

    yield make
    for engine in engines:
        assert engine.shutdown(10), "engine thread did not stop"


def wait_done(qtbot, engine, n=1, timeout=WAIT_MS):
    done = []
    engine.jobFinished.connect(done.append)
    engine.jobFailed.connect(done.append)
    qtbot.waitUntil(lambda: len(done) >= n, timeout=timeout)
    return done


def wait_state(qtbot, engine, state, timeout=WAIT_MS):
    qtbot.waitUntil(lambda: engine.status.state is state, timeout=timeout)


@pytest.fixture
def inputs(tmp_path):
    png = samples.write_png(tmp_path / "a.png")
    jpg = tmp_path / "b.jpg"
    samples.text_image().save(jpg, "JPEG")
    tiff = tmp_path / "c.tiff"
    frames = [samples.text_image(), samples.text_image(text="two")]
    frames[0].save(tiff, save_all=True, append_images=frames[1:])
    pdf = samples.write_pdf(tmp_path / "d.pdf", pages=3, text_pages={2})
    return {"png": png, "jpg": jpg, "tiff": tiff, "pdf": pdf}


def test_png_jpeg_tiff_pdf_signal_order_and_streaming(qtbot, make_engine, inputs):
    engine, rec = make_engine()
    opts = OcrOptions(max_tokens=6)
    ids = engine.submit([inputs["png"], inputs["jpg"], inputs["tiff"], inputs["pdf"]], opts)
    assert len(ids) == 4
    results = wait_done(qtbot, engine, 4)
    assert [r.status for r in results] == [JobStatus.DONE] * 4
    assert [r.job_id for r in results] == ids  # FIFO
    assert [len(r.pages) for r in results] == [1, 1, 2, 3]

    # per job: queued ... started, then per page: pageStarted, deltas, pageFinished; then finished
    for job_id, result in zip(ids, results):
        seq = [(n, p) for n, p in rec.events if getattr(p, "job_id", None) == job_id]
        names = [n for n, _ in seq]
        assert names[0] == "jobQueued" and names[1] == "jobStarted" and names[-1] == "jobFinished"
        body = [x for x in names[2:-1] if x != "textDelta"]
        assert body == ["pageStarted", "pageFinished"] * len(result.pages)
        for page in result.pages:
            deltas = [p.text for n, p in seq if n == "textDelta" and p.page == page.page]
            assert "".join(deltas) == page.text  # the streamed text is the page's text
            if page.source == "model":
                assert 1 <= page.generation_tokens <= 6
                assert page.prompt_tokens > 0
                assert page.peak_memory > 0
    pdf_pages = results[3].pages
    assert [p.source for p in pdf_pages] == [PageSource.MODEL, PageSource.TEXT_LAYER, PageSource.MODEL]
    assert "Page 2" in pdf_pages[1].text  # the text layer's own words, not the model's
    assert [(p.page, p.pages) for p in pdf_pages] == [(1, 3), (2, 3), (3, 3)]
    # jobs queued before the model loaded: one load, busy while working, ready at the end
    # (the state after the last job is reported just after its jobFinished: wait for it)
    qtbot.waitUntil(lambda: rec.states()[-1] is State.READY, timeout=WAIT_MS)
    states = rec.states()
    assert states.count(State.LOADING) >= 1
    assert State.BUSY in states and states[-1] is State.READY


def test_cancel_mid_job_and_engine_stays_usable(qtbot, make_engine, tmp_path):
    engine, rec = make_engine()
    pdf = samples.write_pdf(tmp_path / "long.pdf", pages=6, text_pages=set())
    [job] = engine.submit([pdf], OcrOptions(max_tokens=200))
    engine.textDelta.connect(lambda d: engine.cancel(job))
    [result] = wait_done(qtbot, engine)
    assert result.status == JobStatus.CANCELLED
    assert len(result.pages) < 6
    engine.textDelta.disconnect()
    [again] = engine.submit([samples.write_png(tmp_path / "x.png")], OcrOptions(max_tokens=4))
    [result] = wait_done(qtbot, engine)
    assert (result.job_id, result.status) == (again, JobStatus.DONE)


def test_cancel_queued_job_and_cancel_all(qtbot, make_engine, tmp_path):
    engine, rec = make_engine()
    pdf = samples.write_pdf(tmp_path / "p.pdf", pages=4, text_pages=set())
    png = samples.write_png(tmp_path / "q.png")
    first, second = engine.submit([pdf, png], OcrOptions(max_tokens=100))
    engine.cancel(second)
    qtbot.waitUntil(lambda: any(r.job_id == second for r in rec.of("jobFinished")), timeout=WAIT_MS)
    engine.cancel_all()
    qtbot.waitUntil(lambda: len(rec.of("jobFinished")) == 2, timeout=WAIT_MS)
    statuses = {r.job_id: r.status for r in rec.of("jobFinished")}
    assert statuses == {first: JobStatus.CANCELLED, second: JobStatus.CANCELLED}
    assert not any(p.job_id == second for p in rec.of("jobStarted"))


def test_unload_now_during_job_is_deferred_and_reported(qtbot, make_engine, tmp_path):
    engine, rec = make_engine(Mode.KEEP_RESIDENT)
    pdf = samples.write_pdf(tmp_path / "p.pdf", pages=2, text_pages=set())
    asked = []

    def ask(delta):
        if not asked:
            asked.append(engine.status.state)
            engine.unload_now()

    engine.textDelta.connect(ask)
    engine.submit([pdf], OcrOptions(max_tokens=8))
    [result] = wait_done(qtbot, engine)
    wait_state(qtbot, engine, State.UNLOADED)
    assert result.status == JobStatus.DONE and len(result.pages) == 2  # the job was not cut short
    statuses = rec.of("stateChanged")
    pending = [s for s in statuses if s.unload_pending]
    assert pending and all(s.state is State.BUSY for s in pending)
    # the unload came only after the job had finished
    finished_at = next(i for i, (n, _) in enumerate(rec.events) if n == "jobFinished")
    unloading_at = next(i for i, (n, p) in enumerate(rec.events) if n == "stateChanged" and p.state is State.UNLOADING)
    assert unloading_at > finished_at


def test_idle_timeout_unloads_after_one_second(qtbot, make_engine, inputs):
    engine, rec = make_engine(Mode.IDLE_TIMEOUT, idle=1.0)
    engine.submit([inputs["png"]], OcrOptions(max_tokens=4))
    wait_done(qtbot, engine)
    idle_at = time.time()
    wait_state(qtbot, engine, State.READY)
    assert engine.status.deadline is not None and engine.status.deadline - idle_at <= 1.5
    wait_state(qtbot, engine, State.UNLOADED, timeout=10_000)
    waited = time.time() - idle_at
    assert 0.5 <= waited <= 8.0
    assert engine.status.model_bytes == 0


def test_auto_release_unloads_once_queue_is_empty(qtbot, make_engine, inputs):
    engine, rec = make_engine(Mode.AUTO_RELEASE)
    engine.submit([inputs["png"], inputs["jpg"]], OcrOptions(max_tokens=4))
    wait_done(qtbot, engine, 2)
    wait_state(qtbot, engine, State.UNLOADED)
    states = rec.states()
    assert states.count(State.LOADING) == 1  # one load for the whole queue
    assert states.count(State.UNLOADING) == 1


def test_switch_mode_while_ready(qtbot, make_engine, inputs):
    engine, rec = make_engine(Mode.KEEP_RESIDENT)
    engine.submit([inputs["png"]], OcrOptions(max_tokens=4))
    wait_done(qtbot, engine)
    wait_state(qtbot, engine, State.READY)
    engine.set_mode(Mode.AUTO_RELEASE)
    wait_state(qtbot, engine, State.UNLOADED)


def test_shutdown_mid_job_breaks_off_the_page_and_gives_the_model_back(qtbot, make_engine, tmp_path):
    """Shutdown while a page is being generated: the page stops between two tokens (it never runs
    on to its 500-token limit), the job ends cancelled, and the model is unloaded, within the 5 s
    the app allows before it gives up on the thread."""
    engine, rec = make_engine()
    pdf = samples.write_pdf(tmp_path / "long.pdf", pages=20, text_pages=set())
    ended = []
    engine.jobFailed.connect(ended.append)
    engine.jobFinished.connect(ended.append)
    deltas = []
    engine.textDelta.connect(deltas.append)
    engine.submit([pdf], OcrOptions(max_tokens=500))
    qtbot.waitUntil(lambda: bool(deltas), timeout=WAIT_MS)
    assert engine.shutdown(5.0)
    assert engine.status.state is State.UNLOADED
    [result] = ended
    assert result.status == JobStatus.CANCELLED and len(result.pages) < 20
    assert len([d for d in deltas if d.page == deltas[0].page]) < 500  # broken off mid-page


def test_bad_inputs_fail_one_line_and_others_run(qtbot, make_engine, tmp_path, inputs):
    engine, rec = make_engine()
    missing = tmp_path / "missing.png"
    unsupported = tmp_path / "notes.txt"
    unsupported.write_text("plain text")
    corrupt = tmp_path / "broken.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n%garbage" + bytes(range(256)))
    engine.submit([missing, unsupported, inputs["png"], corrupt], OcrOptions(max_tokens=4))
    results = wait_done(qtbot, engine, 4)
    by_path = {r.path: r for r in results}
    assert by_path[str(inputs["png"])].status == JobStatus.DONE
    for path in (missing, unsupported, corrupt):
        r = by_path[str(path)]
        assert r.status == JobStatus.FAILED and r.error_kind == ErrorKind.DOCUMENT
        assert r.error.startswith(path.name + ": ") and "\n" not in r.error


def test_missing_model_fails_jobs_clearly_and_returns_to_unloaded(qtbot, make_engine, tmp_path, inputs):
    engine, rec = make_engine(model=tmp_path / "no-such-model")
    engine.submit([inputs["png"], inputs["jpg"]], OcrOptions(max_tokens=4))
    results = wait_done(qtbot, engine, 2)
    assert all(r.status == JobStatus.FAILED and r.error_kind == ErrorKind.MODEL_MISSING for r in results)
    assert "no-such-model" in results[0].error and results[0].error.startswith("a.png: ")
    wait_state(qtbot, engine, State.UNLOADED)
    assert engine.status.error and engine.status.error_kind == ErrorKind.MODEL_MISSING


def test_duplicates_while_queued_are_skipped(qtbot, make_engine, inputs):
    engine, rec = make_engine()
    ids = engine.submit([inputs["pdf"], inputs["png"], inputs["png"]], OcrOptions(max_tokens=4))
    assert len(ids) == 2
    assert any("already in the queue" in n for n in rec.of("notice"))
    wait_done(qtbot, engine, 2)


def test_queue_limit(qtbot, make_engine, inputs):
    engine, rec = make_engine(queue_limit=2)
    ids = engine.submit([inputs["png"], inputs["jpg"], inputs["tiff"]], OcrOptions(max_tokens=2))
    assert len(ids) == 2
    assert any("queue is full" in n for n in rec.of("notice"))
    wait_done(qtbot, engine, 2)


def test_one_long_lived_thread_owns_mlx(qtbot, make_engine, inputs):
    """Many jobs and loads leave the OS thread count flat: no thread per job."""
    engine, rec = make_engine(Mode.AUTO_RELEASE)
    engine.submit([inputs["png"]], OcrOptions(max_tokens=2))
    wait_done(qtbot, engine)
    wait_state(qtbot, engine, State.UNLOADED)
    before = psutil.Process().num_threads()
    for i in range(4):
        engine.submit([inputs["png"]], OcrOptions(max_tokens=2))
        wait_done(qtbot, engine)
        wait_state(qtbot, engine, State.UNLOADED)
    assert psutil.Process().num_threads() <= before + 1
