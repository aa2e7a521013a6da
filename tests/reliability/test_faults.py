"""Injected faults, each with the tiny model: broken model folders, generation that raises, cancels and
unloads at awkward moments, quit mid-job, a refused memory check, an engine thread that dies,
and a disk that fills while the history is written.

Every case must end in a consistent lifecycle state (idle, nothing queued, the model loaded
exactly when the state says so), never hang (every wait is bounded), and give the memory
back after an unload.
"""

from __future__ import annotations

import json
import os
import shutil
import weakref

import psutil
import pytest
from PySide6.QtCore import QThread

from engine.backend import Backend
from engine.history import HistoryStore
from engine.jobs import DocumentStatus, ErrorKind, JobStatus, OcrOptions, PageSource
from engine.lifecycle import Mode, State
from engine.memory import rss_bytes
from tests.clock import SteppedClock

from . import bad_files
from .conftest import TOKENS, one_line, settle, wait_until

pytestmark = pytest.mark.slow

OPTS = OcrOptions(max_tokens=TOKENS)
LONG = OcrOptions(max_tokens=40)  # long enough per page for something to happen mid-page
RSS_BOUND = 64 * 1024 * 1024  # a tiny model's load/unload cycle gives back all but this much


def consistent(engine, loaded: bool | None = None) -> None:
    """The engine is at rest and its parts agree: state, backend, status, queue."""
    settle(engine)
    status = engine.status
    assert engine.outstanding() == 0 and status.queued == 0 and not status.unload_pending
    backend_loaded = engine._worker.backend.loaded
    assert backend_loaded == (status.state is State.READY), (status.state, backend_loaded)
    if status.state is State.UNLOADED:
        assert status.model_bytes == 0
    if loaded is not None:
        assert backend_loaded == loaded


def model_copy(tiny_model_dir, tmp_path, name="model"):
    dest = tmp_path / name
    shutil.copytree(tiny_model_dir, dest)
    return dest


# ------------------------------------------------------------- model folder faults
def _load_fails(make_engine, model, tmp_path, kind, words):
    engine, rec = make_engine(model=model)
    png = bad_files.png(tmp_path / "page.png")
    pdf = bad_files.text_pdf(tmp_path / "letter.pdf")
    results = rec.run([png, pdf], OPTS)
    for path, result in results.items():
        if kind == ErrorKind.MODEL_MISSING and path == str(pdf):
            # a born-digital PDF needs no model: its text layer is read even while the model is missing
            assert result.status is JobStatus.DONE and result.pages
            assert {p.source for p in result.pages} == {PageSource.TEXT_LAYER}
            continue
        assert (result.status, result.error_kind) == (JobStatus.FAILED, kind), result
        one_line(result.error, os.path.basename(path))
        assert words in result.error, result.error
    consistent(engine, loaded=False)
    assert engine.status.state is State.UNLOADED and engine.status.error_kind == kind
    return engine, rec


def test_model_folder_missing_then_fixed(make_engine, tiny_model_dir, tmp_path):
    engine, rec = _load_fails(make_engine, tmp_path / "gone", tmp_path, "model-missing", "does not exist")
    from engine.models.presets import ModelSpec

    engine.set_model(ModelSpec.resolve(str(tiny_model_dir)))  # the person picks a model that is there
    png = bad_files.png(tmp_path / "again.png")
    assert rec.run([png], OPTS)[str(png)].status == JobStatus.DONE
    consistent(engine, loaded=True)


def test_corrupt_safetensors(make_engine, tiny_model_dir, tmp_path):
    model = model_copy(tiny_model_dir, tmp_path)
    for weights in model.glob("*.safetensors"):
        size = weights.stat().st_size
        weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage" + os.urandom(max(0, size - 16)))
    _load_fails(make_engine, model, tmp_path, "model", "could not be loaded")


def _without_tokenizer(tiny_model_dir, tmp_path):
    model = model_copy(tiny_model_dir, tmp_path)
    removed = [p for p in model.iterdir() if p.name.startswith(("tokenizer", "vocab", "merges", "special_tokens"))]
    assert removed, f"the tiny model has no tokenizer files to remove: {sorted(p.name for p in model.iterdir())}"
    for p in removed:
        p.unlink()
    return model


