"""One ``ocr-tray ocr`` run in this process: the engine, the job controller, the output, Ctrl+C and the
offer to download a missing model.

- Text and JSON go to ``Output`` (stdout or ``-o FILE``); notes, errors and progress to ``Console``
  (stderr). Progress shows only on a terminal, and never with ``--quiet``.
- Ctrl+C cancels every job; pages already finished are complete on the output and in the history,
  the page being read is marked as interrupted, and the run ends with exit code 130 and the
  command that resumes it, within two seconds even while a model is loading. A second Ctrl+C
  ends at once.
- A model that is not downloaded does not stop the pages that need none (a PDF's text layer);
  the others are offered: on a terminal the person is asked (``[y/N]``), ``--pull`` downloads
  without asking, and after the download only the missing pages are read, into the same history
  record.

Exit codes: 0 every document read; 1 something failed or was left out; 2 a usage error; 130 interrupted.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer

from engine.controller import JobController
from engine.documents import expand
from engine.engine_thread import Engine
from engine.interrupts import on_signals
from engine.jobs import Client, EngineStatus, ErrorKind, JobResult, JobStatus, OcrOptions, PageProgress
from engine.lifecycle import Mode, State
from engine.models.presets import ModelSpec, find_preset
from engine.models.store import is_repo_id

from .output import Console, Output

INTERRUPT_GRACE_MS = 1500  # after Ctrl+C, the engine has this long to stop before the process ends anyway
EXIT_INTERRUPTED = 130


class OcrSession(QObject):
    def __init__(
        self,
        spec: ModelSpec,
        options: OcrOptions,
        *,
        check_memory: bool = True,
        history: Any = None,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        as_json: bool = False,
        quiet: bool = False,
        pull: bool = False,
        ask: Callable[[str], bool] | None = None,
        client: Client = Client.CLI,
    ) -> None:
        app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
        super().__init__()
        self.app = app
        self.spec, self.options = spec, options
        self.output = Output(out or sys.stdout, as_json)
        self.console = Console(err or sys.stderr, quiet)
        self.pull = pull
        self.ask = ask
        self.client = client
        self.progress_line = self.console.tty and (as_json or not _is_tty(out or sys.stdout))
        self.controller = JobController(Engine(spec, Mode.KEEP_RESIDENT, check_memory=check_memory, history=history))
        self.failures = 0
        self.left = 0
        self.interrupted = False
        self.reader_gone = False  # stdout's reader closed the pipe (`| head`): stop quietly, exit 0
        self.resumable: list[int] = []  # history ids of documents cut short
        self.waiting_for_model: list[JobResult] = []
        self._loading_said = False
        self._wire()

    # ------------------------------------------------------------------ the run
    def run(self, paths: Sequence[str]) -> int:
        files, problems = expand(paths)
        for problem in problems:
            if getattr(problem, "skipped", False):  # a file in a folder that is no document: left out, said so
                self.console.note(str(problem))
            else:
                self.failures += 1
                self.console.error(str(problem))
        notifier = on_signals(self, self._on_signal, (signal.SIGINT,))
        try:
            self._wait_for(self.controller.submit_files(files, self.options, client=self.client))
            if self.waiting_for_model and not self.interrupted and not self.reader_gone:
                self._offer_the_model()
        finally:
            if notifier is not None:
                notifier.setEnabled(False)
                signal.signal(signal.SIGINT, signal.default_int_handler)
            self.console.clear_status()
            self._stop()
        if self.reader_gone:
            return 0
        if self.interrupted:
            hint = f" — resume with `ocr-tray history resume {self.resumable[0]}`" if self.resumable else ""
            self.console.say(f"interrupted{hint}")
            return EXIT_INTERRUPTED
        return 1 if self.failures else 0

    def _wait_for(self, ids: list[int]) -> None:
        self.left += len(ids)
        if self.left > 0:
            self.app.exec()

    def _stop(self) -> None:
        if not self.controller.shutdown(2.0):  # a load that does not stop: the history is committed already
            self._exit_now()

    def _exit_now(self) -> None:
        self.console.clear_status()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(EXIT_INTERRUPTED if self.interrupted else 1)

    # ------------------------------------------------------------------ engine events
    def _wire(self) -> None:
        c = self.controller
        c.pageStarted.connect(self._on_page_started)
        c.textDelta.connect(lambda d: self.output.text(d.text))
        c.pageFinished.connect(self._on_page_finished)
        c.jobEnded.connect(self._on_job_ended)
        c.message.connect(self.console.note)
        c.statusChanged.connect(self._on_status)
        c.set_retry_offer(ErrorKind.MODEL_MISSING, self._hold_for_the_model)

    def _on_status(self, status: EngineStatus) -> None:
        if status.state is State.LOADING and not self._loading_said:
            self._loading_said = True
            if self.progress_line:
                self.console.status(f"loading {status.model_label}…", every_s=0)
            elif self.console.tty:
                self.console.say(f"loading {status.model_label}…")

    def _on_page_started(self, p: PageProgress) -> None:
        if self.progress_line:
            self.console.status(f"{os.path.basename(p.path)} · page {p.page} of {p.pages}", every_s=0)
        self.output.page_started(p.path, p.page, p.pages)

    def _on_page_finished(self, result) -> None:
        self.output.page_done(result)
        if self.output.closed and not self.reader_gone:  # the reader went away (`| head`): stop quietly
            self.reader_gone = True
            self.controller.cancel_all()

    def _on_job_ended(self, r: JobResult) -> None:
        if self.controller.holds(r):
            self.waiting_for_model.append(r)  # offered once every document has been through
        elif r.status is JobStatus.CANCELLED and self.reader_gone:
            pass
        elif r.status is JobStatus.CANCELLED and self.interrupted:
            self.output.cut("interrupted")
            if r.history_id is not None and r.missing_pages:
                self.resumable.append(r.history_id)
        elif r.status is not JobStatus.DONE:
            self.failures += 1
            message = r.error or f"{os.path.basename(r.path)}: cancelled"
            if r.error_kind is ErrorKind.PASSWORD and r.options.password is None:
                message += " (give it with --password)"
            self.console.error(message)
        if r.error_kind is ErrorKind.QUEUE:
            return  # never queued: not one of the jobs waited for
        self.left -= 1
        if self.left <= 0:
            QTimer.singleShot(0, self.app.quit)

    # ------------------------------------------------------------------ Ctrl+C
    def _on_signal(self, _signum: int) -> None:
        if self.interrupted:
            self._exit_now()  # a second Ctrl+C: at once
        self.interrupted = True
        self.console.clear_status()
        self.controller.cancel_all()
        QTimer.singleShot(INTERRUPT_GRACE_MS, self._grace_over)

    def _grace_over(self) -> None:
        if self.left > 0:  # the engine is inside a load and cannot stop between tokens
            self.output.cut("interrupted")
            self.console.say("interrupted")
            self._exit_now()

    # ------------------------------------------------------------------ a missing model
    def _hold_for_the_model(self, result: JobResult) -> bool:
        return is_repo_id(self.spec.source) and (self.pull or self.ask is not None)

    def _offer_the_model(self) -> None:
        held, self.waiting_for_model = self.waiting_for_model, []
        repo = self.spec.source
        pages = sum(len(r.missing_pages) or 1 for r in held)
        found = find_preset(repo)
        about = f" (about {_size(found.approx_bytes)})" if found is not None else ""
        question = f"{self.spec.label} is not downloaded yet{about}; {pages} page(s) need it. Download it now?"
        if self.pull or (self.ask is not None and self.ask(question)):
            from . import models

            self.console.clear_status()
            code = models.pull(repo, err=self.console.stream, out=self.console.stream)
            if code == 0:
                ids: list[int] = []
                for result in held:
                    ids += self.controller.retry(result)
                self._wait_for(ids)
                return
            if code == EXIT_INTERRUPTED:
                self.interrupted = True
        for result in held:
            self.controller.abandon(result)
            self.failures += 1
            self.console.error(result.error or f"{os.path.basename(result.path)}: the model is missing")
        resume = " then `ocr-tray history resume N`" if any(r.history_id for r in held) else ""
        self.console.note(f"download it with `ocr-tray models pull {repo}`{resume}, or run again with --pull")


def ask_on_terminal(question: str) -> bool:
    """``[y/N]`` on the terminal; no when there is none to ask on."""
    if not (_is_tty(sys.stdin) and _is_tty(sys.stderr)):
        return False
    try:
        sys.stderr.write(f"{question} [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _size(n: int) -> str:
    from engine.human import size_text

    return size_text(n)
