"""The one long-lived QThread that owns every MLX call, and its QtCore-only public face.

``Engine`` lives in the caller's thread (the GUI thread, or the CLI's main thread).
It talks to ``_Worker``, which lives in the engine thread, only through queued
signals, so nothing here ever blocks the caller. The worker runs jobs one at a time,
FIFO, except that a priority job (a screen capture) runs between two pages of the running one
(ADR 0001, "Priority jobs"); between tokens it pumps its own event queue, so cancel, unload-now, mode
changes and shutdown are seen mid-job.

Pages are prepared one ahead on a helper thread that touches no MLX (``engine.page_prefetch``, ADR 0018):
the first page of the next job while the model loads (from the moment a job is submitted to an idle
engine), and page n+1 while page n is generated.
"""

from __future__ import annotations

import atexit
import collections
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from PySide6.QtCore import QCoreApplication, QMetaObject, QObject, Qt, QThread, QTimer, Signal, Slot

from . import memory
from .backend import Backend, Cancelled
from .documents import DocumentError, PasswordRequired, display_name
from .human import one_line
from .jobs import (
    Client,
    EngineStatus,
    ErrorKind,
    HistorySink,
    JobInfo,
    JobResult,
    JobStatus,
    OcrOptions,
    PageProgress,
    PageResult,
    PageSource,
    TextDelta,
)
from .lifecycle import DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MODE, PREWARM_WAIT_S, Action, Lifecycle, Mode, State
from .models.presets import ModelSpec
from .models.store import ModelNotFound, ModelRejected, ModelTooLarge, check_fit, locate, vet
from .page_prefetch import PagePrefetch

log = logging.getLogger(__name__)

# Every engine thread that is running, with its worker, held here so that an Engine that is
# garbage-collected without shutdown() never destroys a running QThread (Qt aborts the
# process then). At exit, whatever is left is shut down, bounded in time.
_RUNNING: set[tuple[QThread, _Worker]] = set()

DEFAULT_QUEUE_LIMIT = 1000
DEADLINE_RECHECK_MS = 15_000  # a timer may sleep with the machine; re-read the wall clock this often
SHUTDOWN_TIMEOUT_S = 5.0
AHEAD_KEEP_S = PREWARM_WAIT_S  # a page a drag had prepared (prepare_ahead) waits this long for its drop, as the model
_T = TypeVar("_T")


@dataclass
class _Job:
    info: JobInfo
    prefetch: PagePrefetch | None = None  # its first page, prepared ahead (while the model loads)

    @property
    def options(self) -> OcrOptions:
        return self.info.options

    def start_prefetch(self, spec: ModelSpec) -> PagePrefetch:
        """Prepare this job's pages ahead for ``spec``'s limits (a prefetch made for other limits is replaced)."""
        args = _prefetch_args(self.options, spec)
        if self.prefetch is not None:
            if self.prefetch.key == PagePrefetch.key_for(self.info.path, **args):
                return self.prefetch
            self.prefetch.close()
        self.prefetch = PagePrefetch(self.info.path, **args)
        return self.prefetch

    def drop_prefetch(self) -> None:
        if self.prefetch is not None:
            self.prefetch.close()
            self.prefetch = None


def _prefetch_args(opts: OcrOptions, spec: ModelSpec) -> dict[str, Any]:
    """What a document's pages are prepared with, for ``spec``'s limits (``PagePrefetch``'s arguments)."""
    limits = spec.with_limits(opts.max_side)
    return dict(max_side=limits.max_side, max_pixels=limits.max_pixels, dpi=opts.dpi, text_layer=opts.text_layer,
                password=opts.password, pages=opts.pages)