def test_missing_tokenizer_fails_every_job_in_one_line(make_engine, tiny_model_dir, tmp_path):
    """Today transformers quietly builds an empty tokenizer, so the load 'works' and each page fails;
    once check_folder refuses the folder, each job fails at the load. One line per job either way."""
    engine, rec = make_engine(model=_without_tokenizer(tiny_model_dir, tmp_path))
    png = bad_files.png(tmp_path / "page.png")
    pdf = bad_files.scan_pdf(tmp_path / "scan.pdf", pages=2)
    results = rec.run([png, pdf], OPTS)
    for path, result in results.items():
        assert result.status == JobStatus.FAILED, result
        assert result.error_kind in (ErrorKind.MODEL, ErrorKind.MODEL_MISSING), result
        one_line(result.error, os.path.basename(path))
    consistent(engine)


def test_missing_tokenizer_is_refused_at_load(make_engine, tiny_model_dir, tmp_path):
    _load_fails(make_engine, _without_tokenizer(tiny_model_dir, tmp_path), tmp_path, "model-missing", "tokenizer")


def test_config_of_an_unknown_architecture(make_engine, tiny_model_dir, tmp_path):
    model = model_copy(tiny_model_dir, tmp_path)
    config = json.loads((model / "config.json").read_text())
    config["model_type"] = "no_such_architecture_xyz"
    config["architectures"] = ["NoSuchArchitectureForOcr"]
    (model / "config.json").write_text(json.dumps(config))
    _load_fails(make_engine, model, tmp_path, "model", "could not be loaded")


def test_memory_fit_check_refuses_then_can_be_turned_off(make_engine, tmp_path, monkeypatch):
    class Tight:
        available = 1024 * 1024  # 1 MB free

    real = psutil.virtual_memory
    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tight())
    engine, rec = _load_fails(make_engine, None, tmp_path, "memory", "needs about")
    assert "only 1.0 MB is available" in engine.status.error
    monkeypatch.setattr(psutil, "virtual_memory", real)
    engine.set_memory_check(False)
    png = bad_files.png(tmp_path / "fits-now.png")
    assert rec.run([png], OPTS)[str(png)].status == JobStatus.DONE
    consistent(engine, loaded=True)


# ------------------------------------------------------------ faults mid-job
def test_generate_raises_mid_document(make_engine, tmp_path):
    store = HistoryStore(tmp_path / "history.sqlite3")
    engine, rec = make_engine(history=store)
    pdf = bad_files.scan_pdf(tmp_path / "three.pdf", pages=3)
    calls = {"tokens": 0}

    def hook(where):
        if where == "token" and rec.of("pageFinished"):  # page 1 is done: break page 2
            calls["tokens"] += 1
            raise RuntimeError("injected: the GPU went away")

    engine._worker.fault_hook = hook
    result = rec.run([pdf], LONG)[str(pdf)]
    assert (result.status, result.error_kind) == (JobStatus.FAILED, ErrorKind.MODEL)
    one_line(result.error, "three.pdf")
    assert "injected: the GPU went away" in result.error and calls["tokens"] == 1
    assert [p.page for p in result.pages] == [1]  # the page already read is kept
    consistent(engine, loaded=True)
    [doc] = store.documents()
    assert (doc.status, doc.pages_done, doc.resumable) == (JobStatus.FAILED, (1,), True)
    engine._worker.fault_hook = None
    png = bad_files.png(tmp_path / "next.png")
    assert rec.run([png], OPTS)[str(png)].status == JobStatus.DONE
    store.close()


def test_cancel_during_prefill(make_engine, tmp_path):
    engine, rec = make_engine()
    rec.run([bad_files.png(tmp_path / "warm.png")], OPTS)  # loaded: the next page starts with its prefill
    rec.clear()
    pdf = bad_files.scan_pdf(tmp_path / "scan.pdf", pages=4)
    [job] = engine.submit([pdf], LONG)
    engine.pageStarted.connect(lambda p: engine.cancel(job))  # arrives while the page is in prefill
    [result] = rec.wait_results(1, 30)
    assert result.status == JobStatus.CANCELLED and result.pages == ()
    assert len(rec.of("textDelta")) <= 1  # stopped at the first token after the prefill
    consistent(engine, loaded=True)


