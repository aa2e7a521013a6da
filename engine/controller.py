"""The job controller: one way in for every client (window, tray, clipboard, history, CLI, local API, capture).

It owns submission: folders are expanded and files sniffed off the caller's thread, each job
carries its options and its client (``engine.jobs.JobInfo``), a job that failed for want of a
password or of a model is kept for ``retry``, the app's own temporary files (clipboard images,
captures, uploads) are removed when their job ends for good, and the settings are applied to
the engine as they change. Clients listen to one fan-out of what the engine reports.

QtCore only (no widgets), so the local API and the headless CLI use it as the window does; see
docs/adr/0012-job-controller.md. Nothing here waits: every call returns at once.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from . import background, documents, paths
from .engine_thread import Engine
from .formats import tasks_for
from .human import one_line
from .jobs import Client, EngineStatus, ErrorKind, JobInfo, JobResult, JobStatus, OcrOptions, PageResult, TextLayer
from .page_formats import resolve_task, with_output
from .settings import DEFAULT_TASK, Settings

log = logging.getLogger(__name__)

MEMORY_KEYS = ("memory/mode", "memory/idle_minutes")
MODEL_KEYS = ("model/preset", "model/custom_source", "model/custom_prompt")


class JobController(QObject):
    statusChanged = Signal(object)  # EngineStatus
    jobQueued = Signal(object)  # JobInfo
    jobStarted = Signal(object)  # JobInfo
    pageStarted = Signal(object)  # PageProgress
    textDelta = Signal(object)  # TextDelta
    pageFinished = Signal(object)  # PageResult
    jobEnded = Signal(object)  # JobResult of any status, once the controller has dealt with it
    jobAbandoned = Signal(object)  # JobResult: a held failure that will not be retried after all
    message = Signal(str)  # one line for the person: a file left out, a notice
    submissionsSettled = Signal()  # every ``submit`` has reached the engine's queue (or was refused)

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        history: Any = None,
        *,
        idle_seconds: float | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.settings = settings
        self.history = history
        self._idle_seconds = idle_seconds
        self._closing = False
        self._held: dict[int, JobResult] = {}  # failed jobs kept for a retry (their temporary files too)
        self._offers: dict[ErrorKind, Callable[[JobResult], bool]] = {}
        self._temp_dirs: list[Path] = []
        self._outputs: dict[int, str] = {}  # job id -> the format of its model's answers (its options' output)
        self._submitting = 0  # ``submit`` calls whose files are still being expanded off this thread
        engine.stateChanged.connect(self.statusChanged)
        engine.jobQueued.connect(self._on_queued)
        engine.jobStarted.connect(self.jobStarted)
        engine.pageStarted.connect(self.pageStarted)
        engine.textDelta.connect(self.textDelta)
        engine.pageFinished.connect(self._on_page_finished)
        engine.jobFinished.connect(self._on_ended)
        engine.jobFailed.connect(self._on_ended)
        engine.jobRejected.connect(self._on_ended)
        engine.notice.connect(self.message)
        if settings is not None:
            settings.changed.connect(self._on_setting)

    # ----------------------------------------------------------------- engine set-up from settings
    @classmethod
    def engine_for(
        cls, settings: Settings, history: Any = None, idle_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Engine:
        """An engine configured from the saved settings (``clock``: its wall clock; tests step it)."""
        mode, idle = settings.mode()
        return Engine(
            settings.model_spec(), mode, idle if idle_seconds is None else idle_seconds, clock=clock,
            check_memory=bool(settings.get("memory/check_fit")),
            history=HistoryFilter(history) if history is not None else None,
        )

    def _on_setting(self, key: str, _value: Any) -> None:
        settings = self.settings
        assert settings is not None
        if key in MEMORY_KEYS:
            mode, idle = settings.mode()
            self.engine.set_mode(mode, idle if self._idle_seconds is None else self._idle_seconds)
        elif key in MODEL_KEYS:
            self.engine.set_model(settings.model_spec())
            tasks = tasks_for(settings.get("model/preset"))
            if tasks and settings.get("ocr/task") not in (DEFAULT_TASK, *(t.id for t in tasks)):
                settings.set("ocr/task", DEFAULT_TASK)  # a task the new model does not have: its default task
        elif key == "memory/check_fit":
            self.engine.set_memory_check(bool(settings.get(key)))
        elif key == "history/keep" and self.history is not None:
            self.history.set_keep(settings.get(key))

    # ----------------------------------------------------------------- submitting
    @property
    def status(self) -> EngineStatus:
        return self.engine.status

    def default_options(self) -> OcrOptions:
        return self.settings.ocr_options() if self.settings is not None else OcrOptions()

    def submit(
        self,
        sources: Iterable[str | os.PathLike],
        options: OcrOptions | None = None,
        *,
        client: Client = Client.WINDOW,
        client_name: str = "",
    ) -> None:
        """Files and folders from a person: expanded and checked off this thread, then queued.

        Each file or folder left out is named in ``message`` (one line each)."""
        given = [os.path.abspath(os.fspath(p)) for p in sources]
        if not given or self._closing:
            return
        options = options or self.default_options()
        self._submitting += 1
        background.run_in_background(
            lambda: expand_and_check(given),
            lambda found, error: self._queued(found, error, options, client, client_name),
        )

    @property
    def submitting(self) -> bool:
        """Files given to ``submit`` are still being expanded and checked: jobs are about to be queued."""
        return self._submitting > 0

    def _queued(self, found, error: BaseException | None, options: OcrOptions, client: Client, name: str) -> None:
        try:
            self._queue(found, error, options, client, name)
        finally:
            self._submitting -= 1
            if not self._submitting:
                self.submissionsSettled.emit()

    def _queue(self, found, error: BaseException | None, options: OcrOptions, client: Client, name: str) -> None:
        if self._closing:
            return
        if error is not None:
            self.message.emit(f"The dropped files could not be read ({one_line(error)})")
            return
        files, problems = found
        for problem in problems:
            self.message.emit(str(problem))
        self.submit_files(files, options, client=client, client_name=name)

    def submit_files(
        self,
        files: Sequence[str | os.PathLike],
        options: OcrOptions | None = None,
        *,
        client: Client = Client.WINDOW,
        client_name: str = "",
        temporary: bool = False,
        first: bool = False,
    ) -> list[int]:
        """Queue files as they are (no folder walk); the job ids. ``temporary``: the files are the app's own
        copies, removed when their job ends for good. ``first``: interactive (a screen capture): it runs right
        after the page being read now (``Engine.submit``)."""
        if self._closing:
            for f in files if temporary else ():
                _remove(os.fspath(f))
            return []
        options = resolve_task(options or self.default_options(), self._spec())
        jump = {"first": True} if first else {}
        if not temporary:
            return self.engine.submit(files, options, client=client, client_name=client_name, **jump)
        ids: list[int] = []
        for f in files:  # one at a time, so a file the queue refuses (full) is known and removed
            got = self.engine.submit([f], options, client=client, client_name=client_name, temporary=True, **jump)
            if not got:
                _remove(os.fspath(f))
            ids += got
        return ids

    def _spec(self) -> Any:
        """The model the next job is read with (its tasks decide the prompt and the answer format)."""
        spec = getattr(self.engine, "spec", None)
        if spec is None and self.settings is not None:
            spec = self.settings.model_spec()
        return spec

    def temp_dir(self, kind: str) -> Path:
        """A private folder (0700) for this process's temporary files of one kind; removed at shutdown."""
        folder = paths.new_temp_dir(kind)
        self._temp_dirs.append(folder)
        return folder

    def reread(self, path: str, page: int, text_layer: TextLayer, history_id: int | None = None) -> list[int]:
        """Read one page again: with the model (a text layer the person does not trust) or from its text
        layer (one the check rejected), into the document's history record when there is one."""
        options = replace(self.default_options(), pages=frozenset({page}), text_layer=text_layer,
                          history_id=history_id)
        return self.submit_files([path], options)

    # ----------------------------------------------------------------- retries
    def set_retry_offer(self, kind: ErrorKind, offer: Callable[[JobResult], bool]) -> None:
        """``offer(result)`` is called for a job that failed with ``kind`` (a password prompt, a download
        offer); when it returns True the job is held until ``retry`` or ``abandon``."""
        self._offers[kind] = offer

    def holds(self, result: JobResult) -> bool:
        """Whether a failed job is held for a retry (someone is asking the person about it)."""
        return result.job_id in self._held

    def retry(self, result: JobResult, password: str | None = None) -> list[int]:
        """Submit a held job again (after a password or a finished download), with its own options. A job
        that read some pages already (its text layer, while the model was missing) reads only the others,
        into the same history record."""
        self._held.pop(result.job_id, None)
        options = replace(result.options, password=password) if password is not None else result.options
        if result.pages and result.missing_pages:
            options = replace(options, pages=result.missing_pages, history_id=result.history_id)
        return self.submit_files([result.path], options, client=result.client, temporary=result.temporary)

    def abandon(self, result: JobResult) -> None:
        """A held job will not be retried: its temporary file goes."""
        self._held.pop(result.job_id, None)
        if result.temporary:
            _remove(result.path)
        self.jobAbandoned.emit(result)

    # ----------------------------------------------------------------- engine pass-through
    def cancel(self, job_id: int) -> None:
        self.engine.cancel(job_id)

    def cancel_all(self) -> None:
        self.engine.cancel_all()

    def unload_now(self) -> None:
        self.engine.unload_now()

    def load_now(self, keep_alive: float | None = None) -> None:
        """Load the model now; ``keep_alive`` as a job's (None: a prewarm, as ``prewarm``)."""
        if not self._closing:
            self.engine.load_now(keep_alive)

    def prewarm(self, files: Sequence[str | os.PathLike] = ()) -> None:
        """Intent seen, before the request: a drag with usable files entered the window, "OCR File…" opened its
        dialog, the clipboard action was chosen, the capture shortcut was pressed. The model starts loading now
        when it is unloaded (the engine still checks that it fits, ``memory/check_fit``), and is held for the
        job that intent announces for at most ``lifecycle.PREWARM_WAIT_S``; when none comes, the memory mode
        releases it as if that job had ended (docs/adr/0018-prewarm-on-intent.md).

        ``files``: what the drag holds, when known; the first one's first page is prepared now too, for the
        job its drop makes with this controller's options (``Engine.prepare_ahead``)."""
        self.load_now(None)
        if files and not self._closing:
            options = resolve_task(self.default_options(), self._spec())
            self.engine.prepare_ahead(os.path.abspath(os.fspath(files[0])), options)

    def room(self) -> int:
        """How many more documents the queue takes now (0: a submission is refused as full)."""
        return 0 if self._closing else self.engine.room()

    def request_status(self) -> None:
        self.engine.request_status()

    @property
    def busy(self) -> bool:
        return self.engine.busy

    # ----------------------------------------------------------------- results
    def _on_queued(self, info: JobInfo) -> None:
        self._outputs[info.job_id] = info.options.output
        self.jobQueued.emit(info)

    def _on_page_finished(self, page: PageResult) -> None:
        """Each page goes out with the format of its text (``PageResult.output``), for every client."""
        self.pageFinished.emit(with_output(page, self._outputs.get(page.job_id, "")))

    def _on_ended(self, result: JobResult) -> None:
        output = self._outputs.pop(result.job_id, result.options.output)
        if result.pages:
            result = replace(result, pages=tuple(with_output(p, output) for p in result.pages))
        log.info("job %d %s: %d of %d page(s) in %.1f s%s", result.job_id, result.status.value, len(result.pages),
                 result.page_count, result.seconds, f" ({result.error_kind.value})" if result.error_kind else "")
        offer = self._offers.get(result.error_kind) if result.error_kind is not None else None
        # an API client gets its error back: no question is asked in the window on its behalf
        if result.status is JobStatus.FAILED and offer is not None and not self._closing \
                and result.client is not Client.API:
            self._held[result.job_id] = result  # held first: the offer may retry at once
            if not offer(result):
                self._held.pop(result.job_id, None)
        if result.temporary and not self.holds(result):
            _remove(result.path)
        self.jobEnded.emit(result)

    # ----------------------------------------------------------------- shutdown
    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Stop taking jobs, let disk chores end (bounded), stop the engine, remove the temporary files."""
        if self._closing:
            return True
        self._closing = True
        if not background.wait(2.0):
            log.warning("a background chore was still running at quit")
        ok = self.engine.shutdown(timeout_s)
        if not ok:
            log.error("the engine did not stop in time")
        for result in list(self._held.values()):
            self.abandon(result)
        for folder in self._temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        self._temp_dirs.clear()
        return ok


class HistoryFilter:
    """The history sink the engine writes to, less the jobs whose options say ``record_history=False``
    (API jobs when the user keeps them out of the history)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._skipped = -1  # records handed out for skipped documents: negative, never a real id

    def start_document(self, path: str, pages: int, model: str, history_id: int | None = None,
                       options: OcrOptions | None = None, model_source: str = "") -> int:
        if options is not None and not options.record_history:
            self._skipped -= 1
            return self._skipped
        return int(self.store.start_document(path, pages, model, history_id, options, model_source))

    def add_page(self, record: int, page: Any) -> None:
        if record >= 0:
            self.store.add_page(record, page)

    def finish_document(self, record: int, status: JobStatus, error: str | None = None,
                        kind: ErrorKind | None = None) -> None:
        if record >= 0:
            self.store.finish_document(record, status, error, kind)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def expand_and_check(sources: list[str]) -> tuple[list[str], list[documents.DocumentError]]:
    """Folders to files, and each file's type checked by its bytes (pool thread: disk only, no MLX)."""
    files, problems = documents.expand(sources)
    readable = []
    for path in files:
        try:
            documents.sniff(path)
        except documents.DocumentError as e:
            problems.append(e)
            continue
        readable.append(path)
    return readable, problems


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("a temporary file could not be removed (%s)", type(e).__name__)


__all__ = ["JobController", "JobInfo", "expand_and_check"]