class _Worker(QObject):
    """Lives in the engine thread. Only ever called through queued signals."""

    stateChanged = Signal(object)
    jobStarted = Signal(object)
    pageStarted = Signal(object)
    textDelta = Signal(object)
    pageFinished = Signal(object)
    jobDone = Signal(object)  # JobResult of any status
    historyError = Signal(str)
    stopped = Signal()

    def __init__(
        self,
        spec: ModelSpec,
        mode: Mode,
        idle_timeout_s: float,
        clock: Callable[[], float],
        backend: Backend | None = None,
        check_memory: bool = True,
        history: HistorySink | None = None,
    ) -> None:
        super().__init__()
        self._history = history
        self._spec = spec
        self._lc = Lifecycle(clock, mode, idle_timeout_s)
        self._clock = clock
        self.backend = backend or Backend()
        self._check_memory = check_memory
        self._queue: collections.deque[_Job] = collections.deque()
        self._starting: collections.deque[_Job] = collections.deque()
        self._current: _Job | None = None
        self._paused: list[_Job] = []  # running jobs that let a priority job run between two of their pages
        self._cancelled: set[int] = set()
        self._actions: collections.deque[Action] = collections.deque()
        self._in_action = False
        self._shutting_down = False
        self._timer: QTimer | None = None
        self._timer_token = -1
        self._error_kind: ErrorKind | None = None
        self._history_failed = False
        self._loads = 0
        self.fault_hook: Callable[[str], None] | None = None  # tests inject faults here

    # -------------------------------------------------------------- thread start
    @Slot()
    def started(self) -> None:
        self.backend.tune_allocator()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._deadline_timer)
        if self.backend.loaded:  # inherited from an engine thread that died: give its memory back
            self.backend.unload()
        self._emit_state()

    # ---------------------------------------------------------------------- slots
    @Slot(object)
    def submit(self, jobs: list[_Job]) -> None:
        for job in jobs:
            if self._shutting_down:
                self._finish_unstarted(job, JobStatus.CANCELLED, None, None)
                continue
            if job.info.priority:  # after the priority jobs already waiting, before every other job
                self._queue.insert(sum(1 for j in self._queue if j.info.priority), job)
            else:
                self._queue.append(job)
            self._apply(self._lc.job_queued())
        self._emit_state()

    @Slot(object)
    def cancel(self, job_id: int | None) -> None:
        """Cancel one job (queued or running), or every job when ``job_id`` is None."""
        for job in [self._current, *self._paused, *self._starting]:
            if job is not None and (job_id is None or job.info.job_id == job_id):
                self._cancelled.add(job.info.job_id)
        for job in [j for j in self._queue if job_id is None or j.info.job_id == job_id]:
            self._queue.remove(job)
            self._apply(self._lc.job_withdrawn())
            self._finish_unstarted(job, JobStatus.CANCELLED, None, None)
        self._emit_state()

    @Slot()
    def unload_now(self) -> None:
        self._apply(self._lc.request_unload())
        self._emit_state()

    @Slot(object)
    def load_now(self, keep_alive: float | None) -> None:
        """Load the model now. Without ``keep_alive`` a prewarm: held for the job it announces, for at most
        ``PREWARM_WAIT_S`` (Lifecycle.prewarm, ADR 0018); with it, a hold of that many seconds from when the
        model is ready (Lifecycle.request_load)."""
        if self._shutting_down:
            return
        self._apply(self._lc.prewarm() if keep_alive is None else self._lc.request_load(keep_alive))
        self._emit_state()

    @Slot(object, object)
    def set_mode(self, mode: Mode, idle_timeout_s: float | None) -> None:
        self._apply(self._lc.set_mode(Mode(mode), idle_timeout_s))
        self._emit_state()

    @Slot(object)
    def set_model(self, spec: ModelSpec) -> None:
        if spec == self._spec:
            return
        self._spec = spec
        self._lc.last_error, self._error_kind = None, None  # another model: the last one's failure is history
        if self.backend.loaded or self._lc.state is State.LOADING:
            self._apply(self._lc.request_unload())  # the next job loads the new model
        self._emit_state()

    @Slot(bool)
    def set_memory_check(self, on: bool) -> None:
        self._check_memory = on

    @Slot()
    def report(self) -> None:
        self._emit_state()

    @Slot()
    def shutdown(self) -> None:
        """Cancel everything, give the memory back and stop the thread (after the running job breaks off)."""
        self._shutting_down = True
        self.cancel(None)
        if not self._in_action:
            self._stop()

    def _stop(self) -> None:
        self._actions.clear()
        if self._timer is not None:
            self._timer.stop()
        if self.backend.loaded:
            self.backend.unload()
        self._lc = Lifecycle(self._clock, self._lc.mode, self._lc.idle_timeout_s)
        self._emit_state()
        self.stopped.emit()
        QThread.currentThread().quit()

    # --------------------------------------------------------------- the pump
    def _apply(self, actions: Iterable[Action]) -> None:
        for action in actions:
            if action is Action.FAIL_WAITING:
                self._fail_waiting()
                continue
            if action is Action.START_JOB:
                # the lifecycle counted it as started: take it off the queue now, so a
                # cancel that arrives before it runs finds it here, not in the queue
                self._starting.append(self._queue.popleft())
            self._actions.append(action)
        if self._actions and not self._in_action:
            QTimer.singleShot(0, self._pump)
        self._sync_timer()

    @Slot()
    def _pump(self) -> None:
        """Carry out one action, then post the next: events (cancel, new jobs) interleave."""
        if self._in_action or not self._actions:
            return  # re-entered from the event pumping inside a job; the outer pump goes on
        action = self._actions.popleft()
        self._in_action = True
        try:
            if action is Action.LOAD:
                follow = self._load()
            elif action is Action.START_JOB:
                follow = self._run_next_job()
            else:
                follow = self._unload()
        finally:
            self._in_action = False
        if self._shutting_down:
            self._stop()
            return
        self._apply(follow)
        self._emit_state()

    def _load(self) -> list[Action]:
        spec = self._spec
        self._error_kind = None
        self._emit_state()
        if self._queue:  # the first page is opened and rasterised on a helper thread while the model loads
            self._queue[0].start_prefetch(spec)
        try:
            path = locate(spec.source)
            # files, headers and config checked, and what the load needs sized, before anything is built
            waiting = self._queue[0].options.max_tokens if self._queue else None
            report = vet(path, spec.max_pixels, waiting)
            if self._check_memory:
                check_fit(spec.label, needed=report.estimated_bytes)
            self._fault("load")
            self.backend.load(spec, path, vetted=True)  # vetted just above
        except ModelNotFound as e:
            self._error_kind = ErrorKind.MODEL_MISSING
            return self._lc.load_finished(False, one_line(e))
        except ModelTooLarge as e:
            self._error_kind = ErrorKind.MEMORY
            return self._lc.load_finished(False, one_line(e))
        except ModelRejected as e:
            self._error_kind = ErrorKind.MODEL
            return self._lc.load_finished(False, one_line(e))
        except Exception as e:  # a damaged model folder raises anything from anywhere
            log.warning("model load failed: %s", type(e).__name__)
            self._error_kind = ErrorKind.MODEL
            self.backend.unload()
            return self._lc.load_finished(False, f"{spec.label} could not be loaded: {one_line(e)}")
        self._loads += 1
        return self._lc.load_finished(True)

    def _unload(self) -> list[Action]:
        self.backend.unload()
        return self._lc.unload_finished()

    def _fail_waiting(self) -> None:
        """A load failed: the jobs that waited for it fail with its error. When the model is only missing,
        each job still reads the pages that need no model (a PDF's text layer) and names the rest."""
        error = self._lc.last_error or "the model could not be loaded"
        while self._queue:
            job = self._queue.popleft()
            if self._error_kind is ErrorKind.MODEL_MISSING and not self._shutting_down:
                held, self._in_action = self._in_action, True  # no load may start while these are read
                try:
                    self._read(job, model_ready=False)
                finally:
                    self._in_action = held
                continue
            name = display_name(job.info.path)
            self._finish_unstarted(job, JobStatus.FAILED, f"{name}: not processed — {error}", self._error_kind)

    def _finish_unstarted(
        self, job: _Job, status: JobStatus, error: str | None, kind: ErrorKind | None
    ) -> None:
        job.drop_prefetch()
        self.jobDone.emit(_result(job.info, status, error=error, error_kind=kind))

    # ----------------------------------------------------------------- one job
    def _run_next_job(self) -> list[Action]:
        job = self._starting.popleft()
        self._read(job, model_ready=True)
        return self._lc.job_finished(job.options.keep_alive)

    def _read(self, job: _Job, model_ready: bool) -> None:
        """Read one document page by page; without a model (it is not downloaded) only the pages that need
        none, the others named as waiting for it (a retry reads just those, into the same history record)."""
        self._current = job
        info, opts = job.info, job.options
        self.jobStarted.emit(info)
        t0 = time.perf_counter()
        pages: list[PageResult] = []
        status, error, kind = JobStatus.DONE, None, None
        count, prefetch, record = 0, None, None
        waiting: list[int] = []  # pages that need the model, when it is missing
        spec = self.backend.spec or self._spec

        def poll() -> None:  # while a page is still being prepared: cancel, shutdown and new jobs get through
            QCoreApplication.processEvents()
            self._check_cancel(info.job_id)

        try:
            # pages are prepared one ahead on a helper thread (one document, one thread; no MLX there)
            prefetch, job.prefetch = job.start_prefetch(spec), None
            count = prefetch.open(poll)
            history = self._history
            if history is not None:
                record = self._record(
                    partial(history.start_document, info.path, count, spec.label, opts.history_id, opts, spec.source)
                )
            while (page := prefetch.next_page(poll)) is not None:  # page n+1 is prepared while n is read
                self._check_cancel(info.job_id)
                if not model_ready and page.text is None and page.error is None:
                    waiting.append(page.number)
                    del page
                    QCoreApplication.processEvents()
                    continue
                self.pageStarted.emit(PageProgress(info.job_id, info.path, page.number, page.count))
                result = self._ocr_page(info, opts, spec, page, prefetch.prepare_next)
                del page
                pages.append(result)
                if history is not None and record is not None:
                    self._record(partial(history.add_page, record, result))  # committed the moment it is done
                self.pageFinished.emit(result)
                QCoreApplication.processEvents()
                if model_ready:
                    self._yield_to_priority(job)
            self._check_cancel(info.job_id)
            if waiting:
                status, kind = JobStatus.FAILED, ErrorKind.MODEL_MISSING
                why = self._lc.last_error or "the model is not downloaded"
                read = f"{len(waiting)} of {count} page(s) need the model" if pages else "not processed"
                error = f"{display_name(info.path)}: {read} — {why}"
        except Cancelled:
            status = JobStatus.CANCELLED
        except PasswordRequired as e:
            status, error, kind = JobStatus.FAILED, str(e), ErrorKind.PASSWORD
        except DocumentError as e:
            status, error, kind = JobStatus.FAILED, str(e), ErrorKind.DOCUMENT
        except Exception as e:
            log.warning("OCR failed: %s", type(e).__name__)  # never the document's text
            status, kind = JobStatus.FAILED, ErrorKind.MODEL
            error = f"{display_name(info.path)}: OCR failed ({one_line(e)})"
        finally:
            if prefetch is not None:
                prefetch.close()
            del prefetch
            peak = self.backend.end_document()
            if self._history is not None and record is not None:
                self._record(partial(self._history.finish_document, record, status, error, kind))
            self._cancelled.discard(info.job_id)
            self._current = None
        self.jobDone.emit(
            _result(
                info, status, tuple(pages), count, error=error, error_kind=kind,
                seconds=time.perf_counter() - t0, peak_memory=peak,
                history_id=record if record is not None and record >= 0 else None,
            )
        )

    def _yield_to_priority(self, job: _Job) -> None:
        """Between two pages of ``job``: run the priority jobs that wait (a screen capture) right here, one at a
        time, then go on with the next page. The lifecycle stays BUSY: it counts each one as withdrawn from
        the queue, and its hold as a load-now hold (docs/adr/0001-lifecycle-rules.md, "Priority jobs")."""
        if job.info.priority:
            return  # a priority job is never paused: the next one waits for it at the front of the queue
        while self._queue and self._queue[0].info.priority and not self._shutting_down:
            waiting = self._queue.popleft()
            self._lc.job_withdrawn()  # BUSY: no action follows
            self._paused.append(job)
            try:
                self._read(waiting, model_ready=True)
            finally:
                self._paused.pop()
                self._current = job
            if not self._lc.unload_pending:
                self._lc.request_load(waiting.options.keep_alive)  # BUSY: only records the job's hold
            self._emit_state()

    def _ocr_page(self, info: JobInfo, opts: OcrOptions, spec: ModelSpec, page,
                  prepare_next: Callable[[], None]) -> PageResult:
        failed = page.error
        rejected = page.text_layer_rejected
        if failed is not None:  # one bad page costs one page: reported, and the document goes on
            return PageResult(info.job_id, info.path, page.number, page.count, "", PageSource.FAILED, spec.label,
                              error=failed)
        if page.text is not None:
            self.textDelta.emit(TextDelta(info.job_id, page.number, page.text))
            return PageResult(info.job_id, info.path, page.number, page.count, page.text, PageSource.TEXT_LAYER,
                              spec.label)

        def on_text(delta: str) -> None:
            self.textDelta.emit(TextDelta(info.job_id, page.number, delta))
            self._fault("token")
            QCoreApplication.processEvents()

        image, page.image = page.image, None  # the page holds no pixels past this point
        text, stats = self.backend.ocr(
            image, opts.max_tokens, on_text, lambda: info.job_id in self._cancelled, prompt=opts.prompt,
            on_first_token=prepare_next,  # the next page is prepared while the model writes this one (ADR 0021)
        )
        del image
        return PageResult(
            info.job_id,
            info.path,
            page.number,
            page.count,
            text,
            PageSource.MODEL,
            spec.label,
            stats.prompt_tokens,
            stats.generation_tokens,
            stats.seconds,
            stats.first_token_seconds,
            stats.tokens_per_second,
            stats.peak_memory,
            text_layer_rejected=rejected,
        )

    def _record(self, write: Callable[[], _T]) -> _T | None:
        """Write to the history; a failure (disk full) is reported once and never stops the OCR."""
        try:
            result = write()
            self._history_failed = False
            return result
        except Exception as e:
            log.error("history write failed: %s", type(e).__name__)
            if not self._history_failed:
                self._history_failed = True
                self.historyError.emit(f"History could not be saved ({one_line(e)}); the text is still shown here.")
            return None

    def _check_cancel(self, job_id: int) -> None:
        if job_id in self._cancelled:
            raise Cancelled()

    def _fault(self, where: str) -> None:
        if self.fault_hook is not None:
            self.fault_hook(where)

    # ---------------------------------------------------------- idle deadline
    def _sync_timer(self) -> None:
        if self._timer is None:
            return
        deadline = self._lc.deadline
        if deadline is None:
            self._timer.stop()
            return
        remaining_ms = max(0, int((deadline - self._clock()) * 1000) + 1)
        self._timer_token = self._lc.deadline_token
        self._timer.start(min(remaining_ms, DEADLINE_RECHECK_MS))

    @Slot()
    def _deadline_timer(self) -> None:
        self._apply(self._lc.check_deadline(self._timer_token))
        self._emit_state()

    # ------------------------------------------------------------------ status
    def _emit_state(self) -> None:
        snap = self._lc.snapshot()
        spec = self.backend.spec or self._spec
        self.stateChanged.emit(
            EngineStatus(
                state=snap.state,
                mode=snap.mode,
                idle_timeout_s=snap.idle_timeout_s,
                model_label=spec.label,
                model_bytes=self.backend.weight_bytes,
                active_memory=self.backend.active_memory(),
                rss=memory.rss_bytes(),
                unload_pending=snap.unload_pending,
                deadline=snap.deadline,
                queued=len(self._queue),
                error=snap.last_error,
                error_kind=self._error_kind if snap.last_error else None,
                loads=self._loads,
            )
        )