def test_unload_requested_mid_job_and_memory_comes_back(make_engine, tmp_path):
    """Unload asked for while a page is being read: the job finishes, then the model goes.

    The tiny model's weights are under a megabyte, so RSS cannot tell a leaked model from
    allocator noise: a weakref to the model object proves it is gone, and MLX's own count of
    live arrays falls back to zero. The RSS bound only guards against a runaway cycle."""
    backend = Backend()
    engine, rec = make_engine(backend=backend)
    rec.run([bad_files.png(tmp_path / "warm.png")], OPTS)  # imports and allocator warm-up
    engine.unload_now()
    wait_until(lambda: engine.status.state is State.UNLOADED, 30, "unload")
    before_load = rss_bytes()
    rec.clear()
    pdf = bad_files.scan_pdf(tmp_path / "scan.pdf", pages=3)
    model_refs = []

    def ask(_delta):
        if not model_refs:
            model_refs.append(weakref.ref(backend._model))  # the model reading this page
            engine.unload_now()

    engine.textDelta.connect(ask)
    result = rec.run([pdf], OPTS)[str(pdf)]
    assert result.status == JobStatus.DONE and len(result.pages) == 3  # the job was not cut short
    wait_until(lambda: engine.status.state is State.UNLOADED, 30, "the deferred unload")
    consistent(engine, loaded=False)
    assert any(s.unload_pending and s.state is State.BUSY for s in rec.of("stateChanged"))
    assert model_refs and model_refs[0]() is None, "the model object outlived the unload"
    loaded_active = max(st.active_memory for st in rec.of("stateChanged"))
    assert loaded_active > 100_000  # the model's arrays were counted while it was loaded
    assert engine.status.active_memory < loaded_active // 100  # and MLX holds none of them now
    after_unload = rss_bytes()
    assert after_unload - before_load < RSS_BOUND, f"RSS grew {(after_unload - before_load) / 1e6:.0f} MB"
    print(f"RSS before load {before_load / 1e6:.0f} MB, after unload {after_unload / 1e6:.0f} MB")


def test_idle_deadline_falls_mid_job(make_engine, tmp_path):
    """The idle deadline comes due while a job runs: nothing unloads under the job, and the
    unload happens after it. The engine's clock is injected and moved past the deadline from
    inside the job, and the engine is made to re-read its deadline there (a mode change does),
    so the deadline falls mid-job on any machine, however slow."""
    clock = SteppedClock()
    engine, rec = make_engine(mode=Mode.IDLE_TIMEOUT, idle=60.0, clock=clock)
    pdf = bad_files.scan_pdf(tmp_path / "long.pdf", pages=4)
    rec.run([bad_files.png(tmp_path / "first.png")], OPTS)
    wait_until(lambda: engine.status.state is State.READY and engine.status.deadline, 30, "ready, deadline armed")
    armed, loads = engine.status.deadline, engine.status.loads
    rec.clear()
    seen = []

    def jump(_delta):
        if not seen:
            seen.append(engine.status.state)
            clock.advance(120.0)  # well past the armed deadline, while page 1 is being read
            engine.set_mode(Mode.IDLE_TIMEOUT, 60.0)  # and the engine looks at it now

    engine.textDelta.connect(jump)
    result = rec.run([pdf], OPTS)[str(pdf)]
    assert seen == [State.BUSY] and clock() > armed  # precondition: it fell while the job held the model
    assert result.status == JobStatus.DONE and len(result.pages) == 4
    assert engine.status.loads == loads  # the job ran on the model it found, no reload
    finished_at = next(i for i, (n, _) in enumerate(rec.events) if n == "jobFinished")
    during = [p.state for n, p in rec.events[:finished_at] if n == "stateChanged"]
    assert State.UNLOADING not in during  # nothing unloaded under the running job
    wait_until(lambda: engine.status.state is State.READY and engine.status.deadline, 30, "a new deadline")
    assert engine.status.deadline >= clock() + 59  # counted from the job's end
    clock.advance(61.0)
    engine.set_mode(Mode.IDLE_TIMEOUT, 60.0)
    wait_until(lambda: engine.status.state is State.UNLOADED, 15, "the idle unload after the job")
    consistent(engine, loaded=False)


def test_mode_switched_mid_job(make_engine, tmp_path):
    engine, rec = make_engine(mode=Mode.KEEP_RESIDENT)
    pdf = bad_files.scan_pdf(tmp_path / "scan.pdf", pages=3)
    switched = []

    def switch(_delta):
        if not switched:
            switched.append(engine.status.state)
            engine.set_mode(Mode.AUTO_RELEASE)

    engine.textDelta.connect(switch)
    result = rec.run([pdf], OPTS)[str(pdf)]
    assert result.status == JobStatus.DONE and len(result.pages) == 3
    wait_until(lambda: engine.status.state is State.UNLOADED, 30, "auto-release after the queue")
    consistent(engine, loaded=False)
    assert engine.status.mode is Mode.AUTO_RELEASE


