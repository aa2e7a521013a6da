"""The job controller on its own, over a stand-in engine that records what it is asked and answers on cue."""

from __future__ import annotations

import itertools
import os

import pytest
from PySide6.QtCore import QObject, QSettings, Signal

from engine import background
from engine.controller import JobController
from engine.jobs import (
    Client,
    EngineStatus,
    ErrorKind,
    JobInfo,
    JobResult,
    JobStatus,
    OcrOptions,
)
from engine.lifecycle import Mode, State
from engine.settings import Settings
from engine.testing import samples


class FakeEngine(QObject):
    """The signals and methods of engine.engine_thread.Engine; jobs end when the test says so."""

    stateChanged = Signal(object)
    jobQueued = Signal(object)
    jobStarted = Signal(object)
    pageStarted = Signal(object)
    textDelta = Signal(object)
    pageFinished = Signal(object)
    jobFinished = Signal(object)
    jobFailed = Signal(object)
    jobRejected = Signal(object)
    notice = Signal(str)

    def __init__(self, room: int = 100) -> None:
        super().__init__()
        self.status = EngineStatus(State.UNLOADED, Mode.IDLE_TIMEOUT, 300.0, "Tiny")
        self.jobs: dict[int, JobInfo] = {}
        self.calls: list[tuple] = []
        self.room = room
        self.spec = None
        self._ids = itertools.count(1)
        self.busy = False

    def submit(self, paths, options=None, *, client=Client.WINDOW, client_name="", temporary=False):
        ids = []
        for p in paths:
            if len(self.jobs) >= self.room:
                self.notice.emit(f"{os.path.basename(p)}: not queued — the queue is full")
                continue
            info = JobInfo(next(self._ids), os.fspath(p), 0, options or OcrOptions(), client, client_name, temporary)
            self.jobs[info.job_id] = info
            self.jobQueued.emit(info)
            ids.append(info.job_id)
        return ids

    def end(self, job_id: int, status: JobStatus = JobStatus.DONE, kind: ErrorKind | None = None) -> JobResult:
        info = self.jobs.pop(job_id)
        result = JobResult(job_id, info.path, status, error=None if kind is None else f"x: {kind}", error_kind=kind,
                           options=info.options, client=info.client, temporary=info.temporary)
        (self.jobFailed if status is JobStatus.FAILED else self.jobFinished).emit(result)
        return result

    def set_mode(self, mode, idle=None):
        self.calls.append(("mode", mode, idle))

    def set_model(self, spec):
        self.calls.append(("model", spec.source))

    def set_memory_check(self, on):
        self.calls.append(("check", on))

    def shutdown(self, timeout_s=5.0):
        self.calls.append(("shutdown",))
        return True

    for name in ("cancel", "cancel_all", "unload_now", "request_status", "load_now"):
        locals()[name] = (lambda n: lambda self, *a: self.calls.append((n, *a)))(name)


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def settings(tmp_path):
    return Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def controller(qapp, engine, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("OCR_TRAY_RUNTIME_DIR", str(tmp_path / "run"))
    c = JobController(engine, settings)
    yield c
    c.shutdown()


def wait_chores(qtbot):
    qtbot.waitUntil(lambda: background.pending() == 0, timeout=10_000)


def test_submit_expands_folders_off_the_thread_and_names_what_it_leaves_out(qtbot, controller, engine, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    samples.write_png(folder / "a.png")
    (folder / "notes.txt").write_text("not a document")
    messages = []
    controller.message.connect(messages.append)
    controller.submit([folder, tmp_path / "missing.pdf"], client=Client.WINDOW)
    assert engine.jobs == {}  # nothing queued yet: the walk runs on a pool thread
    wait_chores(qtbot)
    assert [os.path.basename(i.path) for i in engine.jobs.values()] == ["a.png"]
    assert any(m.startswith("notes.txt:") for m in messages) and any(m.startswith("missing.pdf:") for m in messages)


def test_submitting_lasts_from_submit_until_the_files_reach_the_engine(qtbot, controller, engine, tmp_path):
    """``submitting`` covers the pool thread's walk (the app waits for it before it loads the local API's code),
    and ``submissionsSettled`` comes once all walks are done, also when nothing was left to queue."""
    samples.write_png(tmp_path / "a.png")
    settled = []
    controller.submissionsSettled.connect(lambda: settled.append((controller.submitting, dict(engine.jobs))))
    assert not controller.submitting
    controller.submit([tmp_path / "a.png"])
    controller.submit([tmp_path / "missing.pdf"])
    assert controller.submitting and engine.jobs == {}  # on their way, not queued yet
    wait_chores(qtbot)
    assert not controller.submitting
    assert len(settled) == 1  # once, after both walks
    still_submitting, queued = settled[0]
    assert not still_submitting and [os.path.basename(i.path) for i in queued.values()] == ["a.png"]
    controller.submit([tmp_path / "missing.pdf"])  # nothing to queue: settled all the same
    wait_chores(qtbot)
    assert len(settled) == 2 and not controller.submitting


def test_each_job_carries_its_options_and_client(controller, engine, tmp_path):
    png = samples.write_png(tmp_path / "a.png")
    [job] = controller.submit_files([png], OcrOptions(max_tokens=7), client=Client.CLI, client_name="tool/1.0")
    info = engine.jobs[job]
    assert (info.options.max_tokens, info.client, info.client_name) == (7, Client.CLI, "tool/1.0")
    ended = []
    controller.jobEnded.connect(ended.append)
    engine.end(job)
    assert ended[0].options.max_tokens == 7 and ended[0].client is Client.CLI


def test_default_options_are_the_saved_settings(controller, engine, settings, tmp_path):
    settings.set("ocr/max_tokens", 99)
    [job] = controller.submit_files([samples.write_png(tmp_path / "a.png")])
    assert engine.jobs[job].options.max_tokens == 99


def test_a_password_failure_is_held_and_retried_with_the_same_options(controller, engine, tmp_path):
    asked = []
    controller.set_retry_offer(ErrorKind.PASSWORD, lambda r: asked.append(r) or True)
    [job] = controller.submit_files([samples.write_png(tmp_path / "a.png")], OcrOptions(max_tokens=5))
    failed = engine.end(job, JobStatus.FAILED, ErrorKind.PASSWORD)
    assert asked == [failed] and controller.holds(failed)
    [again] = controller.retry(failed, "secret")
    assert (engine.jobs[again].options.password, engine.jobs[again].options.max_tokens) == ("secret", 5)
    assert not controller.holds(failed)


def test_an_offer_that_declines_leaves_the_failure_as_it_is(controller, engine, tmp_path):
    controller.set_retry_offer(ErrorKind.MODEL_MISSING, lambda r: False)
    [job] = controller.submit_files([samples.write_png(tmp_path / "a.png")])
    failed = engine.end(job, JobStatus.FAILED, ErrorKind.MODEL_MISSING)
    assert not controller.holds(failed)


def test_temporary_files_go_when_their_job_ends_for_good(controller, engine):
    folder = controller.temp_dir("clipboard")
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    done, held, refused = (folder / f"{n}.png" for n in ("done", "held", "refused"))
    for f in (done, held, refused):
        samples.write_png(f)
    controller.set_retry_offer(ErrorKind.PASSWORD, lambda r: True)
    [a] = controller.submit_files([done], temporary=True)
    [b] = controller.submit_files([held], temporary=True)
    engine.end(a)
    assert not done.exists()
    failed = engine.end(b, JobStatus.FAILED, ErrorKind.PASSWORD)
    assert held.exists()  # kept for the retry
    controller.abandon(failed)
    assert not held.exists()
    engine.room = 0
    assert controller.submit_files([refused], temporary=True) == []
    assert not refused.exists()  # the queue refused it: nobody would ever read it
    controller.shutdown()
    assert not folder.exists()


def test_settings_changes_reach_the_engine(controller, engine, settings, tmp_path):
    settings.set("memory/mode", "keep-resident")
    settings.set("memory/check_fit", False)
    settings.set("model/preset", "custom")
    settings.set("model/custom_source", str(tmp_path))
    assert ("mode", Mode.KEEP_RESIDENT, 300.0) in engine.calls
    assert ("check", False) in engine.calls
    assert ("model", str(tmp_path)) in engine.calls


def test_prewarm_is_a_load_now_without_keep_alive_and_stops_with_the_controller(controller, engine):
    """The desktop's intents (a drag, "OCR File…", the clipboard) ask the engine for a prewarm: a load without a
    hold of its own (the engine holds it for the announced job, ADR 0018); an API keep_alive stays its own."""
    controller.prewarm()
    controller.load_now(60)
    assert [c for c in engine.calls if c[0] == "load_now"] == [("load_now", None), ("load_now", 60)]
    controller.shutdown()
    controller.prewarm()
    assert [c for c in engine.calls if c[0] == "load_now"] == [("load_now", None), ("load_now", 60)]


def test_after_shutdown_nothing_is_taken_and_temporary_files_are_not_left(controller, engine, tmp_path):
    controller.shutdown()
    stray = tmp_path / "late.png"
    samples.write_png(stray)
    assert controller.submit_files([stray], temporary=True) == [] and not stray.exists()
    assert ("shutdown",) in engine.calls