def _result(info: JobInfo, status: JobStatus, pages: tuple[PageResult, ...] = (), count: int = 0,
            **fields) -> JobResult:
    """A job's result, carrying what the job carried (its options, client and whether its file is temporary)."""
    return JobResult(info.job_id, info.path, status, pages, count, options=info.options, client=info.client,
                     temporary=info.temporary, **fields)


class Engine(QObject):
    """The engine's public face. Lives in the caller's thread; every call returns at once.

    Signals carry the dataclasses of ``engine.jobs``. ``jobFinished`` fires for a job
    that ran to the end or was cancelled, ``jobFailed`` for one that failed (its
    ``error`` is one line naming the file); both carry the pages that were done.
    """

    stateChanged = Signal(object)  # EngineStatus
    jobQueued = Signal(object)  # JobInfo
    jobStarted = Signal(object)  # JobInfo
    pageStarted = Signal(object)  # PageProgress
    textDelta = Signal(object)  # TextDelta
    pageFinished = Signal(object)  # PageResult
    jobFinished = Signal(object)  # JobResult (done or cancelled)
    jobFailed = Signal(object)  # JobResult (failed)
    jobRejected = Signal(object)  # JobResult (failed, ErrorKind.QUEUE): never queued, the queue was full
    notice = Signal(str)  # something the user should read that is not a job's failure
    engineStopped = Signal()  # the thread stopped after shutdown()

    _toSubmit = Signal(object)
    _toCancel = Signal(object)
    _toUnload = Signal()
    _toMode = Signal(object, object)
    _toModel = Signal(object)
    _toMemoryCheck = Signal(bool)
    _toReport = Signal()
    _toShutdown = Signal()
    _toLoad = Signal(object)

    def __init__(
        self,
        spec: ModelSpec | None = None,
        mode: Mode = DEFAULT_MODE,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        check_memory: bool = True,
        history: HistorySink | None = None,
        backend: Backend | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._history = history
        self._spec = spec or ModelSpec.resolve()
        self._mode, self._idle_timeout_s = Mode(mode), float(idle_timeout_s)
        self._clock = clock
        self._check_memory = check_memory
        self.queue_limit = queue_limit
        self._ids = itertools.count(1)
        self._outstanding: dict[int, _Job] = {}  # submitted and not yet finished
        self._started: set[int] = set()
        self._closing = False
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self.status = EngineStatus(State.UNLOADED, self._mode, self._idle_timeout_s, self._spec.label)
        self._ahead: PagePrefetch | None = None  # a file a drag brought in, its first page prepared (prepare_ahead)
        self._ahead_timer = QTimer(self)
        self._ahead_timer.setSingleShot(True)
        self._ahead_timer.timeout.connect(self._drop_ahead)
        self._start_thread(backend)

    # ------------------------------------------------------------ thread set-up
    def _start_thread(self, backend: Backend | None = None) -> None:
        thread = QThread()
        thread.setObjectName("ocr-engine")
        worker = _Worker(
            self._spec, self._mode, self._idle_timeout_s, self._clock, backend, self._check_memory, self._history
        )
        worker.moveToThread(thread)
        thread.started.connect(worker.started)
        self._toSubmit.connect(worker.submit)
        self._toCancel.connect(worker.cancel)
        self._toUnload.connect(worker.unload_now)
        self._toLoad.connect(worker.load_now)
        self._toMode.connect(worker.set_mode)
        self._toModel.connect(worker.set_model)
        self._toMemoryCheck.connect(worker.set_memory_check)
        self._toReport.connect(worker.report)
        self._toShutdown.connect(worker.shutdown)
        worker.stateChanged.connect(self._on_state)
        worker.jobStarted.connect(self._on_started)
        worker.pageStarted.connect(self.pageStarted)
        worker.textDelta.connect(self.textDelta)
        worker.pageFinished.connect(self.pageFinished)
        worker.jobDone.connect(self._on_done)
        worker.historyError.connect(self.notice)
        thread.finished.connect(self._on_thread_finished)
        entry = (thread, worker)
        _RUNNING.add(entry)
        thread.finished.connect(lambda: _RUNNING.discard(entry), Qt.ConnectionType.DirectConnection)
        self._thread, self._worker = thread, worker
        thread.start()

    def _disconnect_worker(self) -> None:
        for sig in (
            self._toSubmit, self._toCancel, self._toUnload, self._toLoad, self._toMode,
            self._toModel, self._toMemoryCheck, self._toReport, self._toShutdown,
        ):
            try:
                sig.disconnect()
            except (RuntimeError, TypeError):
                pass

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._closing:
            self.engineStopped.emit()
            return
        # The engine thread stopped without being asked to: report it, fail the job it
        # was running, and start a fresh thread for the jobs that wait.
        log.error("the engine thread stopped unexpectedly; restarting it")
        old = self._worker
        self._disconnect_worker()
        running = [self._outstanding[j] for j in list(self._outstanding) if j in self._started]
        waiting = [job for j, job in self._outstanding.items() if j not in self._started]
        for job in running:
            self._on_done(
                _result(
                    job.info, JobStatus.FAILED,
                    error=f"{display_name(job.info.path)}: the OCR engine stopped unexpectedly; try again",
                    error_kind=ErrorKind.ENGINE,
                )
            )
        self.notice.emit("The OCR engine stopped unexpectedly and was restarted.")
        self._start_thread(backend=old.backend if old is not None else None)
        if waiting:
            self._toSubmit.emit(waiting)

    # ---------------------------------------------------------------- requests
    def submit(
        self,
        paths: Iterable[str | os.PathLike],
        options: OcrOptions | None = None,
        *,
        client: Client = Client.WINDOW,
        client_name: str = "",
        temporary: bool = False,
        first: bool = False,
    ) -> list[int]:
        """Queue documents (FIFO). Returns the new job ids; duplicates already queued are skipped.

        ``first``: an interactive job (a screen capture) that jumps the queue: it runs right after the page
        being read now, then the running document goes on (``JobInfo.priority``).

        A document refused because the queue is full is named in ``notice`` and reported as a
        ``jobRejected`` result (``ErrorKind.QUEUE``). ``temporary``: the files are the app's own
        copies (clipboard images, uploads), which their client removes when ``jobFinished``/``jobFailed``
        says the job ended.
        """
        options = options or OcrOptions()
        if self._closing:
            return []
        queued_paths = {
            os.path.realpath(j.info.path) for jid, j in self._outstanding.items() if jid not in self._started
        }
        jobs: list[_Job] = []
        for raw in paths:
            path = os.fspath(raw)
            key = os.path.realpath(path)
            if key in queued_paths:
                self.notice.emit(f"{display_name(path)}: already in the queue")
                continue
            if len(self._outstanding) + len(jobs) >= self.queue_limit:
                message = f"{display_name(path)}: not queued — the queue is full ({self.queue_limit} documents)"
                self.notice.emit(message)
                refused = JobInfo(next(self._ids), path, -1, options, client, client_name, temporary)
                self.jobRejected.emit(_result(refused, JobStatus.FAILED, error=message, error_kind=ErrorKind.QUEUE))
                continue
            queued_paths.add(key)
            position = 0 if first else len(self._outstanding) + len(jobs)
            info = JobInfo(next(self._ids), path, position, options, client, client_name, temporary, priority=first)
            jobs.append(_Job(info))
        ahead, self._ahead = self._ahead, None
        self._ahead_timer.stop()
        if jobs and not self._outstanding:
            # nothing ahead of it: its first page is prepared from now on, even while the engine thread is
            # still loading the model for a prewarm (it sees the job only when that load returns); a drag
            # that brought this file in may have prepared it already (prepare_ahead): start_prefetch keeps it when
            # its file and preparation match, and closes it otherwise
            jobs[0].prefetch, ahead = ahead, None
            jobs[0].start_prefetch(self._spec)
        if ahead is not None:
            ahead.close()
        for job in jobs:
            self._outstanding[job.info.job_id] = job
            self.jobQueued.emit(job.info)
        if jobs:
            self._toSubmit.emit(jobs)
        return [j.info.job_id for j in jobs]

    def prepare_ahead(self, path: str | os.PathLike, options: OcrOptions | None = None) -> None:
        """A drag with this file entered (intent, ADR 0018): its first page is opened and rasterised now, on
        a helper thread, for the job the drop is about to make with ``options``; that job takes it over when
        its file and preparation match. One such file at a time, kept ``AHEAD_KEEP_S`` (a drag that leaves
        often comes back, and finds it still there); only when the queue is empty (behind other documents the
        page would only wait)."""
        path = os.fspath(path)
        args = _prefetch_args(options or OcrOptions(), self._spec)
        if self._ahead is not None and self._ahead.key == PagePrefetch.key_for(path, **args) and not self._closing:
            self._ahead_timer.start(int(AHEAD_KEEP_S * 1000))  # the same drag back again: the same page, kept longer
            return
        self._drop_ahead()
        if self._closing or self._outstanding:
            return
        self._ahead = PagePrefetch(path, **args)
        self._ahead_timer.start(int(AHEAD_KEEP_S * 1000))

    @Slot()
    def _drop_ahead(self) -> None:
        self._ahead_timer.stop()
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None

    def cancel(self, job_id: int | None = None) -> None:
        self._toCancel.emit(job_id)

    def cancel_all(self) -> None:
        self._toCancel.emit(None)

    def unload_now(self) -> None:
        self._toUnload.emit()

    def load_now(self, keep_alive: float | None = None) -> None:
        """Load the model now, with a hold of ``keep_alive`` seconds; None: a prewarm, held for the job it
        announces and then released by the memory mode as if that job had ended (ADR 0018)."""
        self._toLoad.emit(keep_alive)

    def set_mode(self, mode: Mode, idle_timeout_s: float | None = None) -> None:
        self._mode = Mode(mode)
        if idle_timeout_s is not None:
            self._idle_timeout_s = float(idle_timeout_s)
        self._toMode.emit(self._mode, idle_timeout_s)

    def set_model(self, spec: ModelSpec) -> None:
        self._spec = spec
        self._toModel.emit(spec)

    def set_memory_check(self, on: bool) -> None:
        self._check_memory = on
        self._toMemoryCheck.emit(on)

    def request_status(self) -> None:
        self._toReport.emit()

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def busy(self) -> bool:
        return bool(self._outstanding)

    def outstanding(self) -> int:
        return len(self._outstanding)

    def room(self) -> int:
        """How many more documents the queue takes now."""
        return max(0, self.queue_limit - len(self._outstanding))

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Cancel every job, unload, and join the engine thread. Waits at most ``timeout_s``."""
        if self._thread is None:
            return True
        self._closing = True
        self._drop_ahead()
        self._toShutdown.emit()
        ok = self._thread.wait(int(timeout_s * 1000))
        if not ok:
            log.error("the engine thread did not stop within %.1f s", timeout_s)
        else:
            QCoreApplication.sendPostedEvents(self)  # deliver what the worker said last
            self._disconnect_worker()
            self._thread = None
        return ok

    # ------------------------------------------------------------ from worker
    @Slot(object)
    def _on_state(self, status: EngineStatus) -> None:
        self.status = status
        self.stateChanged.emit(status)

    @Slot(object)
    def _on_started(self, info: JobInfo) -> None:
        self._started.add(info.job_id)
        self.jobStarted.emit(info)

    @Slot(object)
    def _on_done(self, result: JobResult) -> None:
        if self._outstanding.pop(result.job_id, None) is None:
            return  # already reported (a restart raced the worker)
        self._started.discard(result.job_id)
        if result.status is JobStatus.FAILED:
            self.jobFailed.emit(result)
        else:
            self.jobFinished.emit(result)


@atexit.register
def _stop_abandoned_threads() -> None:
    """Engines dropped without shutdown(): stop their threads before Python tears Qt down."""
    for thread, worker in list(_RUNNING):
        QMetaObject.invokeMethod(worker, "shutdown", Qt.ConnectionType.QueuedConnection)
        thread.wait(int(SHUTDOWN_TIMEOUT_S * 1000))