def test_quit_mid_job(make_engine, tmp_path):
    store = HistoryStore(tmp_path / "history.sqlite3")
    engine, rec = make_engine(history=store)
    pdf = bad_files.scan_pdf(tmp_path / "long.pdf", pages=30)
    waiting = bad_files.png(tmp_path / "waiting.png")
    engine.submit([pdf, waiting], LONG)
    wait_until(lambda: len(rec.of("pageFinished")) >= 2, 60, "two pages")
    assert engine.shutdown(5.0)  # the thread stopped inside the 5 s the app allows
    assert engine.status.state is State.UNLOADED and engine._thread is None
    results = {r.path: r for r in rec.results()}
    assert results[str(pdf)].status == JobStatus.CANCELLED and len(results[str(pdf)].pages) >= 2
    assert results[str(waiting)].status == JobStatus.CANCELLED and results[str(waiting)].pages == ()
    [doc] = store.documents()  # the pages read before the quit are saved, the record closed
    assert doc.status == JobStatus.CANCELLED and len(doc.pages_done) >= 2 and doc.resumable
    store.close()


def test_engine_thread_dies_mid_job_and_is_restarted(make_engine, tmp_path):
    engine, rec = make_engine()
    pdf = bad_files.scan_pdf(tmp_path / "scan.pdf", pages=2)
    after = bad_files.png(tmp_path / "after.png")
    old_thread = engine._thread
    killed = []

    def hook(where):
        if where == "token" and not killed:
            killed.append(True)
            QThread.currentThread().exit(3)  # the thread's event loop ends under the running job

    engine._worker.fault_hook = hook
    results = rec.run([pdf, after], OPTS, timeout_s=90)
    assert killed
    assert "The OCR engine stopped unexpectedly and was restarted." in rec.notices()
    first = results[str(pdf)]
    assert first.status in (JobStatus.DONE, JobStatus.FAILED)
    if first.status is JobStatus.FAILED:
        assert first.error_kind == ErrorKind.ENGINE
        one_line(first.error, "scan.pdf")
    assert results[str(after)].status == JobStatus.DONE  # the waiting job ran on the new thread
    assert engine._thread is not old_thread and engine._thread.isRunning()
    consistent(engine)
    again = bad_files.png(tmp_path / "again.png")
    assert rec.run([again], OPTS)[str(again)].status == JobStatus.DONE


def test_engine_thread_dies_while_idle_and_the_next_job_restarts_it(make_engine, tmp_path):
    engine, rec = make_engine()
    rec.run([bad_files.png(tmp_path / "warm.png")], OPTS)
    old = engine._thread
    old.quit()
    wait_until(lambda: engine._thread is not old and engine._thread.isRunning(), 30, "the restart")
    assert "The OCR engine stopped unexpectedly and was restarted." in rec.notices()
    wait_until(lambda: engine.status.state is State.UNLOADED, 30, "the new thread's report")
    consistent(engine, loaded=False)  # the inherited model was given back
    png = bad_files.png(tmp_path / "next.png")
    assert rec.run([png], OPTS)[str(png)].status == JobStatus.DONE
    consistent(engine, loaded=True)


# --------------------------------------------------------------- history faults
class FillingDisk(HistoryStore):
    """The history file may not grow while pages in ``full_for`` are written: SQLite's own
    "database or disk is full", raised from inside the engine thread's write."""

    full_for: set[int] = set()

    def add_page(self, record, page):
        with self._connection() as db:  # the write below runs on this same connection
            limit = db.execute("PRAGMA page_count").fetchone()[0] if page.page in self.full_for else 1073741823
            db.execute(f"PRAGMA max_page_count = {limit}")
            return super().add_page(record, page)


def test_disk_fills_while_writing_history(make_engine, tmp_path):
    store = FillingDisk(tmp_path / "history.sqlite3")
    engine, rec = make_engine(history=store)
    pdf = tmp_path / "long-text.pdf"
    import pymupdf

    doc = pymupdf.open()
    for n in range(1, 5):  # born-digital pages of ~6 KB of text each: every page needs new database pages
        page = doc.new_page(width=595, height=842)
        page.insert_textbox(page.rect + (20, 20, -20, -20), f"Page {n}. " + "lorem ipsum dolor sit amet " * 230,
                            fontsize=4)
    doc.save(pdf)
    doc.close()

    store.full_for = {2, 3}  # pages 2 and 3 meet a full disk; space comes back for page 4
    result = rec.run([pdf], OPTS)[str(pdf)]
    assert result.status == JobStatus.DONE and len(result.pages) == 4  # the OCR went on
    notes = [n for n in rec.notices() if n.startswith("History could not be saved")]
    assert len(notes) == 1 and "full" in notes[0]
    [saved] = store.documents()
    assert saved.pages_done == (1, 4) and saved.status == DocumentStatus.INCOMPLETE and saved.resumable
    consistent(engine, loaded=True)
    store.close()
