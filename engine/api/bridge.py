"""The bridge between the server's asyncio loop and the GUI thread, where the ``JobController`` lives.

Requests go in through one queued signal (``post``): the slot runs in the GUI thread and calls the
controller. What the engine reports comes back per job through a ``JobStream``: a bounded queue the
GUI thread fills without ever blocking (``put_nowait``), plus ``loop.call_soon_threadsafe`` to wake the
request's coroutine. A client that reads too slowly fills its stream: its job is cancelled and the
stream ends, so the GUI never buffers for a client without bound and never waits on one.

The server thread reads only immutable snapshots published here (the last ``EngineStatus``, the
settings' values): it never touches the engine, a QObject or MLX.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from engine.jobs import Client, EngineStatus, ErrorKind, JobInfo, JobResult, JobStatus, PageProgress, PageResult
from engine.jobs import TextDelta as TextDeltaEvent

log = logging.getLogger(__name__)

STREAM_LIMIT = 4096  # events buffered for one request before its client counts as stuck (job cancelled)
CALL_TIMEOUT_S = 30.0  # a request waits this long at most for the GUI thread to take it

# event names, in the engine's order: one job's stream is queued → started → (page.started → text.delta* →
# page.done)* → done; "rejected" and "duplicate" end a stream that never got a job; "closed" = the app quits
QUEUED, STARTED, PAGE_STARTED, DELTA, PAGE_DONE, DONE = "job.queued", "job.started", "page.started", "text.delta", \
    "page.done", "job.done"
REJECTED, DUPLICATE, CLOSED = "rejected", "duplicate", "closed"


@dataclass
class JobStream:
    """One request's events, carried from the GUI thread to the loop. Bounded; the GUI side never blocks."""

    loop: asyncio.AbstractEventLoop
    deltas: bool = True  # forward text deltas (a streamed answer); a whole-document answer needs none
    limit: int = STREAM_LIMIT
    job_id: int | None = None
    overflowed: bool = False
    upload_dir: Path | None = None  # the private folder of an uploaded file, removed when its job ends
    _queue: queue.Queue = field(init=False)
    _wake: asyncio.Event = field(init=False)

    def __post_init__(self) -> None:
        self._queue = queue.Queue(self.limit)
        self._wake = asyncio.Event()  # made in the loop's thread, used only there

    # --------------------------------------------------------------- GUI thread
    def push(self, name: str, payload: Any = None) -> bool:
        """Add an event without blocking; False when the stream is full (the client is not reading)."""
        try:
            self._queue.put_nowait((name, payload))
        except queue.Full:
            self.overflowed = True
            self._notify()
            return False
        self._notify()
        return True

    def _notify(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the loop is closed: the server stopped
            pass

    # ------------------------------------------------------------- loop thread
    async def next(self, timeout: float) -> tuple[str, Any]:
        """The next event; TimeoutError after ``timeout`` seconds without one; ``("overflow", None)`` when
        the GUI dropped this stream because it was full."""
        while True:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                pass
            if self.overflowed:
                return ("overflow", None)
            self._wake.clear()
            try:  # an event may have arrived between the check and the clear
                return self._queue.get_nowait()
            except queue.Empty:
                pass
            await asyncio.wait_for(self._wake.wait(), timeout)


class ApiBridge(QObject):
    """Lives in the GUI thread. ``post`` (any thread) runs a callable here; events fan out to streams."""

    _call = Signal(object)

    def __init__(self, controller: Any, settings: Any = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self._streams: dict[int, JobStream] = {}
        self._uploads: dict[int, Path] = {}
        self._claiming: JobStream | None = None
        self._status_waiters: list[Callable[[EngineStatus], None]] = []
        self._closed = False
        self._count_lock = threading.Lock()
        self.received = 0  # submissions handed over by the server thread so far (a figure for tests and benches)
        self.status: EngineStatus = controller.status  # immutable; replaced, never changed
        self.values: dict[str, Any] = dict(settings.values()) if settings is not None else {}
        self.spec = controller.engine.spec
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)
        controller.statusChanged.connect(self._on_status)
        controller.jobQueued.connect(self._on_queued)
        controller.jobStarted.connect(self._on_started)
        controller.pageStarted.connect(self._on_page_started)
        controller.textDelta.connect(self._on_delta)
        controller.pageFinished.connect(self._on_page)
        controller.jobEnded.connect(self._on_ended)
        if settings is not None:
            settings.changed.connect(self._on_setting)

    # ------------------------------------------------------------------ any thread
    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` in the GUI thread, soon; never waits."""
        self._call.emit(fn)

    async def call(self, fn: Callable[[], Any], timeout: float = CALL_TIMEOUT_S) -> Any:
        """Run ``fn()`` in the GUI thread and await its result (loop thread); bounded by ``timeout``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()

        def run() -> None:
            try:
                result, error = fn(), None
            except Exception as e:  # handed back to the request, which answers with it
                result, error = None, e
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, future, result, error)

        self.post(run)
        return await asyncio.wait_for(future, timeout)

    async def fresh_status(self, timeout: float = 2.0) -> EngineStatus:
        """A status the engine reports after this call (fresh memory figures); the last one if it is slow."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()

        def waiter(status: EngineStatus) -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, status, None)

        def ask() -> None:
            self._status_waiters.append(waiter)
            self.controller.request_status()

        self.post(ask)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return self.status

    def submit(self, stream: JobStream, path: str, options: Any, client_name: str, temporary: bool) -> None:
        """Queue one file for ``stream`` (loop thread); its events, or its refusal, arrive on the stream."""
        with self._count_lock:
            self.received += 1
        self.post(lambda: self._submit(stream, path, options, client_name, temporary))

    def cancel(self, stream: JobStream) -> None:
        """The client went away: cancel its job if it has not ended (loop thread)."""
        self.post(lambda: self._cancel(stream))

    # ------------------------------------------------------------------ GUI thread
    @Slot(object)
    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:
            log.exception("a local API request failed in the GUI thread")

    def _submit(self, stream: JobStream, path: str, options: Any, name: str, temporary: bool) -> None:
        if self._closed:
            if temporary:
                _remove_tree(stream.upload_dir)
            stream.push(CLOSED)
            return
        self._claiming = stream
        try:
            ids = self.controller.submit_files([path], options, client=Client.API, client_name=name,
                                               temporary=temporary)
        finally:
            self._claiming = None
        if ids:
            if stream.upload_dir is not None:
                self._uploads[ids[0]] = stream.upload_dir
        else:
            if stream.upload_dir is not None:
                _remove_tree(stream.upload_dir)  # refused: the controller removed the file, this its folder
            if stream.job_id is None:  # neither queued nor refused as full: the engine skipped a duplicate
                stream.push(DUPLICATE)

    def _cancel(self, stream: JobStream) -> None:
        if stream.job_id is not None and stream.job_id in self._streams:
            self._streams.pop(stream.job_id, None)
            self.controller.cancel(stream.job_id)

    def _forward(self, job_id: int, name: str, payload: Any) -> None:
        stream = self._streams.get(job_id)
        if stream is None:
            return
        if name == DELTA and not stream.deltas:
            return
        if not stream.push(name, payload):  # a client that does not read: stop buffering, cancel its job
            log.warning("local API client too slow for job %d; its job is cancelled", job_id)
            self._streams.pop(job_id, None)
            self.controller.cancel(job_id)

    @Slot(object)
    def _on_status(self, status: EngineStatus) -> None:
        self.status = status
        waiters, self._status_waiters = self._status_waiters, []
        for waiter in waiters:
            waiter(status)

    @Slot(object)
    def _on_queued(self, info: JobInfo) -> None:
        if self._claiming is not None and self._claiming.job_id is None:
            self._claiming.job_id = info.job_id
            self._streams[info.job_id] = self._claiming
        self._forward(info.job_id, QUEUED, info)

    @Slot(object)
    def _on_started(self, info: JobInfo) -> None:
        self._forward(info.job_id, STARTED, info)

    @Slot(object)
    def _on_page_started(self, progress: PageProgress) -> None:
        self._forward(progress.job_id, PAGE_STARTED, progress)

    @Slot(object)
    def _on_delta(self, delta: TextDeltaEvent) -> None:
        self._forward(delta.job_id, DELTA, delta)

    @Slot(object)
    def _on_page(self, page: PageResult) -> None:
        self._forward(page.job_id, PAGE_DONE, page)

    @Slot(object)
    def _on_ended(self, result: JobResult) -> None:
        claiming = self._claiming
        if claiming is not None and claiming.job_id is None and result.error_kind is ErrorKind.QUEUE \
                and result.status is JobStatus.FAILED:
            claiming.job_id = result.job_id  # refused at once: the queue is full
            claiming.push(REJECTED, result)
            return
        _remove_tree(self._uploads.pop(result.job_id, None))  # the file went with the job; now its folder
        stream = self._streams.pop(result.job_id, None)
        if stream is not None:
            stream.push(DONE, result)

    def _on_setting(self, key: str, value: Any) -> None:
        values = dict(self.values)
        values[key] = value
        self.values = values
        self.spec = self.controller.engine.spec

    def close(self) -> None:
        """The app quits: every open request ends now, and no new job is taken."""
        self._closed = True
        streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.push(CLOSED)

    @property
    def closed(self) -> bool:
        return self._closed

    def api_jobs(self) -> int:
        """API jobs submitted and not yet ended (GUI thread)."""
        return len(self._streams)


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _remove_tree(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
